// doctor and stats against real servers: each check turns WARN or FAIL when its condition is made
// real (pending migrations, an edited history row, a long transaction, a lock wait, an unreachable
// server, Redis at its memory limit and evicting, no warm marker), and the CLI exits 1 on FAIL.
import * as path from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../helpers/cli";
import { MongoClient } from "mongodb";
import { DirectoryMigrationSource } from "../../../engines/postgres";
import { doctor, doctorExitCode, type Check } from "../../../engines/ops/doctor";
import { collectStats } from "../../../engines/ops/stats";
import { redisClient } from "../../../engines/backup";
import { nexusCollections } from "../../../mongo/collections";
import { freshDatabase, withClient, type FreshDatabase } from "../../helpers/pg";
import { MONGODB_URL, uniqueSuffix } from "../../helpers/env";
import { platformSchema } from "../backup/data";
import { startPrivateRedis, type PrivateRedis } from "../../helpers/redis-server";

const ROOT = path.resolve(__dirname, "../../..");
const migrations = new DirectoryMigrationSource(path.join(ROOT, "sql/migrations"));
const find = (checks: Check[], store: string, check: string) => checks.find((c) => c.store === store && c.check === check);

describe("nexus-db doctor", () => {
  let db: FreshDatabase;
  let redis: PrivateRedis;

  beforeAll(async () => {
    db = await freshDatabase("doctor");
    redis = await startPrivateRedis();
    await platformSchema(db.url, { targetVersion: 4, seeds: false });
  }, 300_000);
  afterAll(async () => {
    await db?.drop();
    await redis?.stop();
  });

  it("PostgreSQL: pending migrations warn, an edited history checksum fails, and the exit status says so", async () => {
    let checks = await doctor({ postgres: { url: db.url, migrations } });
    expect(find(checks, "postgres", "reachable")!.status).toBe("OK");
    expect(find(checks, "postgres", "migrations")).toMatchObject({ status: "WARN", detail: expect.stringMatching(/1 pending: 005_fix_user_schema \(at version 4\)/) });
    expect(doctorExitCode(checks)).toBe(0);
    await withClient(db.url, (c) => c.query("UPDATE schema_migrations SET checksum = 'sha256:' || repeat('0', 64) WHERE version = 2"));
    checks = await doctor({ postgres: { url: db.url, migrations } });
    expect(find(checks, "postgres", "migration drift")).toMatchObject({ status: "FAIL", next: expect.stringMatching(/repairChecksums/) });
    expect(doctorExitCode(checks)).toBe(1);
  });

  it("PostgreSQL: a long transaction and a lock wait are named with their pids", async () => {
    const holder = new Client({ connectionString: db.url });
    const waiter = new Client({ connectionString: db.url });
    await holder.connect();
    await waiter.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE");
      const holderPid = (await holder.query<{ p: number }>("SELECT pg_backend_pid() AS p")).rows[0].p;
      const waiting = waiter.query("SELECT count(*) FROM users").catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1500));
      const checks = await doctor({ postgres: { url: db.url }, longTransactionSeconds: 1 });
      expect(find(checks, "postgres", "long transactions")).toMatchObject({ status: "WARN", detail: expect.stringContaining(`pid ${holderPid}`) });
      expect(find(checks, "postgres", "lock waits")).toMatchObject({ status: "WARN", detail: expect.stringMatching(new RegExp(`waits \\d+ s on ${holderPid}`)) });
      await holder.query("ROLLBACK");
      await waiting;
    } finally {
      await holder.end();
      await waiter.end();
    }
  });

  it("an unreachable store is a FAIL with the next step, and the CLI exits 1", async () => {
    const checks = await doctor({ postgres: { url: "postgres://postgres@127.0.0.1:1/none" }, redis: { url: "redis://127.0.0.1:1" } });
    expect(find(checks, "postgres", "reachable")).toMatchObject({ status: "FAIL", next: expect.stringMatching(/pg_isready/) });
    expect(find(checks, "redis", "reachable")).toMatchObject({ status: "FAIL", next: expect.stringMatching(/redis-cli/) });
    const cli = runCli(["doctor", "--url", "postgres://postgres@127.0.0.1:1/none"]);
    expect(cli.status).toBe(1);
    expect(cli.stdout).toMatch(/^FAIL\s+postgres reachable/m);
    expect(cli.stdout).toMatch(/0 OK, 0 WARN, 1 FAIL/);
  });

  it("Redis: memory near maxmemory under noeviction fails; evictions and a missing warm marker warn", async () => {
    const r = await redisClient({ url: redis.url });
    try {
      const markers = [{ db: 3, key: "nexus:warmup:marker", name: "reputationCache" }];
      let checks = await doctor({ redis: { url: redis.url, markers } });
      expect(find(checks, "redis", "memory")).toMatchObject({ status: "WARN", detail: expect.stringMatching(/no maxmemory/) });
      expect(find(checks, "redis", "warm marker DB 3")).toMatchObject({ status: "WARN", detail: expect.stringMatching(/no warmup marker/) });
      const used = Number(/used_memory:(\d+)/.exec(await r.info("memory"))![1]);
      await r.config("SET", "maxmemory", String(Math.floor(used * 1.05)));
      checks = await doctor({ redis: { url: redis.url } });
      expect(find(checks, "redis", "memory")!.status).toBe("FAIL");
      await r.config("SET", "maxmemory-policy", "allkeys-lru");
      const p = r.pipeline();
      for (let i = 0; i < 5000; i++) p.set(`fill:${i}`, "x".repeat(200));
      await p.exec().catch(() => undefined);
      checks = await doctor({ redis: { url: redis.url, markers } });
      expect(find(checks, "redis", "evictions")).toMatchObject({ status: "WARN", detail: expect.stringMatching(/\d+ keys evicted/) });
      await r.config("SET", "maxmemory", "0");
      const r3 = await redisClient({ url: redis.url }, 3);
      await r3.set("nexus:warmup:marker", JSON.stringify({ version: "abc", warmedAt: "2026-01-01T00:00:00Z" }));
      r3.disconnect();
      checks = await doctor({ redis: { url: redis.url, markers } });
      expect(find(checks, "redis", "warm marker DB 3")).toMatchObject({ status: "OK", detail: expect.stringMatching(/version abc, warmed 2026-01-01/) });
    } finally {
      await r.config("SET", "maxmemory", "0");
      await r.config("SET", "maxmemory-policy", "noeviction");
      r.disconnect();
    }
  });

  it("MongoDB: the declared collections and indexes are compared with the server", async () => {
    const database = `nexus_doctor_${uniqueSuffix()}`;
    const checks = await doctor({ mongo: { url: MONGODB_URL, database, collections: nexusCollections() } });
    expect(find(checks, "mongo", "reachable")!.status).toBe("OK");
    // An empty database: every declared collection is missing, so the plan has work to do.
    expect(find(checks, "mongo", "collections and indexes")).toMatchObject({ status: "WARN", detail: expect.stringMatching(/differences from mongo\/: create collection/) });
    const c = await new MongoClient(MONGODB_URL).connect();
    await c.db(database).dropDatabase();
    await c.close();
  });
});

describe("nexus-db stats", () => {
  let db: FreshDatabase;
  beforeAll(async () => {
    db = await freshDatabase("stats");
    await withClient(db.url, async (c) => {
      // No autovacuum: a quarter of the rows deleted is past its threshold, and it would clear the
      // dead tuples this test reads (seen once on a busy machine: 0 dead rows).
      await c.query("CREATE TABLE t (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false)");
      await c.query("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 2000) g");
      await c.query("CREATE INDEX t_v_a ON t (v)");
      await c.query("CREATE INDEX t_v_b ON t (v)");
      await c.query("DELETE FROM t WHERE id <= 500");
      await c.query("ANALYZE t");
      // PostgreSQL 15+ flushes this session's statistics now instead of within a second.
      await c.query("SELECT pg_stat_force_next_flush()").catch(() => undefined);
    });
  });
  afterAll(async () => db?.drop());

  it("PostgreSQL: sizes, duplicate and unused indexes, a bloat estimate and the cache hit ratio", async () => {
    // The statistics collector reports with a short delay.
    await new Promise((r) => setTimeout(r, 1000));
    const { postgres } = await collectStats({ postgres: { url: db.url } });
    const t = postgres!.tables.find((x) => x.table === "public.t")!;
    expect(t.totalBytes).toBeGreaterThan(t.tableBytes);
    // Live and dead tuple counts are the statistics collector's estimates, not exact counts.
    expect(t.liveRows).toBeGreaterThanOrEqual(1500);
    expect(t.deadRows).toBeGreaterThan(0);
    expect(t.deadRatio).toBeGreaterThan(0.05);
    expect(postgres!.duplicateIndexes).toEqual([{ table: "public.t", indexes: ["public.t_v_a", "public.t_v_b"], bytes: expect.any(Number) }]);
    expect(postgres!.unusedIndexes.map((i) => i.index)).toEqual(expect.arrayContaining(["public.t_v_a", "public.t_v_b"]));
    expect(postgres!.unusedIndexes.map((i) => i.index)).not.toContain("public.t_pkey");
    expect(postgres!.cacheHitRatio).toBeGreaterThan(0);
    expect(postgres!.notes.join(" ") + JSON.stringify(postgres!.slowestStatements ?? [])).toMatch(/pg_stat_statements|query/);
  });

  it("Redis and MongoDB: INFO per database with hit rate; collection stats", async () => {
    const redis = await startPrivateRedis();
    const database = `nexus_stats_${uniqueSuffix()}`;
    const mongo = await new MongoClient(MONGODB_URL).connect();
    try {
      const r = await redisClient({ url: redis.url }, 2);
      await r.set("a", "1", "EX", 100);
      await r.set("b", "2");
      await r.get("a");
      await r.get("missing");
      r.disconnect();
      await mongo.db(database).collection("c").insertMany([{ a: 1 }, { a: 2 }, { a: 3 }]);
      const s = await collectStats({ redis: { url: redis.url }, mongo: { url: MONGODB_URL, database } });
      expect(s.redis!.databases).toEqual([{ db: 2, keys: 2, expires: 1, avgTtlMs: expect.any(Number) }]);
      expect(s.redis!.hits).toBe(1);
      expect(s.redis!.misses).toBe(1);
      expect(s.redis!.hitRate).toBe(0.5);
      expect(s.mongo!.collections).toEqual([expect.objectContaining({ name: "c", documents: 3 })]);
      const run = runCli(["stats", "--url", redis.url, "--json"]);
      expect(run.status, run.stderr).toBe(0);
      const cli = run.stdout;
      expect(JSON.parse(cli).redis.databases[0].keys).toBe(2);
    } finally {
      await mongo.db(database).dropDatabase();
      await mongo.close();
      await redis.stop();
    }
  });
});
