// The warmup engine against the real migrations and seed data on PostgreSQL and a private
// redis-server started from the rendered config; the warmup runs as the warmup ACL user.
import * as path from "node:path";
import Redis, { type RedisOptions } from "ioredis";
import { Client } from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { renderAclFile, renderRedisConf } from "../../engines/redis/render";
import { parseRedisSettings, type RedisSettingsInput } from "../../engines/redis/settings";
import { markerKey, warmRedis, warmupStatus, WarmupError, type WarmupMarker } from "../../engines/redis/warmup";
import { keyspaceLayout, type KeyspaceOptions } from "../../redis/layout";
import { freshDatabase, type FreshDatabase } from "../helpers/pg";
import { addEngineWithKey, addVerdict, loadSchemaAndSeeds } from "./pgdata";
import { freePort, startRedisServer, tempDir, type RedisProcess } from "./server";

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
    files: { "redis.conf": renderRedisConf(settings), "users.acl": renderAclFile(settings, PASSWORDS) },
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

async function setCalls(admin: Redis): Promise<number> {
  const stats = await admin.info("commandstats");
  return Number(/cmdstat_set:calls=(\d+)/.exec(stats)?.[1] ?? 0);
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
    const engineKeys = await db3.keys("nexus:engine:*");
    expect(engineKeys).toHaveLength(expected.engines);
    const engine = JSON.parse((await db3.get(engineKeys[0]))!) as { id: string; reputationScore: number };
    expect(engineKeys[0]).toBe(`nexus:engine:${engine.id}`);
    expect(typeof engine.reputationScore).toBe("number");
    expect(await db3.ttl(engineKeys[0])).toBe(-1); // the reputation cache has no TTL
    const ranking = JSON.parse((await db3.get("nexus:ranking:active"))!) as { score: number }[];
    expect(ranking.map((e) => e.score)).toEqual([...ranking.map((e) => e.score)].sort((a, b) => b - a));

    const db1 = await env.admin(1);
    expect((await db1.keys("nexus:tier:*")).sort()).toEqual(["nexus:tier:engine", "nexus:tier:enterprise", "nexus:tier:free", "nexus:tier:pro"]);
    expect(JSON.parse((await db1.get("nexus:tier:free"))!)).toMatchObject({ requestsPerMinute: 60, isDefault: true });
    const apiKeys = await db1.keys("nexus:apikey:*");
    expect(apiKeys).toHaveLength(expected.apiKeys);
    // API keys live until their own expiry at most.
    const { rows: expiring } = await pg.query<{ key_hash: string; expires_at: Date }>(`SELECT key_hash, expires_at FROM api_key_rate_limits WHERE expires_at IS NOT NULL`);
    for (const k of expiring) {
      const pttl = await db1.pttl(`nexus:apikey:${k.key_hash}`);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(k.expires_at.getTime() - Date.now() + 1000);
    }

    // Verdicts: 24 h after consensus at most — the fresh one was reached 2 h ago, so 22 h are left.
    const db2 = await env.admin(2);
    expect(await db2.keys("nexus:verdict:*")).toHaveLength(expected.verdicts);
    expect(await db2.exists(`nexus:verdict:${verdictSha}`)).toBe(1);
    const ttl = await db2.ttl(`nexus:verdict:${verdictSha}`);
    expect(ttl).toBeGreaterThan(22 * 3600 - 120);
    expect(ttl).toBeLessThanOrEqual(22 * 3600);
    // Markers: one per warmed database, same version; DB 2's expires with its entries.
    for (const [db, name] of [[3, "reputationCache"], [1, "rateLimit"], [2, "analysisCache"]] as const) {
      expect(await readMarker(db3, db, name)).toMatchObject({ version: r.version });
    }
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
    const before = await setCalls(admin);

    const status = await warmupStatus({ database: pgdb.url, redis: env.warmupUser });
    expect(status).toMatchObject({ needed: false, reasons: [], version: first.version });
    const second = await warmRedis({ database: pgdb.url, redis: env.warmupUser });
    expect(second).toMatchObject({ warmed: false, needed: false, written: {}, deleted: 0, version: first.version });
    expect(await setCalls(admin)).toBe(before);

    const db1 = await env.admin(1);
    await db1.flushdb();
    const after = await warmupStatus({ database: pgdb.url, redis: env.warmupUser });
    expect(after.needed).toBe(true);
    expect(after.reasons).toEqual(["DB 1 (rateLimit): no warmup marker (never warmed, flushed, expired or evicted)"]);
    const third = await warmRedis({ database: pgdb.url, redis: env.warmupUser });
    expect(third.warmed).toBe(true);
    expect(await db1.keys("nexus:tier:*")).toHaveLength(expected.tiers);
    expect(await db1.keys("nexus:apikey:*")).toHaveLength(expected.apiKeys);
    expect((await warmRedis({ database: pgdb.url, redis: env.warmupUser })).warmed).toBe(false);
  });

  it("re-warms when the source data changes, removes stale keys, and leaves every other key alone", async () => {
    env = await redisEnv("change");
    // Keys the warmup does not own, in the databases it writes and in the others.
    const foreign: [number, string][] = [[3, "nexus:engine-notes:1"], [3, "nexus:other"], [3, "other:engine:1"], [1, "nexus:ratelimit:user:1"], [0, "nexus:sess1"], [2, "nexus:analysis:x"]];
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
      expect(plan.reasons).toContain(`DB 3 (reputationCache): source data changed since the last warmup (${(await readMarker(admin, 3, "reputationCache"))!.warmedAt})`);
      const second = await warmRedis({ database: pgdb.url, redis: env.warmupUser });
      expect(second.warmed).toBe(true);
      expect(second.version).not.toBe(first.version);
      await admin.select(3);
      expect(JSON.parse((await admin.get(`nexus:engine:${added.engineId}`))!)).toMatchObject({ reputationScore: 950 });
      expect((JSON.parse((await admin.get("nexus:ranking:active"))!) as { id: string }[])[0].id).toBe(added.engineId);
    } finally {
      // Retiring the engine takes it (and, with the engine inactive, its key) out of the source.
      await pg.query(`UPDATE engines SET status = 'retired' WHERE id = $1`, [added.engineId]);
    }
    const third = await warmRedis({ database: pgdb.url, redis: env.warmupUser });
    expect(third.deleted).toBe(2);
    await admin.select(3);
    expect(await admin.exists(`nexus:engine:${added.engineId}`)).toBe(0);
    await admin.select(1);
    expect(await admin.exists(`nexus:apikey:${added.keyHash}`)).toBe(0);
    for (const [db, key] of foreign) {
      await admin.select(db);
      expect(`${db} ${key} ${await admin.get(key)}`).toBe(`${db} ${key} keep`);
    }
  });

  it("notices a warmed key that was evicted or deleted under a valid marker", async () => {
    env = await redisEnv("evicted");
    await warmRedis({ database: pgdb.url, redis: env.warmupUser });
    const db1 = await env.admin(1);
    await db1.del("nexus:tier:pro");
    const plan = await warmupStatus({ database: pgdb.url, redis: env.warmupUser });
    expect(plan.reasons).toEqual([expect.stringMatching(/^DB 1 \(rateLimit\): 1 of \d+ sampled warmed keys are missing/)]);
    expect((await warmRedis({ database: pgdb.url, redis: env.warmupUser })).warmed).toBe(true);
    expect(await db1.exists("nexus:tier:pro")).toBe(1);
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
          onBatch: async (p) => {
            if (p.database === "rateLimit" && p.written === 2 && !restarted) {
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
      /^warmup of DB 1 \(rateLimit\) stopped after sending \d+ of \d+ keys: the connection to Redis was lost .*No warmup marker was written, so the next run .* warms again\.$/,
    );
    // DB 3 finished before the restart (its marker is complete and persisted); DB 1 has none.
    const admin = await env.admin(0);
    expect(await readMarker(admin, 1, "rateLimit")).toBeNull();
    expect((await readMarker(admin, 3, "reputationCache"))?.version).not.toBe(first.version);
    const plan = await warmupStatus({ database: pgdb.url, redis: env.warmupUser });
    expect(plan.needed).toBe(true);
    const again = await warmRedis({ database: pgdb.url, redis: env.warmupUser });
    expect(again.warmed).toBe(true);
    for (const [db, name] of [[3, "reputationCache"], [1, "rateLimit"], [2, "analysisCache"]] as const) {
      expect((await readMarker(admin, db, name))?.version).toBe(again.version);
    }
    expect((await warmRedis({ database: pgdb.url, redis: env.warmupUser })).warmed).toBe(false);
  });

  it("cluster mode: the same data under distinct prefixes on DB 0, within the warmup user's cluster ACL", async () => {
    env = await redisEnv("cluster-layout", { cluster: false, keyPrefix: "nexus:" });
    // The server is standalone; the layout is cluster's (DB 0 only). The ACL follows the layout,
    // so this server's warmup user (standalone patterns) must be refused the cluster keys...
    await expect(warmRedis({ database: pgdb.url, redis: env.warmupUser, keyspace: { cluster: true } })).rejects.toThrow(/NOPERM/);
    await env.close();
    // ...and a server rendered for cluster mode accepts them. (A one-node cluster needs its slots.)
    env = await redisEnv("cluster", { cluster: true });
    const admin = await env.admin(0);
    await admin.call("CLUSTER", "ADDSLOTSRANGE", "0", "16383");
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
