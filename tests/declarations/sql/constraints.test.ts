// Bad rows are refused: per table group at least one foreign-key, one CHECK and one unique
// violation, each named by its constraint; and the ON DELETE rules do what they say.
import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabase, rolledBack, type FreshDatabase } from "../../helpers/pg";
import { applyMigrations, loadSeeds, SEED_ENGINES, SEED_USERS } from "../../helpers/sql";

const FK = "23503";
const CHECK = "23514";
const UNIQUE = "23505";

const { alice: ALICE, bob: BOB, dave: DAVE } = SEED_USERS;
const CLAMAV = SEED_ENGINES.clamav;
const B1 = "40000000-0000-4000-8000-000000000001";
const B4 = "40000000-0000-4000-8000-000000000004";
const NOBODY = "00000000-0000-4000-8000-00000000dead";
const LOCAL_NET = "(SELECT id FROM blockchain_networks WHERE chain_id = 31337)";
const HASH = `'0x${"ab".repeat(32)}'`;

interface BadRow {
  what: string;
  sql: string;
  code: string;
  constraint?: string;
}

const GROUPS: Record<string, BadRow[]> = {
  "001 users and engines": [
    { what: "engine of an unknown owner", code: FK, constraint: "engines_owner_id_fkey",
      sql: `INSERT INTO engines (owner_id, name, slug, engine_type) VALUES ('${NOBODY}', 'Ghost', 'ghost', 'human')` },
    { what: "API key in an unknown tier", code: FK, constraint: "api_keys_tier_code_fkey",
      sql: `INSERT INTO api_keys (user_id, name, key_prefix, key_hash, tier_code)
            VALUES ('${DAVE}', 'k', 'nxs_zzzz0001', repeat('a', 64), 'platinum')` },
    { what: "malformed e-mail", code: CHECK, constraint: "users_email_format",
      sql: `INSERT INTO users (username, email, password_hash) SELECT 'mallory', 'not-an-email', password_hash FROM users LIMIT 1` },
    { what: "password stored in plain text", code: CHECK, constraint: "users_password_hash_bcrypt",
      sql: `INSERT INTO users (username, email, password_hash) VALUES ('mallory', 'm@example.test', 'TestPassword123!')` },
    { what: "automated engine without endpoint", code: CHECK, constraint: "engines_automated_has_endpoint",
      sql: `INSERT INTO engines (owner_id, name, slug, engine_type) VALUES ('${BOB}', 'Bot', 'bot', 'automated')` },
    { what: "API key with an unknown scope", code: CHECK, constraint: "api_keys_scopes_check",
      sql: `INSERT INTO api_keys (user_id, name, key_prefix, key_hash, tier_code, scopes)
            VALUES ('${DAVE}', 'k', 'nxs_zzzz0001', repeat('a', 64), 'free', '{root}')` },
    { what: "URL submission without URL", code: CHECK, constraint: "submissions_target_matches_type",
      sql: `INSERT INTO submissions (submitter_id, submission_type) VALUES ('${DAVE}', 'url')` },
    { what: "e-mail taken, in other letter case", code: UNIQUE, constraint: "users_email_live_key",
      sql: `INSERT INTO users (username, email, password_hash) SELECT 'alice2', 'ALICE@Nexus-Security.test', password_hash FROM users LIMIT 1` },
    { what: "same sample stored twice", code: UNIQUE, constraint: "file_artifacts_sha256_key",
      sql: `INSERT INTO file_artifacts (sha256, sha1, md5, file_size_bytes, file_kind, storage_uri)
            SELECT sha256, sha1, md5, 1, 'pe', 's3://x' FROM file_artifacts LIMIT 1` },
  ],
  "002 bounty system": [
    { what: "participation of an unknown engine", code: FK, constraint: "bounty_participations_engine_id_fkey",
      sql: `INSERT INTO bounty_participations (bounty_id, engine_id, staker_id, stake_amount) VALUES ('${B4}', '${NOBODY}', '${BOB}', 20)` },
    { what: "result naming another bounty than its participation", code: FK, constraint: "analysis_results_participation_fkey",
      sql: `INSERT INTO analysis_results (participation_id, bounty_id, engine_id, verdict, confidence)
            VALUES ('41000000-0000-4000-8000-000000000045', '${B1}', '20000000-0000-4000-8000-000000000005', 'benign', 0.5)` },
    { what: "bounty without reward", code: CHECK, constraint: "bounties_reward_positive",
      sql: `INSERT INTO bounties (submission_id, creator_id, title, reward_amount, deadline)
            VALUES ('31000000-0000-4000-8000-000000000004', '${DAVE}', 'Zero reward', 0, now() + interval '1 day')` },
    { what: "negative token amount", code: CHECK, constraint: "token_amount_not_negative",
      sql: `INSERT INTO bounty_participations (bounty_id, engine_id, staker_id, stake_amount) VALUES ('${B4}', '${CLAMAV}', '${BOB}', -1)` },
    { what: "confidence above 1", code: CHECK, constraint: "analysis_results_confidence_range",
      sql: `INSERT INTO analysis_results (participation_id, bounty_id, engine_id, verdict, confidence)
            VALUES ('41000000-0000-4000-8000-000000000045', '${B4}', '20000000-0000-4000-8000-000000000005', 'benign', 1.5)` },
    { what: "consensus whose vote counts do not add up", code: CHECK, constraint: "consensus_results_counts_add_up",
      sql: `INSERT INTO consensus_results (bounty_id, final_verdict, confidence, agreement_ratio, participating_engines, malicious_count)
            VALUES ('${B4}', 'malicious', 0.9, 1, 3, 1)` },
    { what: "an engine joining a bounty twice", code: UNIQUE, constraint: "bounty_participations_bounty_engine_key",
      sql: `INSERT INTO bounty_participations (bounty_id, engine_id, staker_id, stake_amount)
            VALUES ('${B4}', '20000000-0000-4000-8000-000000000005', '${BOB}', 20)` },
    { what: "a second reward for one participation", code: UNIQUE, constraint: "reward_distributions_participation_type_key",
      sql: `INSERT INTO reward_distributions (bounty_id, participation_id, recipient_id, distribution_type, amount)
            VALUES ('${B1}', '41000000-0000-4000-8000-000000000011', '${BOB}', 'reward', 1)` },
  ],
  "003 blockchain": [
    { what: "contract on an unknown network", code: FK, constraint: "smart_contracts_network_id_fkey",
      sql: `INSERT INTO smart_contracts (network_id, name, contract_type, address, version)
            VALUES (99999, 'X', 'treasury', '0x${"1".repeat(40)}', '1')` },
    { what: "stake in an unknown pool", code: FK, constraint: "staking_positions_pool_id_fkey",
      sql: `INSERT INTO staking_positions (pool_id, user_id, wallet_address, amount) VALUES ('${NOBODY}', '${DAVE}', '0x${"1".repeat(40)}', 1)` },
    { what: "checksummed (mixed-case) address", code: CHECK, constraint: "evm_address_format",
      sql: `INSERT INTO smart_contracts (network_id, name, contract_type, address, version)
            VALUES (${LOCAL_NET}, 'X', 'treasury', '0x5FbDB2315678afecb367f032d93F642f64180aa3', '1')` },
    { what: "confirmed transaction without block", code: CHECK, constraint: "blockchain_transactions_confirmed_in_block",
      sql: `INSERT INTO blockchain_transactions (network_id, tx_hash, tx_type, from_address, status)
            VALUES (${LOCAL_NET}, ${HASH}, 'transfer', '0x${"1".repeat(40)}', 'confirmed')` },
    { what: "voting window ending before it starts", code: CHECK, constraint: "governance_proposals_window",
      sql: `INSERT INTO governance_proposals (proposer_id, network_id, title, description, proposal_type, voting_starts_at, voting_ends_at, quorum)
            VALUES ('${ALICE}', ${LOCAL_NET}, 'Backwards', 'x', 'text', now(), now() - interval '1 day', 1)` },
    { what: "engine bond pool without engine", code: CHECK, constraint: "staking_pools_engine_bond_engine",
      sql: `INSERT INTO staking_pools (network_id, contract_id, name, pool_type)
            VALUES (${LOCAL_NET}, '60000000-0000-4000-8000-000000000003', 'Orphan bond', 'engine_bond')` },
    { what: "a second live escrow contract on one network", code: UNIQUE, constraint: "smart_contracts_active_role_idx",
      sql: `INSERT INTO smart_contracts (network_id, name, contract_type, address, version)
            VALUES (${LOCAL_NET}, 'Escrow2', 'bounty_escrow', '0x${"2".repeat(40)}', '2')` },
    { what: "a transaction recorded twice", code: UNIQUE, constraint: "blockchain_transactions_network_hash_key",
      sql: `INSERT INTO blockchain_transactions (network_id, tx_hash, tx_type, from_address)
            SELECT network_id, tx_hash, tx_type, from_address FROM blockchain_transactions LIMIT 1` },
  ],
  "004 reputation": [
    { what: "expertise in an unknown domain", code: FK, constraint: "user_expertise_domain_code_fkey",
      sql: `INSERT INTO user_expertise (user_id, domain_code, level) VALUES ('${DAVE}', 'astrology', 3)` },
    { what: "event of an unknown engine", code: FK, constraint: "reputation_events_engine_id_fkey",
      sql: `INSERT INTO reputation_events (engine_id, event_type, points) VALUES ('${NOBODY}', 'analysis_correct', 10)` },
    { what: "event about a user and an engine at once", code: CHECK, constraint: "reputation_events_one_subject",
      sql: `INSERT INTO reputation_events (user_id, engine_id, event_type, points) VALUES ('${DAVE}', '${CLAMAV}', 'bounty_won', 5)` },
    { what: "event worth nothing", code: CHECK, constraint: "reputation_events_points_range",
      sql: `INSERT INTO reputation_events (user_id, event_type, points) VALUES ('${DAVE}', 'bounty_won', 0)` },
    { what: "trusting oneself", code: CHECK, constraint: "trust_relationships_not_self",
      sql: `INSERT INTO trust_relationships (truster_id, trusted_user_id, trust_level) VALUES ('${DAVE}', '${DAVE}', 1)` },
    { what: "trust beyond 1", code: CHECK, constraint: "trust_relationships_level_range",
      sql: `INSERT INTO trust_relationships (truster_id, trusted_user_id, trust_level) VALUES ('${DAVE}', '${ALICE}', 2)` },
    { what: "a second all_time metrics row for an engine", code: UNIQUE, constraint: "performance_metrics_subject_period_key",
      sql: `INSERT INTO performance_metrics (engine_id, period, period_start) VALUES ('${CLAMAV}', 'all_time', '1970-01-01')` },
  ],
  "005 user fixes": [
    { what: "notification settings of an unknown user", code: FK, constraint: "user_notification_preferences_user_id_fkey",
      sql: `INSERT INTO user_notification_preferences (user_id, event_type, channel) VALUES ('${NOBODY}', 'reward_paid', 'in_app')` },
    { what: "deleted status without deleted_at", code: CHECK, constraint: "users_deleted_status",
      sql: `UPDATE users SET status = 'deleted' WHERE id = '${DAVE}'` },
    { what: "webhook channel without URL", code: CHECK, constraint: "user_notification_preferences_webhook_url",
      sql: `INSERT INTO user_notification_preferences (user_id, event_type, channel) VALUES ('${DAVE}', 'reward_paid', 'webhook')` },
    { what: "security e-mails switched off", code: CHECK, constraint: "user_notification_preferences_security_email",
      sql: `UPDATE user_notification_preferences SET enabled = false WHERE user_id = '${DAVE}' AND event_type = 'security_alert'` },
    { what: "uppercase wallet on a connection", code: CHECK, constraint: "wallet_connections_address_format",
      sql: `UPDATE wallet_connections SET wallet_address = upper(wallet_address) WHERE user_id = '${DAVE}'` },
    { what: "a live account taking a live username", code: UNIQUE, constraint: "users_username_live_key",
      sql: `INSERT INTO users (username, email, password_hash) SELECT 'Bob', 'bob2@example.test', password_hash FROM users LIMIT 1` },
  ],
};

let db: FreshDatabase;

beforeAll(async () => {
  db = await freshDatabase("sqlcons");
  await applyMigrations(db.url);
  await loadSeeds(db.url);
});
afterAll(async () => db?.drop());

/** `fn` in a transaction on this file's database that is always rolled back. */
const inRollback = <T>(fn: (c: Client) => Promise<T>): Promise<T> => rolledBack(db.url, fn);

describe.each(Object.entries(GROUPS))("%s refuses bad rows", (_group, cases) => {
  it("has at least one foreign-key, one CHECK and one unique case", () => {
    const codes = new Set(cases.map((c) => c.code));
    expect([...codes].sort()).toEqual([FK, UNIQUE, CHECK].sort());
  });

  it.each(cases)("$what", async ({ sql, code, constraint }) => {
    const err = await inRollback((c) => c.query(sql)).then(
      () => undefined,
      (e: { code?: string; constraint?: string }) => e,
    );
    expect(err, "the statement was accepted").toBeDefined();
    expect({ code: err?.code, constraint: err?.constraint }).toEqual({ code, constraint });
  });
});

describe("ON DELETE rules", () => {
  it("RESTRICT keeps accounts, bounties and networks with history", async () => {
    for (const [sql, constraint] of [
      [`DELETE FROM users WHERE id = '${DAVE}'`, "submissions_submitter_id_fkey"],
      [`DELETE FROM bounties WHERE id = '${B4}'`, "bounty_participations_bounty_id_fkey"],
      [`DELETE FROM blockchain_networks WHERE chain_id = 31337`, "smart_contracts_network_id_fkey"],
      [`DELETE FROM reputation_tiers WHERE code = 'gold'`, "reputation_scores_tier_code_fkey"],
    ]) {
      await expect(inRollback((c) => c.query(sql)), sql).rejects.toMatchObject({ code: FK, constraint });
    }
  });

  it("CASCADE removes what only exists as part of its parent; SET NULL keeps the audit trail", async () => {
    await inRollback(async (c) => {
      const { rows } = await c.query<{ id: string }>(`
        INSERT INTO users (username, email, password_hash) SELECT 'trial', 'trial@example.test', password_hash FROM users LIMIT 1
        RETURNING id`);
      const id = rows[0].id;
      await c.query(`INSERT INTO user_sessions (user_id, token_hash, expires_at) VALUES ($1, repeat('c', 64), now() + interval '1 hour')`, [id]);
      await c.query(`INSERT INTO api_keys (id, user_id, name, key_prefix, key_hash, tier_code)
                     VALUES ('50000000-0000-4000-8000-0000000000ff', $1, 'trial', 'nxs_trial001', repeat('d', 64), 'free')`, [id]);
      await c.query(`INSERT INTO api_key_usage (api_key_id, usage_date, request_count) VALUES ('50000000-0000-4000-8000-0000000000ff', current_date, 5)`);
      await c.query(`INSERT INTO security_audit_log (user_id, action, success) VALUES ($1, 'auth.login', true)`, [id]);
      await c.query(`DELETE FROM users WHERE id = $1`, [id]);
      const { rows: left } = await c.query(`
        SELECT (SELECT count(*) FROM user_sessions WHERE user_id = $1)::int AS sessions,
               (SELECT count(*) FROM api_key_usage WHERE api_key_id = '50000000-0000-4000-8000-0000000000ff')::int AS usage,
               (SELECT count(*) FROM security_audit_log WHERE action = 'auth.login' AND user_id IS NULL)::int AS anonymized_audit`, [id]);
      expect(left[0]).toEqual({ sessions: 0, usage: 0, anonymized_audit: 1 });
    });
  });
});
