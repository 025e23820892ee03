// RedisWarmup: the provider's methods called as the dynamic-provider host calls them (check → diff →
// create/update) against the real migrations and seeds and a private redis-server, and the
// resource registered under the mock runtime, which serializes the provider the way `pulumi up` does.
import * as path from "node:path";
import Redis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderAclFile, renderRedisConf } from "../../engines/redis/render";
import { parseRedisSettings } from "../../engines/redis/settings";
import { REDIS_DECLARATIONS } from "../../redis/declarations";
import type { RedisWarmupInputs, RedisWarmupOutputs } from "../../providers/redis-warmup";
import type { FreshDatabase } from "../helpers/pg";
import { seededDatabase } from "../engines/redis/pgdata";
import { freePort, startRedisServer, tempDir, type RedisProcess } from "../helpers/redis-server";
import { UNKNOWN } from "../../providers/runtime";
import { installMocks, type MockRuntime } from "../helpers/mocks";

type ProviderModule = typeof import("../../providers/redis-warmup");
let mod: ProviderModule;
let mocks: MockRuntime;
const PASSWORDS = { admin: "prov-admin-51aa9e", app: "prov-app-0c7d3b", readonly: "prov-ro-9e2f11", warmup: "prov-warm-7a4c08" };

let pgdb: FreshDatabase;
let server: RedisProcess;
let port: number;
let admin: Redis;
const tmp = tempDir("provider");

beforeAll(async () => {
  // Mocks first, then the module that uses @pulumi/pulumi.
  mocks = installMocks({ stack: "test", preview: true });
  mod = await import("../../providers/redis-warmup");
  pgdb = await seededDatabase("redis_provider");
  port = await freePort();
  const settings = parseRedisSettings({ port, aclFile: path.join(tmp.dir, "users.acl"), persistence: { dir: tmp.dir } });
  server = await startRedisServer({ dir: tmp.dir, port, files: { "redis.conf": renderRedisConf(settings), "users.acl": renderAclFile(settings, PASSWORDS, REDIS_DECLARATIONS) } });
  admin = new Redis({ host: "127.0.0.1", port, username: "nexus_admin", password: PASSWORDS.admin });
});

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
  await pgdb?.drop();
  tmp.remove();
});

const connections = () => ({ database: pgdb.url, redis: `redis://nexus_warmup:${PASSWORDS.warmup}@127.0.0.1:${port}` });

async function check(news: Partial<RedisWarmupInputs>): Promise<RedisWarmupInputs> {
  const r = await mod.redisWarmupProvider.check!({} as RedisWarmupInputs, news as RedisWarmupInputs);
  expect(r.failures ?? []).toEqual([]);
  return r.inputs as RedisWarmupInputs;
}

describe("RedisWarmup provider", () => {
  it("check reads the markers, diff asks for an update, create warms; the next preview has nothing to do", async () => {
    const inputs = await check({ connections: connections() });
    expect(inputs.specHash).toMatch(/^[0-9a-f]{64}$/);
    expect(inputs.batchSize).toBe(1000);
    // Why, and how many keys the update will write.
    expect(inputs.pendingReasons).toContain("DB 3 (reputationCache): no warmup marker (never warmed, flushed, expired or evicted): full warm: 6 key(s) to write");
    const d1 = await mod.redisWarmupProvider.diff!("id", {} as RedisWarmupOutputs, inputs);
    expect(d1).toMatchObject({ changes: true, replaces: [], deleteBeforeReplace: false });

    const created = await mod.redisWarmupProvider.create!(inputs);
    const outs = created.outs as RedisWarmupOutputs;
    expect(outs.counts).toMatchObject({ "engine-reputation": 5, "engine-ranking": 1, "rate-limit-tiers": 4 });
    expect(outs.written).toMatchObject({ reputationCache: 6, rateLimit: 4 + outs.counts["api-key-quotas"] });
    expect(outs.reasons.length).toBeGreaterThan(0);
    // Outputs carry no connection and no credential.
    const text = JSON.stringify(outs);
    for (const secret of [PASSWORDS.warmup, "postgres://", "redis://"]) expect(text).not.toContain(secret);

    const again = await check({ connections: connections() });
    expect(again.pendingReasons).toEqual([]);
    expect((await mod.redisWarmupProvider.diff!("id", outs, again)).changes).toBe(false);

    // A flushed database is drift: the next preview sees it, the update re-warms.
    await admin.select(1);
    await admin.flushdb();
    const drift = await check({ connections: connections() });
    expect(drift.pendingReasons).toEqual([`DB 1 (rateLimit): no warmup marker (never warmed, flushed, expired or evicted): full warm: ${4 + outs.counts["api-key-quotas"]} key(s) to write`]);
    expect((await mod.redisWarmupProvider.diff!("id", outs, drift)).changes).toBe(true);
    const updated = (await mod.redisWarmupProvider.update!("id", outs, drift)).outs as RedisWarmupOutputs;
    // Only the flushed database is warmed again; the others are current.
    expect(updated.written).toEqual({ rateLimit: 4 + outs.counts["api-key-quotas"] });
    expect(await admin.dbsize()).toBe(4 + outs.counts["api-key-quotas"] + 1 + 2); // keys, marker, two digest tables
  });

  it("a changed keyspace is a change; the spec hash follows it", async () => {
    const standalone = await check({ connections: connections() });
    const cluster = await check({ connections: connections(), keyspace: { cluster: true } });
    expect(cluster.specHash).not.toBe(standalone.specHash);
    const outs = { keyspace: {}, batchSize: 1000, specHash: standalone.specHash } as RedisWarmupOutputs;
    expect((await mod.redisWarmupProvider.diff!("id", outs, { ...standalone, pendingReasons: [] })).changes).toBe(false);
    expect((await mod.redisWarmupProvider.diff!("id", outs, { ...cluster, pendingReasons: [] })).changes).toBe(true);
  });

  it("unknown or unreachable servers at preview: warm on create, say why", async () => {
    const unknown = await check({ connections: UNKNOWN as never });
    expect(unknown.pendingReasons).toEqual(["(Redis or PostgreSQL not known yet: warms on create)"]);
    const closed = await freePort();
    const unreachable = await check({ connections: { database: pgdb.url, redis: `redis://nexus_warmup:x@127.0.0.1:${closed}` } });
    expect(unreachable.pendingReasons).toEqual([expect.stringMatching(/^\(marker not checked: cannot connect to Redis at 127\.0\.0\.1:\d+ .*ECONNREFUSED/)]);
    const bad = await mod.redisWarmupProvider.check!({} as RedisWarmupInputs, { batchSize: 0 } as RedisWarmupInputs);
    expect(bad.failures?.map((f) => f.property).sort()).toEqual(["batchSize", "connections"]);
  });
});

describe("RedisWarmup resource", () => {
  it("registers one dynamic resource whose serialized provider captured no client or secret", async () => {
    const res = new mod.RedisWarmup("nexus-redis-warmup", {
      connections: { database: "postgres://nexus_owner:Pg-Pw-never@db.internal:5432/nexus_security", redis: "redis://nexus_warmup:Warm-Pw-never@cache.internal:6379" },
      keyspace: { cluster: true },
    });
    await new Promise<void>((resolve) => res.urn.apply(() => resolve()));
    const r = mocks.byName("nexus-redis-warmup");
    expect(r.type).toBe("pulumi-nodejs:dynamic/nexus:db:RedisWarmup");
    expect(r.inputs.keyspace).toEqual({ cluster: true });
    expect(r.inputs.batchSize).toBe(1000);
    const provider = String(r.inputs.__provider);
    expect(provider).toMatch(/loadEngine/);
    expect(provider).not.toMatch(/Pg-Pw|Warm-Pw|new IORedis|new Client\(/);
  });
});
