// The warmup engine against the real migrations and seed data on PostgreSQL and a private
// redis-server started from the rendered config; the warmup runs as the warmup ACL user.
import * as path from "node:path";
import Redis, { type RedisOptions } from "ioredis";
import { Client } from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { renderAclFile, renderRedisConf } from "../../../engines/redis/render";
import { parseRedisSettings, type RedisSettingsInput } from "../../../engines/redis/settings";
import { markerKey, warmRedis as warmWith, warmupStatus as statusWith, WarmupError, type WarmupConnections, type WarmupMarker, type WarmupRunOptions } from "../../../engines/redis/warmup";
import { REDIS_DECLARATIONS } from "../../../redis/declarations";
import { buildKeyspaceLayout, type KeyspaceOptions } from "../../../engines/redis/keyspace";
import { KEYSPACE } from "../../../redis/layout";
import { freshDatabase, type FreshDatabase } from "../../helpers/pg";
import { addEngineWithKey, addVerdict, loadSchemaAndSeeds } from "./pgdata";
import { freePort, startRedisServer, tempDir, type RedisProcess } from "../../helpers/redis-server";

// The platform's declarations, passed as the callers pass them.
const warmRedis = (conn: WarmupConnections, options?: WarmupRunOptions) => warmWith(conn, REDIS_DECLARATIONS, options);
const warmupStatus = (conn: WarmupConnections) => statusWith(conn, REDIS_DECLARATIONS);

const keyspaceLayout = (options?: KeyspaceOptions) => buildKeyspaceLayout(KEYSPACE, options);

const PASSWORDS = { admin: "admin-secret-1b2c3d", app: "app-secret-4e5f6a", readonly: "ro-secret-7b8c9d", warmup: "warm-secret-0e1f2a" };

interface Env {
  server: RedisProcess;
  warmupUser: RedisOptions;
  admin(db?: number): Promise<Redis>;
  close(): Promise<void>;
}

async function redisEnv(tag: string, input: RedisSettingsInput = {}): Promise<Env> {
  const tmp = tempDir(tag);
  const port = await freePort();
  const settings = parseRedisSettings({ ...input, port, aclFile: path.join(tmp.dir, "users.acl"), persistence: { dir: tmp.dir, appendfsync: "always", ...(input.persistence ?? {}) } });
  const server = await startRedisServer({
    dir: tmp.dir,
    port,
    files: { "redis.conf": renderRedisConf(settings), "users.acl": renderAclFile(settings, PASSWORDS, REDIS_DECLARATIONS) },
  });
  const admins: Redis[] = [];
  return {
    server,
    warmupUser: { host: "127.0.0.1", port, username: "nexus_warmup", password: PASSWORDS.warmup },
    admin: async (db = 0) => {
      const c = new Redis({ host: "127.0.0.1", port, username: "nexus_admin", password: PASSWORDS.admin, db, lazyConnect: true, maxRetriesPerRequest: 1 });
      admins.push(c);
      await c.connect();
      return c;
    },
    close: async () => {
      for (const c of admins) c.disconnect();
      await server.stop();
      tmp.remove();
    },
  };
}

/** Writes of string keys so far: SET, and APPEND and SETRANGE (digest records). */
async function writeCalls(admin: Redis): Promise<number> {
  const stats = await admin.info("commandstats");
  return ["set", "append", "setrange"].reduce((n, c) => n + Number(new RegExp(`cmdstat_${c}:calls=(\\d+)`).exec(stats)?.[1] ?? 0), 0);
}

async function readMarker(admin: Redis, db: number, name: Parameters<typeof markerKey>[1], ks: KeyspaceOptions = {}): Promise<WarmupMarker | null> {
  await admin.select(db);
  const raw = await admin.get(markerKey(keyspaceLayout(ks), name));
  return raw === null ? null : (JSON.parse(raw) as WarmupMarker);
}

describe("cache warmup from PostgreSQL", () => {
  let pgdb: FreshDatabase;
  let pg: Client;
  let seeded = false;
  let verdictSha: string;
  let expected: { engines: number; tiers: number; apiKeys: number; verdicts: number };
  let env: Env | undefined;

  const countSource = async () => {
    const one = async (sql: string) => Number((await pg.query<{ n: string }>(sql)).rows[0].n);
    return {
      engines: await one(`SELECT count(*) AS n FROM engines WHERE status <> 'retired'`),
      tiers: await one(`SELECT count(*) AS n FROM api_rate_limit_tiers`),
      apiKeys: await one(`SELECT count(*) AS n FROM api_key_rate_limits`),
      verdicts: await one(`SELECT count(DISTINCT COALESCE(f.sha256, s.url_sha256)) AS n FROM consensus_results c JOIN bounties b ON b.id = c.bounty_id
                           JOIN submissions s ON s.id = b.submission_id LEFT JOIN file_artifacts f ON f.id = s.file_artifact_id
                           WHERE c.reached_at > now() - interval '24 hours'`),
    };
  };

  beforeAll(async () => {
    pgdb = await freshDatabase("redis_warmup");
    pg = new Client({ connectionString: pgdb.url });
    await pg.connect();
    ({ seeded } = await loadSchemaAndSeeds(pg));
    // The analysis cache holds the last 24 h; the seed's verdicts have fixed dates, so add a fresh one.
    verdictSha = await addVerdict(pg, "warm_recent", 2);
    await addVerdict(pg, "warm_old", 30); // outside the 24 h window: not cached
    if (!seeded) await addEngineWithKey(pg, "warm_engine_a", 700);
    expected = await countSource();
  });
  afterAll(async () => {
    await pg?.end();
    await pgdb?.drop();
  });
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  it("warms the seed data: counts equal the source, values are JSON, TTLs within bounds", async () => {
    env = await redisEnv("counts");
    expect(expected.engines).toBeGreaterThan(0);
    expect(expected.apiKeys).toBeGreaterThan(0);
    expect(expected.verdicts).toBeGreaterThanOrEqual(1);
    const r = await warmRedis({ database: pgdb.url, redis: env.warmupUser });
    expect(r.warmed).toBe(true);
    expect(r.counts).toEqual({
      "engine-reputation": expected.engines,
      "engine-ranking": 1,
      "rate-limit-tiers": expected.tiers,
      "api-key-quotas": expected.apiKeys,
      "analysis-verdicts": expected.verdicts,
    });
    expect(r.written).toEqual({ reputationCache: expected.engines + 1, rateLimit: expected.tiers + expected.apiKeys, analysisCache: expected.verdicts });
    expect(r.notes).toEqual([]);

    const db3 = await env.admin(3);
    const engineKeys = await db3.keys("nexus:reputation:engine:*");
    expect(engineKeys).toHaveLength(expected.engines);
    const engine = JSON.parse((await db3.get(engineKeys[0]))!) as { id: string; reputationScore: number };
    expect(engineKeys[0]).toBe(`nexus:reputation:engine:${engine.id}`);
    expect(typeof engine.reputationScore).toBe("number");
    expect(await db3.ttl(engineKeys[0])).toBe(-1); // the reputation cache has no TTL
    const ranking = JSON.parse((await db3.get("nexus:reputation:ranking:active"))!) as { score: number }[];
    expect(ranking.map((e) => e.score)).toEqual([...ranking.map((e) => e.score)].sort((a, b) => b - a));

    const db1 = await env.admin(1);
    expect((await db1.keys("nexus:ratelimit:tier:*")).sort()).toEqual(["nexus:ratelimit:tier:engine", "nexus:ratelimit:tier:enterprise", "nexus:ratelimit:tier:free", "nexus:ratelimit:tier:pro"]);
    expect(JSON.parse((await db1.get("nexus:ratelimit:tier:free"))!)).toMatchObject({ requestsPerMinute: 60, isDefault: true });
    const apiKeys = await db1.keys("nexus:ratelimit:apikey:*");
    expect(apiKeys).toHaveLength(expected.apiKeys);
    // API keys live until their own expiry at most.
    const { rows: expiring } = await pg.query<{ key_hash: string; expires_at: Date }>(`SELECT key_hash, expires_at FROM api_key_rate_limits WHERE expires_at IS NOT NULL`);
    for (const k of expiring) {
      const pttl = await db1.pttl(`nexus:ratelimit:apikey:${k.key_hash}`);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(k.expires_at.getTime() - Date.now() + 1000);
    }

    // Verdicts: 24 h after consensus at most — the fresh one was reached 2 h ago, so 22 h are left.
    const db2 = await env.admin(2);
    expect(await db2.keys("nexus:analysis:verdict:*")).toHaveLength(expected.verdicts);
    expect(await db2.exists(`nexus:analysis:verdict:${verdictSha}`)).toBe(1);
    const ttl = await db2.ttl(`nexus:analysis:verdict:${verdictSha}`);
    expect(ttl).toBeGreaterThan(22 * 3600 - 120);
    expect(ttl).toBeLessThanOrEqual(22 * 3600);
    // Markers: one per warmed database, with that database's version and digest tables; DB 2's expires with its entries.
    const versions = new Set<string>();
    for (const [db, name, sets] of [[3, "reputationCache", ["engine-reputation", "engine-ranking"]], [1, "rateLimit", ["rate-limit-tiers", "api-key-quotas"]], [2, "analysisCache", ["analysis-verdicts"]]] as const) {
      const marker = (await readMarker(db3, db, name))!;
      expect(marker.version).toMatch(/^[0-9a-f]{32}$/);
      expect(Object.keys(marker.digests).sort()).toEqual([...sets].sort());
      versions.add(marker.version);
    }
    expect(versions.size).toBe(3);
    await db2.select(2);
    expect(await db2.ttl(markerKey(keyspaceLayout(), "analysisCache"))).toBeGreaterThan(24 * 3600 - 120);
    expect(await db2.ttl(markerKey(keyspaceLayout(), "analysisCache"))).toBeLessThanOrEqual(24 * 3600);

    // Databases the warmup does not own stay empty.
    for (const db of [0, 4, 5]) {
      await db3.select(db);
      expect(await db3.dbsize()).toBe(0);
    }
  });

  it("a second run writes nothing; FLUSHDB makes the next run re-warm that database", async () => {
    env = await redisEnv("idempotent");
    const first = await warmRedis({ database: pgdb.url, redis: env.warmupUser });
    expect(first.warmed).toBe(true);
    const admin = await env.admin(0);
    const before = await writeCalls(admin);

    const status = await warmupStatus({ database: pgdb.url, redis: env.warmupUser });
    expect(status).toMatchObject({ needed: false, reasons: [], version: first.version });
    const second = await warmRedis({ database: pgdb.url, redis: env.warmupUser });
    expect(second).toMatchObject({ warmed: false, needed: false, written: {}, deleted: 0, version: first.version });
    expect(await writeCalls(admin)).toBe(before + 1); // the lock's SET NX, nothing else

    const db1 = await env.admin(1);
    await db1.flushdb();
    const after = await warmupStatus({ database: pgdb.url, redis: env.warmupUser });
    expect(after.needed).toBe(true);
    expect(after.reasons).toEqual([`DB 1 (rateLimit): no warmup marker (never warmed, flushed, expired or evicted): full warm: ${expected.tiers + expected.apiKeys} key(s) to write`]);
    expect(after.changes).toEqual({ rateLimit: { write: expected.tiers + expected.apiKeys, delete: 0, unchanged: 0, full: true } });
    const third = await warmRedis({ database: pgdb.url, redis: env.warmupUser });
    expect(third.warmed).toBe(true);
    expect(await db1.keys("nexus:ratelimit:tier:*")).toHaveLength(expected.tiers);
    expect(await db1.keys("nexus:ratelimit:apikey:*")).toHaveLength(expected.apiKeys);
    expect((await warmRedis({ database: pgdb.url, redis: env.warmupUser })).warmed).toBe(false);
  });

  it("re-warms when the source data changes, removes stale keys, and leaves every other key alone", async () => {
    env = await redisEnv("change");
    // Keys the warmup does not own, in the databases it writes and in the others.
    const foreign: [number, string][] = [[3, "nexus:reputation:engine-notes:1"], [3, "nexus:reputation:other"], [3, "other:engine:1"], [1, "nexus:ratelimit:user:1"], [0, "nexus:session:1"], [2, "nexus:analysis:x"]];
    const admin = await env.admin(0);
    for (const [db, key] of foreign) {
      await admin.select(db);
      await admin.set(key, "keep");
    }
    const first = await warmRedis({ database: pgdb.url, redis: env.warmupUser });
    const added = await addEngineWithKey(pg, "warm_engine_b", 950);
    try {
      const plan = await warmupStatus({ database: pgdb.url, redis: env.warmupUser });
      expect(plan.needed).toBe(true);
      // Incremental: the new engine's key and the ranking (it lists the engine) in DB 3, the new API key in DB 1.
      expect(plan.reasons).toContain(
        `DB 3 (reputationCache): source data changed since the last warmup (${(await readMarker(admin, 3, "reputationCache"))!.warmedAt}): 2 key(s) to write, 0 to delete, ${expected.engines} unchanged`,
      );
      expect(plan.changes).toEqual({
        reputationCache: { write: 2, delete: 0, unchanged: expected.engines, full: false },
        rateLimit: { write: 1, delete: 0, unchanged: expected.tiers + expected.apiKeys, full: false },
      });
      const setsBefore = await writeCalls(admin);
      const second = await warmRedis({ database: pgdb.url, redis: env.warmupUser });
      expect(second.warmed).toBe(true);
      expect(second.written).toEqual({ reputationCache: 2, rateLimit: 1 });
      // Only the changed keys, plus one digest write per set that changed (one bucket each at this
      // size: a record appended where the rows' versions named the keys, the bucket rewritten where
      // every row was compared — the ranking), the two markers and the lock.
      expect((await writeCalls(admin)) - setsBefore).toBe(3 + 3 + 2 + 1);
      // engine-reputation is tracked too unless a reputation_scores row was newer than the first
      // warm's horizon (a transaction elsewhere on the server held it back): its guard then compares.
      expect(second.tracking).toMatchObject({ "rate-limit-tiers": "tracked", "api-key-quotas": "tracked" });
      expect(second.tracking["engine-reputation"]).toMatch(/^(tracked|reputation_scores had rows newer than the last complete warm's horizon)$/);
      expect(second.version).not.toBe(first.version);
      await admin.select(3);
      expect(JSON.parse((await admin.get(`nexus:reputation:engine:${added.engineId}`))!)).toMatchObject({ reputationScore: 950 });
      expect((JSON.parse((await admin.get("nexus:reputation:ranking:active"))!) as { id: string }[])[0].id).toBe(added.engineId);
    } finally {
      // Retiring the engine takes it (and, with the engine inactive, its key) out of the source.
      await pg.query(`UPDATE engines SET status = 'retired' WHERE id = $1`, [added.engineId]);
    }
    const third = await warmRedis({ database: pgdb.url, redis: env.warmupUser });
    expect(third.deleted).toBe(2);
    expect(third.written).toEqual({ reputationCache: 1, rateLimit: 0 }); // the ranking; DB 1 only lost a key
    await admin.select(3);
    expect(await admin.exists(`nexus:reputation:engine:${added.engineId}`)).toBe(0);
    await admin.select(1);
    expect(await admin.exists(`nexus:ratelimit:apikey:${added.keyHash}`)).toBe(0);
    for (const [db, key] of foreign) {
      await admin.select(db);
      expect(`${db} ${key} ${await admin.get(key)}`).toBe(`${db} ${key} keep`);
    }
  });

  it("notices a warmed key that was evicted or deleted under a valid marker", async () => {
    env = await redisEnv("evicted");
    await warmRedis({ database: pgdb.url, redis: env.warmupUser });
    const db1 = await env.admin(1);
    await db1.del("nexus:ratelimit:tier:pro");
    const plan = await warmupStatus({ database: pgdb.url, redis: env.warmupUser });
    expect(plan.reasons).toEqual([expect.stringMatching(/^DB 1 \(rateLimit\): 1 of \d+ sampled warmed keys are missing/)]);
    expect((await warmRedis({ database: pgdb.url, redis: env.warmupUser })).warmed).toBe(true);
    expect(await db1.exists("nexus:ratelimit:tier:pro")).toBe(1);
  });

  it("a Redis restart mid-warmup fails with a clear error, leaves no partial marker, and the next run completes", async () => {
    env = await redisEnv("restart");
    const first = await warmRedis({ database: pgdb.url, redis: env.warmupUser });
    const added = await addEngineWithKey(pg, "warm_engine_c", 10);
    const server = env.server;
    let restarted = false;
    let error: unknown;
    try {
      await warmRedis(
        { database: pgdb.url, redis: env.warmupUser },
        {
          batchSize: 1,
          // The killed server keeps the lock (AOF) until it expires: a short one, so the next run waits little.
          lock: { ttlMs: 3000 },
          onProgress: async (p) => {
            if (p.set === "api-key-quotas" && !restarted) {
              restarted = true;
              await server.restart();
            }
          },
        },
      );
    } catch (e) {
      error = e;
    } finally {
      await pg.query(`UPDATE engines SET status = 'retired' WHERE id = $1`, [added.engineId]);
    }
    expect(restarted).toBe(true);
    expect(error).toBeInstanceOf(WarmupError);
    expect((error as Error).message).toMatch(
      // Where the restart lands decides which of the two it is: mid-send, or after every key was sent.
      /^warmup (stopped after sending \d+ command\(s\)|wrote its keys but could not complete): the connection to Redis was lost .*No warmup marker was written for .*, so the next run .*warm/,
    );
    // The databases it had started writing (3 and 1) have no marker; DB 2 had nothing to change and keeps its own.
    const admin = await env.admin(0);
    expect(await readMarker(admin, 1, "rateLimit")).toBeNull();
    expect(await readMarker(admin, 3, "reputationCache")).toBeNull();
    expect(await readMarker(admin, 2, "analysisCache")).not.toBeNull();
    expect(first.warmed).toBe(true);
    const plan = await warmupStatus({ database: pgdb.url, redis: env.warmupUser });
    expect(plan.needed).toBe(true);
    const again = await warmRedis({ database: pgdb.url, redis: env.warmupUser });
    expect(again.warmed).toBe(true);
    expect(again.changes.reputationCache?.full).toBe(true);
    expect(again.changes.rateLimit?.full).toBe(true);
    for (const [db, name] of [[3, "reputationCache"], [1, "rateLimit"], [2, "analysisCache"]] as const) {
      expect(await readMarker(admin, db, name)).not.toBeNull();
    }
    expect((await warmRedis({ database: pgdb.url, redis: env.warmupUser })).warmed).toBe(false);
  });

  it("cluster mode: the same data under distinct prefixes on DB 0 of a one-node cluster, within the warmup user's ACL", async () => {
    // A server rendered for cluster mode (a one-node cluster needs its slots); the three-master
    // cluster is warmup-cluster.test.ts.
    env = await redisEnv("cluster", { cluster: true });
    const admin = await env.admin(0);
    await admin.call("CLUSTER", "ADDSLOTSRANGE", "0", "16383");
    // A lone node does not know its own address (CLUSTER SLOTS says ""), which cluster clients skip.
    await admin.config("SET", "cluster-announce-ip", "127.0.0.1");
    for (let i = 0; i < 50 && !String(await admin.call("CLUSTER", "INFO")).includes("cluster_state:ok"); i++) await new Promise((r) => setTimeout(r, 100));
    const r = await warmRedis({ database: pgdb.url, redis: env.warmupUser, keyspace: { cluster: true } });
    expect(r.warmed).toBe(true);
    const keys = await admin.keys("*");
    expect(keys.filter((k) => k.startsWith("nexus:reputation:engine:"))).toHaveLength(expected.engines);
    expect(keys.filter((k) => k.startsWith("nexus:ratelimit:tier:"))).toHaveLength(expected.tiers);
    expect(keys.filter((k) => k.startsWith("nexus:analysis:verdict:"))).toHaveLength(expected.verdicts);
    expect(keys.filter((k) => k.endsWith(":warmup:marker")).sort()).toEqual([
      "nexus:analysis:warmup:marker",
      "nexus:ratelimit:warmup:marker",
      "nexus:reputation:warmup:marker",
    ]);
    expect((await warmRedis({ database: pgdb.url, redis: env.warmupUser, keyspace: { cluster: true } })).warmed).toBe(false);
  });
});
