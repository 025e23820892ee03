// End to end with the real CLI: the local stack's program (external backends on this machine's
// servers) in a copy of the project — up, every object present, roles behave, preview quiet,
// no plain passwords in state, then the changes a pull request brings: a migration, an edited
// migration, an index, warmup data — and destroy keeps the data.
import { execFileSync } from "node:child_process";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { MongoClient } from "mongodb";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_URL, MONGODB_URL, REDIS_URL, pgUrlFor } from "../helpers/env";
import { createStack, localStackFixture, pathsHolding, projectCopy, pulumiRoot, stackEnv, type ProjectCopy } from "../helpers/stack";

const fx = localStackFixture("e2e", { jwtSecret: true });
const { suffix, db, roles, passwords } = fx;
const stackConfig = fx.config;

async function pgQuery<T extends object>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

function roleUrl(role: string, password: string): string {
  const u = new URL(pgUrlFor(db));
  u.username = role;
  u.password = password;
  return u.toString();
}

let copy: ProjectCopy;
let stack: Stack;
let outputs: Record<string, { value: unknown; secret: boolean }>;

describe("the local stack with the real CLI", () => {
  beforeAll(async () => {
    copy = projectCopy();
    stack = await createStack(copy, `e2e-${suffix}`, stackConfig());
    const up = await stack.up({ color: "never" });
    expect(up.summary.result).toBe("succeeded");
    outputs = up.outputs;
  }, 600_000);

  afterAll(async () => {
    try {
      await stack?.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
    } finally {
      copy?.remove();
      await pgQuery(DATABASE_URL, `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`).catch(() => undefined);
      for (const r of [roles.app, roles.readonly, roles.owner]) await pgQuery(DATABASE_URL, `DROP ROLE IF EXISTS "${r}"`).catch(() => undefined);
      const m = await MongoClient.connect(MONGODB_URL);
      await m.db(db).dropDatabase().catch(() => undefined);
      // Users belong to the server on DocumentDB (not to the database just dropped).
      for (const u of [`e2e_${suffix}_app`, `e2e_${suffix}_analytics`]) await m.db(db).command({ dropUser: u }).catch(() => undefined);
      await m.close();
    }
  }, 300_000);

  it("creates every table, index, function and view of the migrations in one up", async () => {
    const [counts] = await pgQuery<Record<string, string>>(
      pgUrlFor(db),
      `SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations') AS tables,
              (SELECT count(*) FROM pg_indexes WHERE schemaname = 'public') AS indexes,
              (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = 'public' AND p.proname IN ('update_updated_at_column','get_user_total_stake','calculate_voting_power','calculate_reputation_score','update_performance_metrics')) AS functions,
              (SELECT count(*) FROM pg_views WHERE schemaname = 'public' AND viewname IN ('bounty_stats','blockchain_activity','reputation_overview')) AS views,
              (SELECT max(version) FROM schema_migrations) AS version`,
    );
    expect(Number(counts.tables)).toBeGreaterThanOrEqual(40);
    expect(Number(counts.indexes)).toBeGreaterThanOrEqual(100);
    expect(Number(counts.functions)).toBe(5);
    expect(Number(counts.views)).toBe(3);
    expect(Number(counts.version)).toBe(5);
    expect((outputs.postgres.value as { schemaVersion: number }).schemaVersion).toBe(5);
  });

  it("gives the backend a Mongo URL whose user exists: it logs in and reads (unless the server has no users)", async (ctx) => {
    const unsupported = (outputs.mongo.value as { unsupportedByServer: string[] }).unsupportedByServer;
    ctx.skip(unsupported.some((u) => u.includes("user ")), `the server has no users: ${unsupported.filter((u) => u.includes("user ")).join("; ")}`);
    const app = await MongoClient.connect(String(outputs.MONGODB_URL.value), { serverSelectionTimeoutMS: 5000 });
    try {
      expect(await app.db(db).collection("engine_stats").countDocuments()).toBe(0);
    } finally {
      await app.close();
    }
  });

  it("loads the seed data (local stacks seed by default)", async () => {
    const [r] = await pgQuery<{ users: string; engines: string }>(pgUrlFor(db), "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM engines) AS engines");
    expect(Number(r.users)).toBe(5);
    expect(Number(r.engines)).toBe(5);
  });

  it("creates the six collections and their indexes in MongoDB", async () => {
    const m = await MongoClient.connect(MONGODB_URL);
    try {
      const names = (await m.db(db).listCollections().toArray()).map((c) => c.name).filter((n) => !n.startsWith("nexus_db_"));
      expect(names.sort()).toEqual(["analysis_results", "consensus_results", "engine_stats", "file_metadata", "sandbox_reports", "threat_indicators"]);
      let indexes = 0;
      for (const n of names) indexes += (await m.db(db).collection(n).listIndexes().toArray()).filter((i) => i.name !== "_id_").length;
      // FerretDB lacks TTL, partial and text indexes (allowed missing on this stack): the rest are there.
      expect(indexes).toBeGreaterThanOrEqual(12);
      // Compound keys keep their declared order through Pulumi's state (which sorts object keys).
      const resultIndexes = (await m.db(db).collection("analysis_results").listIndexes().toArray()).map((i) => i.name);
      expect(resultIndexes).toContain("submission_id_1_engine_id_1");
      expect(resultIndexes).not.toContain("engine_id_1_submission_id_1");
      expect((outputs.mongo.value as { indexes: string[] }).indexes.length).toBe(indexes);
    } finally {
      await m.close();
    }
  });

  it("warms the Redis cache from PostgreSQL in the same up", async () => {
    const { default: IORedis } = await import("ioredis");
    const redis = new URL(REDIS_URL);
    const r = new IORedis({ host: redis.hostname, port: Number(redis.port || 6379), db: 3, lazyConnect: true });
    await r.connect();
    try {
      // DB 3, the engine reputation cache: one key per engine of the seed data, under the stack's prefix.
      const keys = await r.keys(`e2e${suffix}:reputation:engine:*`);
      expect(keys.length).toBe(5);
      await r.select(1);
      expect((await r.keys(`e2e${suffix}:*`)).length).toBeGreaterThan(0);
    } finally {
      r.disconnect();
    }
    const warm = (outputs.redis.value as { warmup: { counts: Record<string, number> } }).warmup;
    expect(Object.values(warm.counts).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it("gives each PostgreSQL role exactly its privileges", async () => {
    const app = roleUrl(roles.app, passwords.postgresAppPassword);
    const ro = roleUrl(roles.readonly, passwords.postgresReadonlyPassword);
    const owner = roleUrl(roles.owner, passwords.postgresOwnerPassword);
    await expect(pgQuery(app, "CREATE TABLE e2e_forbidden (id int)")).rejects.toThrow(/permission denied/);
    await expect(pgQuery(app, "DELETE FROM schema_migrations WHERE false")).rejects.toThrow(/permission denied/);
    expect(await pgQuery(app, "SELECT count(*) AS n FROM users")).toEqual([{ n: "5" }]);
    await expect(pgQuery(ro, "INSERT INTO blockchain_networks (name) VALUES ('x')")).rejects.toThrow(/read-only transaction|permission denied/);
    expect(await pgQuery(ro, "SELECT count(*) AS n FROM engines")).toEqual([{ n: "5" }]);
    // The owner can change the schema (what migrations need); rolled back.
    await pgQuery(owner, "BEGIN; CREATE TABLE e2e_owner_can (id int); ROLLBACK;");
    // A wrong password is refused: the server really checks them.
    await expect(pgQuery(roleUrl(roles.app, "wrong-password"), "SELECT 1")).rejects.toThrow(/password authentication failed/);
  });

  it("outputs the backend's variables as secrets, and their URLs connect", async () => {
    for (const k of ["DATABASE_URL", "MONGODB_URL", "REDIS_URL"]) expect(outputs[k].secret).toBe(true);
    expect(outputs.DATABASE_MAX_CONNECTIONS.value).toBe(100);
    expect(await pgQuery(outputs.DATABASE_URL.value as string, "SELECT current_user AS u")).toEqual([{ u: roles.app }]);
    const { default: IORedis } = await import("ioredis");
    const r = new IORedis(outputs.REDIS_URL.value as string, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await r.connect();
    try {
      // Logged in as the app user: its logical databases' namespaces are writable, anything else is not.
      expect(await r.set(`e2e${suffix}:session:e2e-probe`, "1", "EX", 60)).toBe("OK");
      await expect(r.set("outside:prefix", "x")).rejects.toThrow(/NOPERM/);
    } finally {
      r.disconnect();
    }
  });

  it("previews no changes right after up", async () => {
    const p = await stack.preview({ diff: true, color: "never" });
    const changed = Object.entries(p.changeSummary).filter(([op, n]) => op !== "same" && n > 0);
    expect(changed, p.stdout).toEqual([]);
    // The dynamic providers' head start (providers/prestart.ts) leaves no trace in what a user reads.
    expect(`${p.stdout}\n${p.stderr}`).not.toMatch(/unknown function|nexusDbStartProvider|error/i);
  }, 300_000);

  it("npm run env's .env alone configures working clients of the three stores (the deploy test's check)", async () => {
    const outputs = await stack.outputs();
    expect(outputs.backend.secret).toBe(true);
    const { writeBackendFiles } = await import("../../scripts/env-file");
    const { checkBackend } = await import("../../scripts/check-backend");
    const { parse } = await import("dotenv");
    const values = Object.fromEntries(Object.entries(outputs).map(([k, o]) => [k, o.value]));
    const written = writeBackendFiles(values, { stack: stack.name, envFile: path.join(copy.dir, ".env"), tomlFile: path.join(copy.dir, "config.toml") });
    const vars = parse(readFileSync(written.envFile, "utf8"));
    expect(vars.JWT_SECRET).toBe(passwords.jwtSecret);
    expect(vars.REDIS_KEY_PREFIX).toBe(`e2e${suffix}:`);
    const r = await checkBackend(vars);
    // FerretDB 1.24 has no users (the stack lists "users" in allowMissingFeatures), so the app user's
    // URL cannot authenticate there: that one check is not passed but named as the server's gap.
    // Against a real MongoDB (MONGODB_URL) all four must pass.
    const ferretGap = r.failed.filter((l) => /^MongoDB: Unsupported authentication mechanism/.test(l));
    expect(r.failed.filter((l) => !ferretGap.includes(l))).toEqual([]);
    if (ferretGap.length > 0) console.warn(`check-backend MongoDB not verified here (the test server lacks users): ${ferretGap[0]}`);
    expect(r.ok.map((l) => l.slice(0, l.indexOf(":")))).toEqual(["JWT_SECRET", "PostgreSQL", ...(ferretGap.length ? [] : ["MongoDB"]), "Redis"]);
    expect(r.ok.find((l) => l.startsWith("PostgreSQL"))).toContain(`${roles.app}@${db}`);
  }, 120_000);

  it("keeps no generated or configured password in plain text in the state", async () => {
    // `pulumi stack export` as an operator runs it (the Automation API's exportStack shows secrets).
    const exported = JSON.parse(
      execFileSync(path.join(pulumiRoot(), "bin", "pulumi"), ["stack", "export", "--stack", stack.name], { cwd: copy.dir, env: { ...process.env, ...stackEnv(copy.backend) }, encoding: "utf8" }),
    ) as unknown;
    for (const [k, v] of Object.entries(passwords)) expect(pathsHolding(exported, v), `${k} in plain text`).toEqual([]);
  });

  it("previews exactly an added migration, then applies it", async () => {
    writeFileSync(path.join(copy.dir, "sql/migrations/006_e2e_watchlist.sql"), "CREATE TABLE e2e_watchlist (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, sha256 text NOT NULL);\n");
    writeFileSync(path.join(copy.dir, "sql/migrations/006_e2e_watchlist.down.sql"), "DROP TABLE e2e_watchlist;\n");
    const p = await stack.preview({ diff: true, color: "never" });
    expect(p.stdout).toContain("006_e2e_watchlist");
    expect(p.stdout).not.toMatch(/00[1-5]_[a-z_]+ *(will|pending)/);
    expect(p.changeSummary.replace ?? 0).toBe(0);
    const up = await stack.up({ color: "never" });
    expect((up.outputs.postgres.value as { schemaVersion: number }).schemaVersion).toBe(6);
    // The app role can use the new table at once (default privileges).
    expect(await pgQuery(roleUrl(roles.app, passwords.postgresAppPassword), "SELECT count(*) AS n FROM e2e_watchlist")).toEqual([{ n: "0" }]);
  }, 600_000);

  it("reports drift of the database's own history in the preview", async () => {
    const url = pgUrlFor(db);
    const [row] = await pgQuery<Record<string, unknown>>(url, "SELECT * FROM schema_migrations WHERE version = 6");
    await pgQuery(url, "DELETE FROM schema_migrations WHERE version = 6");
    try {
      const p = await stack.preview({ diff: true, color: "never" });
      expect(p.stdout).toContain("liveDrift");
      expect(p.stdout).toContain("006_e2e_watchlist was removed from the history table outside this stack");
    } finally {
      const cols = Object.keys(row);
      await pgQuery(url, `INSERT INTO schema_migrations (${cols.join(", ")}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(", ")})`, Object.values(row));
    }
  }, 300_000);

  it("fails the preview when an applied migration was edited, naming the file", async () => {
    const file = path.join(copy.dir, "sql/migrations/003_blockchain.sql");
    const original = readFileSync(file, "utf8");
    appendFileSync(file, "\n-- an edit after the fact\n");
    try {
      const err = await stack.preview({ diff: true, color: "never" }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).toContain("003_blockchain.sql");
      expect(err?.message).toMatch(/checksum/i);
    } finally {
      writeFileSync(file, original);
    }
  }, 300_000);

  it("previews a new index as a planned action", async () => {
    const file = path.join(copy.dir, "mongo/collections.ts");
    const before = readFileSync(file, "utf8");
    const anchor = '{ serves: "all analyses of a file by hash, newest first", key: { sha256: 1, timestamp: -1 } },';
    expect(before).toContain(anchor);
    writeFileSync(file, before.replace(anchor, `${anchor}\n        { serves: "e2e: results by verdict", key: { verdict: 1, timestamp: -1 } },`));
    try {
      const p = await stack.preview({ diff: true, color: "never" });
      expect(p.stdout, p.stdout).toContain("create index analysis_results.verdict_1_timestamp_-1");
    } finally {
      writeFileSync(file, before);
    }
  }, 300_000);

  it("previews a re-warm when the warmup's source data changes", async () => {
    await pgQuery(pgUrlFor(db), "UPDATE engines SET name = name || ' (renamed)' WHERE id = (SELECT id FROM engines ORDER BY id LIMIT 1)");
    const p = await stack.preview({ diff: true, color: "never" });
    expect(p.stdout).toMatch(/pendingReasons/);
    expect(p.stdout).toMatch(/source data changed|data changed/i);
  }, 300_000);

  it("destroy removes the stack's resources and keeps the data", async () => {
    const d = await stack.destroy({ color: "never" });
    expect(d.summary.result).toBe("succeeded");
    const [r] = await pgQuery<{ users: string; version: string }>(pgUrlFor(db), "SELECT (SELECT count(*) FROM users) AS users, (SELECT max(version) FROM schema_migrations) AS version");
    expect(Number(r.users)).toBe(5);
    expect(Number(r.version)).toBe(6);
    const m = await MongoClient.connect(MONGODB_URL);
    try {
      expect((await m.db(db).listCollections().toArray()).length).toBeGreaterThanOrEqual(6);
    } finally {
      await m.close();
    }
  }, 600_000);
});
