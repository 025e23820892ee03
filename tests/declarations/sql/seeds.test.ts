// The seed data on a fresh database: it loads twice without changing anything, and the spec's
// functions and views give the figures worked out by hand from the story in test_data.sql.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabase, withClient, type FreshDatabase } from "../../helpers/pg";
import { applyMigrations, loadSeeds, SEED_ENGINES, SEED_USERS } from "../../helpers/sql";

const U = SEED_USERS;
const E = SEED_ENGINES;

/** The documented formula of calculate_reputation_score(), in plain arithmetic. */
function reputation(points: number, n: number, c: number): string {
  const w = Math.min(n, 20) / 20;
  const activity = Math.min(Math.max(500 + points, 0), 1000);
  const accuracy = (n > 0 ? (w * 1000 * c) / n : 0) + (1 - w) * 500;
  return Math.min(Math.max(0.5 * activity + 0.5 * accuracy, 0), 1000).toFixed(2);
}

let db: FreshDatabase;
let firstLoad: Record<string, string>;
let secondLoad: Record<string, string>;
const q = async <T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> =>
  withClient(db.url, async (c) => (await c.query(sql, params)).rows as T[]);

/** Row count and a hash of every row of every table. */
async function snapshot(): Promise<Record<string, string>> {
  const tables = await q<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
  const out: Record<string, string> = {};
  for (const { t } of tables) {
    const [r] = await q<{ n: string; h: string }>(
      `SELECT count(*) AS n, md5(COALESCE(string_agg(x::text, E'\\n' ORDER BY x::text), '')) AS h FROM "${t}" x`,
    );
    out[t] = `${r.n}:${r.h}`;
  }
  return out;
}

beforeAll(async () => {
  db = await freshDatabase("sqlseed");
  await applyMigrations(db.url);
  await loadSeeds(db.url);
  firstLoad = await snapshot();
  await loadSeeds(db.url);
  secondLoad = await snapshot();
});
afterAll(async () => db?.drop());

describe("seed data", () => {
  it("loads twice and the second load changes no row of any table", () => {
    expect(Object.keys(firstLoad).length).toBeGreaterThanOrEqual(40);
    expect(secondLoad).toEqual(firstLoad);
  });

  it("has what the spec lists: 5 users, 5 engines, 4 submissions, 4 bounties with participations", async () => {
    const [c] = await q<Record<string, number>>(`
      SELECT (SELECT count(*) FROM users)::int AS users,
             (SELECT count(*) FROM engines)::int AS engines,
             (SELECT count(*) FROM engines WHERE engine_type = 'human')::int AS human_engines,
             (SELECT count(*) FROM submissions)::int AS submissions,
             (SELECT count(*) FROM bounties)::int AS bounties,
             (SELECT count(DISTINCT bounty_id) FROM bounty_participations)::int AS bounties_with_participations,
             (SELECT count(*) FROM reputation_scores)::int AS reputation_scores,
             (SELECT count(*) FROM performance_metrics WHERE period = 'all_time')::int AS all_time_metrics`);
    expect(c).toEqual({
      users: 5, engines: 5, human_engines: 1, submissions: 4, bounties: 4,
      bounties_with_participations: 4, reputation_scores: 8, all_time_metrics: 8,
    });
  });

  it("stores the password TestPassword123! as a bcrypt hash for every user", async () => {
    const rows = await q<{ username: string; ok: boolean; wrong: boolean; hash: string }>(`
      SELECT username, password_hash = crypt('TestPassword123!', password_hash) AS ok,
             password_hash = crypt('testpassword123!', password_hash) AS wrong, password_hash AS hash
        FROM users ORDER BY username`);
    expect(rows).toHaveLength(5);
    for (const r of rows) {
      expect(r.ok, r.username).toBe(true);
      expect(r.wrong, r.username).toBe(false);
      expect(r.hash).toMatch(/^\$2a\$10\$/);
    }
  });

  it("has the networks Ethereum, Polygon and BSC and contracts at local-testnet addresses", async () => {
    const nets = await q<{ chain_id: string; name: string }>(`SELECT chain_id, name FROM blockchain_networks ORDER BY chain_id`);
    expect(nets.map((n) => [Number(n.chain_id), n.name])).toEqual([
      [1, "Ethereum"], [56, "BNB Smart Chain"], [137, "Polygon"], [31337, "Local test chain"],
    ]);
    const contracts = await q<{ contract_type: string; address: string }>(`
      SELECT contract_type, address FROM smart_contracts sc JOIN blockchain_networks n ON n.id = sc.network_id
       WHERE n.chain_id = 31337 ORDER BY deployment_block`);
    expect(contracts.map((c) => c.contract_type)).toEqual([
      "nexus_token", "bounty_escrow", "staking", "governance", "reputation_oracle", "treasury",
    ]);
    expect(contracts[0].address).toBe("0x5fbdb2315678afecb367f032d93f642f64180aa3");
  });
});

describe("functions on the seed data", () => {
  it("get_user_total_stake: live staking positions + stakes in unsettled bounties", async () => {
    const rows = await q<{ username: string; stake: string }>(
      `SELECT username, get_user_total_stake(id)::numeric(20, 2)::text AS stake FROM users ORDER BY username`,
    );
    expect(Object.fromEntries(rows.map((r) => [r.username, r.stake]))).toEqual({
      alice: "5000.00", // 5000 active (the withdrawn 100 does not count)
      bob: "1520.00",   // 1000 governance + 500 ClamAV bond + 20 in B2 (submitted); B1 stakes settled
      carol: "325.00",  // 300 unbonding + 25 in B2 (registered); B1/B3 stakes lost
      dave: "0.00",
      erin: "2012.00",  // 2000 + 12 in B4 (registered)
    });
  });

  it("calculate_voting_power: own stake unless delegated, plus stakes delegated to the user", async () => {
    const rows = await q<{ username: string; power: string }>(
      `SELECT username, calculate_voting_power(id)::numeric(20, 2)::text AS power FROM users ORDER BY username`,
    );
    expect(Object.fromEntries(rows.map((r) => [r.username, r.power]))).toEqual({
      alice: "5325.00", // 5000 + Carol's 325
      bob: "1520.00",
      carol: "0.00",    // delegated to Alice
      dave: "0.00",
      erin: "2012.00",
    });
  });

  it("calculate_reputation_score: the documented formula for every engine and staker", async () => {
    // Σ points, n analyses in bounties with consensus, c of them right — from the seed story:
    const cases: Array<[string, string, boolean, number, number, number, string]> = [
      ["ClamAV", E.clamav, false, 10, 1, 1, "517.50"],          // B1 right +10
      ["YARA", E.yara, false, 10, 1, 1, "517.50"],              // B1 right +10
      ["Sandbox", E.sandbox, false, -5 + 10, 2, 1, "502.50"],  // B1 wrong −5, B3 right +10
      ["Carol analyst", E.carolAnalyst, false, -8 - 5, 1, 0, "481.00"], // B1 missed −8, B3 wrong −5
      ["Heuristic ML", E.ml, false, 10 + 20, 1, 1, "527.50"],  // B3 right +10, manual +20
      ["bob", U.bob, true, 5 + 5, 2, 2, "530.00"],              // staked ClamAV and YARA on B1
      ["erin", U.erin, true, -3 + 5 + 5, 3, 2, "516.00"],       // Sandbox B1 lost, Sandbox + ML B3 won
      ["carol", U.carol, true, -3 - 3 + 15, 1, 0, "492.00"],    // B1, B3 lost; endorsement +15
      ["dave", U.dave, true, 0, 0, 0, "500.00"],                // no history: neutral 500
    ];
    for (const [label, id, isUser, points, n, c, expected] of cases) {
      expect(reputation(points, n, c), label).toBe(expected);
      const [r] = await q<{ score: string }>(`SELECT calculate_reputation_score($1, $2)::text AS score`, [id, isUser]);
      expect(r.score, label).toBe(expected);
    }
    // The stored scores and the engines' cached copy agree with the function.
    const stored = await q<{ slug: string; reputation_score: string; score: string }>(`
      SELECT e.slug, e.reputation_score::text, rs.score::text FROM engines e JOIN reputation_scores rs ON rs.engine_id = e.id`);
    for (const s of stored) expect(s.reputation_score, s.slug).toBe(s.score);
  });

  it("update_performance_metrics: all_time figures of an engine and of a user", async () => {
    const [clamav] = await q(`
      SELECT total_analyses, resolved_analyses, correct_analyses, false_positives, false_negatives,
             accuracy::text, avg_confidence::text, avg_analysis_ms, bounties_participated, bounties_won,
             total_staked::numeric(20, 2)::text, total_rewards::numeric(20, 2)::text, period_start::text
        FROM update_performance_metrics($1, false, 'all_time')`, [E.clamav]);
    expect(clamav).toEqual({
      total_analyses: 2, resolved_analyses: 1, correct_analyses: 1, false_positives: 0, false_negatives: 0,
      accuracy: "1.0000",        // 1 of 1 resolved
      avg_confidence: "0.8750",  // (0.95 + 0.80) / 2
      avg_analysis_ms: 1500,     // (1200 + 1800) / 2
      bounties_participated: 2, bounties_won: 1,
      total_staked: "70.00",     // 50 (B1) + 20 (B2)
      total_rewards: "60.00",    // completed reward of B1; the stake return is not a reward
      period_start: "1970-01-01",
    });
    const [erin] = await q(`
      SELECT total_analyses, resolved_analyses, correct_analyses, false_positives, false_negatives,
             accuracy::text, avg_confidence::text, avg_analysis_ms, bounties_participated, bounties_won,
             total_staked::numeric(20, 2)::text, total_rewards::numeric(20, 2)::text
        FROM update_performance_metrics($1, true, 'all_time')`, [U.erin]);
    expect(erin).toEqual({
      total_analyses: 3, resolved_analyses: 3, correct_analyses: 2,
      false_positives: 0, false_negatives: 1, // Sandbox said benign on the malicious B1
      accuracy: "0.6667", avg_confidence: "0.7167", avg_analysis_ms: 110100, // (240000 + 90000 + 300) / 3
      bounties_participated: 3, bounties_won: 2,
      total_staked: "77.00",  // 40 + 15 + 10 + 12
      total_rewards: "50.00", // 25 + 25 on B3
    });
    const [carolEngine] = await q(`
      SELECT false_positives, accuracy::text FROM update_performance_metrics($1, false, 'all_time')`, [E.carolAnalyst]);
    expect(carolEngine).toEqual({ false_positives: 1, accuracy: "0.0000" }); // suspicious on the benign B3
  });

  it("update_performance_metrics: daily rows start at today's UTC date; unknown periods are refused", async () => {
    const [r] = await q<{ ok: boolean }>(`
      SELECT period_start = (now() AT TIME ZONE 'UTC')::date AS ok FROM update_performance_metrics($1, false, 'daily')`, [E.ml]);
    expect(r.ok).toBe(true);
    await expect(q(`SELECT update_performance_metrics($1, false, 'yearly')`, [E.ml])).rejects.toMatchObject({ code: "22023" });
  });
});

describe("views on the seed data", () => {
  it("bounty_stats", async () => {
    const rows = await q(`
      SELECT title, status, total_staked::numeric(20, 2)::text, participant_count, results_submitted::int,
             malicious_votes::int, suspicious_votes::int, benign_votes::int, avg_confidence::text, final_verdict,
             rewards_paid::numeric(20, 2)::text, payouts_pending::int
        FROM bounty_stats ORDER BY bounty_id`);
    expect(rows).toEqual([
      { title: "Is invoice.exe a dropper?", status: "resolved", total_staked: "130.00", participant_count: 4,
        results_submitted: 3, malicious_votes: 2, suspicious_votes: 0, benign_votes: 1, avg_confidence: "0.8167",
        final_verdict: "malicious", rewards_paid: "60.00", payouts_pending: 1 },
      { title: "Flashlight app with SMS permissions", status: "in_progress", total_staked: "45.00", participant_count: 2,
        results_submitted: 1, malicious_votes: 1, suspicious_votes: 0, benign_votes: 0, avg_confidence: "0.8000",
        final_verdict: null, rewards_paid: "0.00", payouts_pending: 0 },
      { title: "Bank login page lookalike?", status: "resolved", total_staked: "35.00", participant_count: 3,
        results_submitted: 3, malicious_votes: 0, suspicious_votes: 1, benign_votes: 2, avg_confidence: "0.6833",
        final_verdict: "benign", rewards_paid: "50.00", payouts_pending: 0 },
      { title: "Statement PDF with embedded JavaScript", status: "open", total_staked: "12.00", participant_count: 1,
        results_submitted: 0, malicious_votes: 0, suspicious_votes: 0, benign_votes: 0, avg_confidence: null,
        final_verdict: null, rewards_paid: "0.00", payouts_pending: 0 },
    ]);
  });

  it("blockchain_activity", async () => {
    const rows = await q(`
      SELECT network_name, active_contracts::int, tx_count::int, confirmed_count::int, pending_count::int,
             failed_count::int, confirmed_value::numeric(20, 2)::text, distinct_users::int, latest_block::int,
             active_pools::int, total_staked::numeric(20, 2)::text, active_proposals::int
        FROM blockchain_activity ORDER BY chain_id`);
    const zero = { active_contracts: 0, tx_count: 0, confirmed_count: 0, pending_count: 0, failed_count: 0,
      confirmed_value: "0.00", distinct_users: 0, latest_block: null, active_pools: 0, total_staked: "0.00", active_proposals: 0 };
    expect(rows).toEqual([
      { network_name: "Ethereum", ...zero },
      { network_name: "BNB Smart Chain", ...zero },
      { network_name: "Polygon", ...zero, tx_count: 1, confirmed_count: 1, confirmed_value: "25.00", distinct_users: 1, latest_block: 50000000 },
      { network_name: "Local test chain", active_contracts: 6, tx_count: 7, confirmed_count: 5, pending_count: 1, failed_count: 1,
        confirmed_value: "8160.00", // 100 + 1000 + 2000 + 5000 + 60
        distinct_users: 5, latest_block: 111, active_pools: 2,
        total_staked: "8800.00",    // governance 8300 + ClamAV bond 500
        active_proposals: 1 },
    ]);
  });

  it("reputation_overview", async () => {
    const rows = await q(`
      SELECT entity_type, name, score::text, tier_code, rank::int FROM reputation_overview ORDER BY entity_type, rank, name`);
    expect(rows).toEqual([
      { entity_type: "engine", name: "Heuristic ML", score: "527.50", tier_code: "gold", rank: 1 },
      { entity_type: "engine", name: "ClamAV Cloud", score: "517.50", tier_code: "gold", rank: 2 },
      { entity_type: "engine", name: "YARA Hunter", score: "517.50", tier_code: "gold", rank: 2 },
      { entity_type: "engine", name: "Sandbox X", score: "502.50", tier_code: "gold", rank: 4 },
      { entity_type: "engine", name: "Carol (human analyst)", score: "481.00", tier_code: "silver", rank: 5 },
      { entity_type: "user", name: "bob", score: "530.00", tier_code: "gold", rank: 1 },
      { entity_type: "user", name: "erin", score: "516.00", tier_code: "gold", rank: 2 },
      { entity_type: "user", name: "carol", score: "492.00", tier_code: "silver", rank: 3 },
    ]);
  });

  it("api_key_rate_limits: usable keys with their effective limits (what the Redis warmup loads)", async () => {
    const rows = await q(`
      SELECT key_prefix, tier_code, requests_per_minute, requests_per_hour, requests_per_day, burst_size
        FROM api_key_rate_limits ORDER BY key_prefix`);
    expect(rows).toEqual([
      { key_prefix: "nxs_alice001", tier_code: "pro", requests_per_minute: 600, requests_per_hour: 20000, requests_per_day: 200000, burst_size: 50 },
      { key_prefix: "nxs_clamav01", tier_code: "engine", requests_per_minute: 1200, requests_per_hour: 60000, requests_per_day: 1000000, burst_size: 100 },
      { key_prefix: "nxs_dave0001", tier_code: "free", requests_per_minute: 60, requests_per_hour: 1000, requests_per_day: 10000, burst_size: 10 },
      // per-key overrides win over the tier; Carol's revoked key is absent
      { key_prefix: "nxs_sandbx01", tier_code: "engine", requests_per_minute: 2000, requests_per_hour: 60000, requests_per_day: 1500000, burst_size: 100 },
    ]);
  });
});
