// One warmup at a time per target, across processes: a second warmup waits for the first or fails
// naming it; a crashed holder's lock expires by itself; a lock is released only by its owner.
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import Redis from "ioredis";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WarmupLock, WarmupLockedError } from "../../../engines/redis/lock";
import { buildKeyspaceLayout } from "../../../engines/redis/keyspace";
import { markerKey, warmRedis, type WarmupConnections } from "../../../engines/redis/warmup";
import { lockKey } from "../../../engines/redis/warmup-spec";
import { KEYSPACE } from "../../../redis/layout";
import type { WarmupSpec } from "../../../redis/warmup";
import { REDIS_URL, uniqueSuffix } from "../../helpers/env";
import { freshDatabase, type FreshDatabase } from "../../helpers/pg";
import { removeKeysByPrefix } from "../../helpers/redis-server";

const prefix = `tl${uniqueSuffix()}:`;
const spec: WarmupSpec = {
  revision: 1,
  sets: [{ name: "lock-rows", database: "reputationCache", keyPrefix: "row:", query: "SELECT id::text AS key, payload AS value FROM lock_rows" }],
};
const declarations = { keyspace: KEYSPACE, warmup: spec };
const layout = buildKeyspaceLayout(KEYSPACE, { keyPrefix: prefix });
const LOCK = lockKey(spec, layout);

let pgdb: FreshDatabase;
let conn: WarmupConnections;
let redis: Redis;
const children: ChildProcess[] = [];

/** Starts a warmup in another process; resolves once it holds the lock (it said "locked"). */
function childWarmup(pauseMs: number, lock?: { ttlMs: number }): Promise<{ child: ChildProcess; done: Promise<string> }> {
  // In this very process (no tsx CLI wrapper): its pid is the lock owner, and SIGKILL reaches it.
  const child = spawn(process.execPath, ["--require", require.resolve("tsx/cjs"), path.join(__dirname, "warmup-child.ts")], {
    env: { ...process.env, WARMUP_CHILD: JSON.stringify({ conn, spec, pauseMs, lock }) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  let out = "";
  const done = new Promise<string>((resolve) => child.once("exit", () => resolve(out)));
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
      if (out.includes("locked\n")) resolve({ child, done });
    });
    child.once("exit", (code) => reject(new Error(`the child warmup exited (${code}) before it held the lock: ${out}`)));
  });
}

beforeAll(async () => {
  pgdb = await freshDatabase("redis_lock");
  const pg = new Client({ connectionString: pgdb.url });
  await pg.connect();
  await pg.query(`CREATE TABLE lock_rows AS SELECT g AS id, repeat('x', 200) || g AS payload FROM generate_series(1, 20000) g`);
  await pg.end();
  conn = { database: pgdb.url, redis: REDIS_URL, keyspace: { keyPrefix: prefix } };
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  for (const db of [0, 3]) {
    await redis.select(db);
    await removeKeysByPrefix(redis, prefix);
  }
  redis.disconnect();
  await pgdb?.drop();
});

describe("one warmup at a time", () => {
  it("a second process fails after its wait, naming the holder; with a longer wait it runs after the first", async () => {
    const first = await childWarmup(150);
    await expect(warmRedis(conn, declarations, { lock: { waitMs: 500 } })).rejects.toThrow(
      new RegExp(`^another warmup holds the lock ${LOCK}: nexus-db warmup, pid ${first.child.pid} on .*, since .*; waited \\d+ s`),
    );
    const err = await warmRedis(conn, declarations, { lock: { waitMs: 0 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WarmupLockedError);
    expect((err as WarmupLockedError).holder?.owner).toBe(`nexus-db warmup, pid ${first.child.pid} on ${require("node:os").hostname()}`);
    // Waiting long enough: it starts once the first released the lock, and finds the cache current.
    const second = await warmRedis(conn, declarations, { lock: { waitMs: 120_000 } });
    expect(await first.done).toMatch(/"warmed":true/);
    expect(second.warmed).toBe(false);
    expect(await redis.exists(LOCK)).toBe(0);
  });

  it("a crashed holder blocks only until its lock expires; it never wrote a marker", async () => {
    await redis.select(3);
    await redis.del(markerKey(layout, "reputationCache"));
    const first = await childWarmup(300, { ttlMs: 2000 });
    first.child.kill("SIGKILL");
    await first.done;
    expect(await redis.get(markerKey(layout, "reputationCache"))).toBeNull();
    expect(await redis.pttl(LOCK)).toBeGreaterThan(0);
    const r = await warmRedis(conn, declarations, { lock: { waitMs: 10_000 } });
    expect(r.warmed).toBe(true);
    expect(await redis.get(markerKey(layout, "reputationCache"))).not.toBeNull();
  });

  it("only the owner renews or releases; a warmup that lost its lock cannot confirm it", async () => {
    await redis.select(3);
    const a = await WarmupLock.acquire(redis, `${prefix}reputation:warmup:lock-unit`, { ttlMs: 200, waitMs: 0, owner: "A" });
    await new Promise((r) => setTimeout(r, 50));
    // A pause longer than the expiry (no renewal got through): B takes the lock.
    await redis.del(`${prefix}reputation:warmup:lock-unit`);
    const b = await WarmupLock.acquire(redis, `${prefix}reputation:warmup:lock-unit`, { ttlMs: 5000, waitMs: 0, owner: "B" });
    await expect(a.confirm()).rejects.toThrow(/lost its lock .* to B/);
    await a.release(); // not A's any more: B's lock stays
    expect(JSON.parse((await redis.get(`${prefix}reputation:warmup:lock-unit`))!).owner).toBe("B");
    await b.release();
    expect(await redis.exists(`${prefix}reputation:warmup:lock-unit`)).toBe(0);
  });
});
