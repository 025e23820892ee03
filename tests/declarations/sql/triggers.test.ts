// Each trigger fires, on a seeded database. Every test runs in a transaction that is rolled back,
// so the tests do not see each other's changes (inside one, now() is the transaction's start).
import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabase, rolledBack, withClient, type FreshDatabase } from "../../helpers/pg";
import { applyMigrations, loadSeeds, SEED_ENGINES, SEED_USERS } from "../../helpers/sql";

const U = SEED_USERS;
const E = SEED_ENGINES;
const B = { b1: "40000000-0000-4000-8000-000000000001", b2: "40000000-0000-4000-8000-000000000002", b4: "40000000-0000-4000-8000-000000000004" };
const GOVERNANCE_POOL = "61000000-0000-4000-8000-000000000001";
const ACTIVE_PROPOSAL = "63000000-0000-4000-8000-000000000001";
const EXECUTED_PROPOSAL = "63000000-0000-4000-8000-000000000002";

let db: FreshDatabase;

beforeAll(async () => {
  db = await freshDatabase("sqltrig");
  await applyMigrations(db.url);
  await loadSeeds(db.url);
});
afterAll(async () => db?.drop());

/** `fn` in a transaction on this file's database that is always rolled back. */
const inRollback = <T>(fn: (c: Client) => Promise<T>): Promise<T> => rolledBack(db.url, fn);

async function one<T = Record<string, unknown>>(c: Client, sql: string, params: unknown[] = []): Promise<T> {
  const { rows } = await c.query(sql, params);
  return rows[0] as T;
}

describe("updated_at", () => {
  it("is set to now() on an update of every table that has the column", async () => {
    await inRollback(async (c) => {
      const { rows: tables } = await c.query<{ t: string }>(`
        SELECT c.relname AS t FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attname = 'updated_at' ORDER BY 1`);
      expect(tables.length).toBeGreaterThanOrEqual(30);
      const { now } = await one<{ now: Date }>(c, "SELECT now()");
      for (const { t } of tables) {
        // Whatever the statement writes into updated_at, the trigger replaces it with now().
        const { rows } = await c.query<{ updated_at: Date }>(
          `UPDATE "${t}" SET updated_at = '2000-01-01' WHERE ctid = (SELECT ctid FROM "${t}" LIMIT 1) RETURNING updated_at`,
        );
        expect(rows, `${t} has no seed row to update`).toHaveLength(1);
        expect(rows[0].updated_at.getTime(), t).toBe(now.getTime());
      }
    });
  });

  it("moves on a real change and stays on an update that changes nothing", async () => {
    const before = await withClient(db.url, async (c) =>
      (await one<{ updated_at: Date }>(c, "SELECT updated_at FROM users WHERE id = $1", [U.dave])).updated_at);
    await inRollback(async (c) => {
      const same = await one<{ updated_at: Date }>(c, "UPDATE users SET display_name = display_name WHERE id = $1 RETURNING updated_at", [U.dave]);
      expect(same.updated_at.getTime()).toBe(before.getTime());
      const changed = await one<{ updated_at: Date }>(c, "UPDATE users SET display_name = 'D.' WHERE id = $1 RETURNING updated_at", [U.dave]);
      expect(changed.updated_at.getTime()).toBeGreaterThan(before.getTime());
    });
  });
});

describe("bounties", () => {
  it("keep total_staked and participant_count in step with participations", async () => {
    await inRollback(async (c) => {
      await c.query(`INSERT INTO bounty_participations (bounty_id, engine_id, staker_id, stake_amount) VALUES ($1, $2, $3, 15)`,
        [B.b4, E.clamav, U.bob]);
      expect(await one(c, "SELECT total_staked::text, participant_count FROM bounties WHERE id = $1", [B.b4]))
        .toEqual({ total_staked: "27.000000000000000000", participant_count: 2 });
      await c.query(`UPDATE bounty_participations SET status = 'withdrawn' WHERE bounty_id = $1 AND engine_id = $2`, [B.b4, E.clamav]);
      expect(await one(c, "SELECT total_staked::text, participant_count FROM bounties WHERE id = $1", [B.b4]))
        .toEqual({ total_staked: "12.000000000000000000", participant_count: 1 });
    });
  });

  it("refuse participations beyond max_participants, below min_stake, after the deadline or once resolved", async () => {
    const attempt = (setup: string, bounty: string, stake: number, engine = E.yara) =>
      inRollback(async (c) => {
        if (setup) await c.query(setup, [bounty]);
        await c.query(`INSERT INTO bounty_participations (bounty_id, engine_id, staker_id, stake_amount) VALUES ($1, $2, $3, $4)`,
          [bounty, engine, U.bob, stake]);
      });
    await expect(attempt("UPDATE bounties SET max_participants = 1, min_participants = 1 WHERE id = $1", B.b4, 15))
      .rejects.toMatchObject({ code: "23514", constraint: "bounties_participant_count_check" });
    await expect(attempt("", B.b4, 5)).rejects.toThrow(/below the minimum stake/);
    await expect(attempt("UPDATE bounties SET created_at = now() - interval '10 days', deadline = now() - interval '1 day' WHERE id = $1", B.b4, 15))
      .rejects.toThrow(/closed at/);
    await expect(attempt("", B.b1, 15, E.ml)).rejects.toThrow(/is resolved, it takes no participations/);
  });

  it("record every status change in bounty_status_history", async () => {
    await inRollback(async (c) => {
      await c.query(`UPDATE bounties SET status = 'cancelled', cancelled_reason = 'submitter withdrew the file' WHERE id = $1`, [B.b4]);
      const { rows } = await c.query(`SELECT from_status, to_status FROM bounty_status_history WHERE bounty_id = $1 ORDER BY id`, [B.b4]);
      expect(rows).toEqual([{ from_status: null, to_status: "open" }, { from_status: "open", to_status: "cancelled" }]);
    });
  });

  it("an analysis result marks its participation submitted and the bounty in progress", async () => {
    await inRollback(async (c) => {
      await c.query(`INSERT INTO analysis_results (participation_id, bounty_id, engine_id, verdict, confidence)
                     VALUES ('41000000-0000-4000-8000-000000000045', $1, $2, 'malicious', 0.9)`, [B.b4, E.ml]);
      expect(await one(c, `SELECT status, submitted_at IS NOT NULL AS has_time FROM bounty_participations
                           WHERE id = '41000000-0000-4000-8000-000000000045'`)).toEqual({ status: "submitted", has_time: true });
      expect(await one(c, "SELECT status FROM bounties WHERE id = $1", [B.b4])).toEqual({ status: "in_progress" });
    });
    // A settled participation takes no further result.
    await expect(inRollback((c) => c.query(`
      INSERT INTO analysis_results (participation_id, bounty_id, engine_id, verdict, confidence)
      VALUES ('41000000-0000-4000-8000-000000000014', $1, '20000000-0000-4000-8000-000000000004', 'benign', 0.5)`, [B.b1])))
      .rejects.toThrow(/takes no result/);
  });

  it("consensus resolves the bounty, settles participations, records reputation and refreshes metrics", async () => {
    await inRollback(async (c) => {
      await c.query(`INSERT INTO analysis_results (participation_id, bounty_id, engine_id, verdict, confidence, analysis_duration_ms)
                     VALUES ('41000000-0000-4000-8000-000000000045', $1, $2, 'malicious', 0.9, 500)`, [B.b4, E.ml]);
      await c.query(`INSERT INTO consensus_results (bounty_id, final_verdict, confidence, agreement_ratio, participating_engines,
                                                    malicious_count, total_stake, winning_stake)
                     VALUES ($1, 'malicious', 0.9, 1, 1, 1, 12, 12)`, [B.b4]);
      expect(await one(c, "SELECT status, final_verdict, resolved_at IS NOT NULL AS resolved FROM bounties WHERE id = $1", [B.b4]))
        .toEqual({ status: "resolved", final_verdict: "malicious", resolved: true });
      expect(await one(c, "SELECT status FROM bounty_participations WHERE id = '41000000-0000-4000-8000-000000000045'"))
        .toEqual({ status: "won" });
      const { rows: events } = await c.query(`
        SELECT COALESCE(engine_id, user_id)::text AS subject, event_type, points::text FROM reputation_events
         WHERE bounty_id = $1 ORDER BY event_type`, [B.b4]);
      expect(events).toEqual([
        { subject: E.ml, event_type: "analysis_correct", points: "10.00" },
        { subject: U.erin, event_type: "bounty_won", points: "5.00" },
      ]);
      // Heuristic ML: P = 10 + 20 + 10 = 40, n = 2, c = 2 → 0.5·540 + 0.5·(0.1·1000 + 0.9·500) = 545.00
      expect(await one(c, `SELECT rs.score::text, e.reputation_score::text AS cached, rs.analyses_resolved
                             FROM reputation_scores rs JOIN engines e ON e.id = rs.engine_id WHERE e.id = $1`, [E.ml]))
        .toEqual({ score: "545.00", cached: "545.00", analyses_resolved: 2 });
      // Erin: P = 7 + 5 = 12, n = 4, c = 3 → 0.5·512 + 0.5·(0.2·750 + 0.8·500) = 531.00
      expect(await one(c, "SELECT score::text FROM reputation_scores WHERE user_id = $1", [U.erin])).toEqual({ score: "531.00" });
      expect(await one(c, `SELECT total_analyses, correct_analyses, avg_analysis_ms, bounties_won FROM performance_metrics
                            WHERE engine_id = $1 AND period = 'all_time'`, [E.ml]))
        .toEqual({ total_analyses: 2, correct_analyses: 2, avg_analysis_ms: 400, bounties_won: 2 }); // (300 + 500) / 2
    });
  });
});

describe("staking", () => {
  it("pool totals follow positions; below min_stake and over the cap are refused", async () => {
    await inRollback(async (c) => {
      await c.query(`INSERT INTO staking_positions (id, pool_id, user_id, wallet_address, amount)
                     VALUES ('62000000-0000-4000-8000-0000000000aa', $1, $2, '0x90f79bf6eb2c4f870365e785982e1f101e93b906', 700)`,
        [GOVERNANCE_POOL, U.dave]);
      expect(await one(c, "SELECT total_staked::text, staker_count FROM staking_pools WHERE id = $1", [GOVERNANCE_POOL]))
        .toEqual({ total_staked: "9000.000000000000000000", staker_count: 5 });
      await c.query(`UPDATE staking_positions SET status = 'slashed' WHERE id = '62000000-0000-4000-8000-0000000000aa'`);
      expect(await one(c, "SELECT total_staked::text, staker_count FROM staking_pools WHERE id = $1", [GOVERNANCE_POOL]))
        .toEqual({ total_staked: "8300.000000000000000000", staker_count: 4 });
    });
    const stake = (amount: number, setup = "") =>
      inRollback(async (c) => {
        if (setup) await c.query(setup, [GOVERNANCE_POOL]);
        await c.query(`INSERT INTO staking_positions (pool_id, user_id, wallet_address, amount)
                       VALUES ($1, $2, '0x90f79bf6eb2c4f870365e785982e1f101e93b906', $3)`, [GOVERNANCE_POOL, U.dave, amount]);
      });
    await expect(stake(50)).rejects.toThrow(/below the minimum stake/);
    await expect(stake(500, "UPDATE staking_pools SET max_total_stake = 8500 WHERE id = $1"))
      .rejects.toMatchObject({ code: "23514", constraint: "staking_pools_cap_check" });
  });
});

describe("governance", () => {
  it("a vote snapshots calculate_voting_power() and updates the tally", async () => {
    await inRollback(async (c) => {
      await c.query(`DELETE FROM governance_votes WHERE proposal_id = $1 AND voter_id = $2`, [ACTIVE_PROPOSAL, U.bob]);
      expect(await one(c, "SELECT votes_against::text, voter_count FROM governance_proposals WHERE id = $1", [ACTIVE_PROPOSAL]))
        .toEqual({ votes_against: "0.000000000000000000", voter_count: 2 });
      const vote = await one<{ voting_power: string }>(c, `INSERT INTO governance_votes (proposal_id, voter_id, support)
                                                          VALUES ($1, $2, 'abstain') RETURNING voting_power::text`, [ACTIVE_PROPOSAL, U.bob]);
      expect(vote.voting_power).toBe("1520.000000000000000000");
      expect(await one(c, "SELECT votes_for::text, votes_abstain::text, voter_count FROM governance_proposals WHERE id = $1", [ACTIVE_PROPOSAL]))
        .toEqual({ votes_for: "7337.000000000000000000", votes_abstain: "1520.000000000000000000", voter_count: 3 });
    });
  });

  it("refuses votes on closed proposals and from users without voting power", async () => {
    await expect(inRollback((c) => c.query(`INSERT INTO governance_votes (proposal_id, voter_id, support) VALUES ($1, $2, 'for')`,
      [EXECUTED_PROPOSAL, U.bob]))).rejects.toThrow(/not open for voting/);
    await expect(inRollback((c) => c.query(`INSERT INTO governance_votes (proposal_id, voter_id, support) VALUES ($1, $2, 'for')`,
      [ACTIVE_PROPOSAL, U.dave]))).rejects.toMatchObject({ code: "23514", constraint: "governance_votes_power_positive" });
  });

  it("revoking a delegation gives the delegator's power back", async () => {
    await inRollback(async (c) => {
      await c.query(`UPDATE governance_delegations SET revoked_at = now() WHERE delegator_id = $1`, [U.carol]);
      expect(await one(c, `SELECT calculate_voting_power($1)::numeric(20, 2)::text AS alice, calculate_voting_power($2)::numeric(20, 2)::text AS carol`,
        [U.alice, U.carol])).toEqual({ alice: "5000.00", carol: "325.00" });
    });
  });
});

describe("reputation", () => {
  it("a reputation event stores the subject's new score and tier", async () => {
    await inRollback(async (c) => {
      await c.query(`INSERT INTO reputation_events (user_id, event_type, points, reason) VALUES ($1, 'peer_endorsement', 50, 'helpful triage')`, [U.dave]);
      // P = 50, no analyses → 0.5·550 + 0.5·500 = 525.00 → gold (500 ≤ score < 700)
      expect(await one(c, "SELECT score::text, tier_code, total_events FROM reputation_scores WHERE user_id = $1", [U.dave]))
        .toEqual({ score: "525.00", tier_code: "gold", total_events: 1 });
      await c.query(`INSERT INTO reputation_events (user_id, event_type, points, reason) VALUES ($1, 'manual_adjustment', -400, 'sock puppets')`, [U.dave]);
      // P = −350 → 0.5·150 + 0.5·500 = 325.00 → silver
      expect(await one(c, "SELECT score::text, tier_code FROM reputation_scores WHERE user_id = $1", [U.dave]))
        .toEqual({ score: "325.00", tier_code: "silver" });
    });
  });
});

describe("user fixes of 005", () => {
  it("deleting an account revokes its sessions, keys, wallets and delegations and frees its username", async () => {
    await inRollback(async (c) => {
      await c.query(`UPDATE users SET status = 'deleted', deleted_at = now() WHERE id = $1`, [U.dave]);
      expect(await one(c, `
        SELECT (SELECT count(*) FROM user_sessions WHERE user_id = $1 AND revoked_at IS NULL)::int AS live_sessions,
               (SELECT count(*) FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL)::int AS live_keys,
               (SELECT count(*) FROM wallet_connections WHERE user_id = $1 AND disconnected_at IS NULL)::int AS live_wallets,
               (SELECT count(*) FROM api_key_rate_limits WHERE user_id = $1)::int AS cached_keys`, [U.dave]))
        .toEqual({ live_sessions: 0, live_keys: 0, live_wallets: 0, cached_keys: 0 });
      // Username, e-mail and wallet may be taken by a new account.
      await c.query(`INSERT INTO users (username, email, password_hash, wallet_address, status)
                     SELECT 'dave', 'dave@nexus-security.test', password_hash, wallet_address, 'active' FROM users WHERE id = $1`, [U.dave]);
      await c.query(`UPDATE users SET status = 'deleted', deleted_at = now() WHERE id = $1`, [U.carol]);
      await c.query(`SELECT refresh_reputation_score($1, true)`, [U.carol]);
      const { rows } = await c.query(`SELECT name FROM reputation_overview WHERE entity_type = 'user' ORDER BY name`);
      expect(rows.map((r) => r.name)).toEqual(["bob", "erin"]);
      expect(await one(c, "SELECT revoked_at IS NOT NULL AS revoked FROM governance_delegations WHERE delegator_id = $1", [U.carol]))
        .toEqual({ revoked: true });
    });
  });

  it("accepts only lowercase wallet addresses", async () => {
    await expect(inRollback((c) => c.query(`UPDATE users SET wallet_address = '0x90F79bf6EB2c4f870365E785982E1f101E93b906' WHERE id = $1`, [U.dave])))
      .rejects.toMatchObject({ code: "23514", constraint: "users_wallet_address_format" });
  });
});
