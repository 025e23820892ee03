// The incremental re-warm's bucketed digests on a set large enough to span several buckets, on the
// shared standalone Redis under a key prefix of its own: a change confined to late buckets (the
// early ones carried into the new generation), more changes than the warmup fetches by key, and a
// digest bucket lost under a valid marker.
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import Redis from "ioredis";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bucketHeader, locateRecords, recordSize, writeRecord } from "../../../engines/redis/digests";
import { buildKeyspaceLayout } from "../../../engines/redis/keyspace";
import { markerKey, warmRedis, warmupStatus, type WarmupConnections, type WarmupMarker } from "../../../engines/redis/warmup";
import { digestKey } from "../../../engines/redis/warmup-spec";
import { KEYSPACE } from "../../../redis/layout";
import type { WarmupSpec } from "../../../redis/warmup";
import { REDIS_URL, uniqueSuffix } from "../../helpers/env";
import { freshDatabase, type FreshDatabase } from "../../helpers/pg";
import { removeKeysByPrefix, tempDir } from "../../helpers/redis-server";

const ROWS = 30_000;
const prefix = `td${uniqueSuffix()}:`;
const spec: WarmupSpec = {
  revision: 1,
  sets: [{ name: "digest-rows", database: "reputationCache", keyPrefix: "row:", query: "SELECT id::text AS key, payload AS value FROM digest_rows" }],
};
const declarations = { keyspace: KEYSPACE, warmup: spec };
const layout = buildKeyspaceLayout(KEYSPACE, { keyPrefix: prefix });
const db = layout.database("reputationCache").db;
const keyOf = (id: number | string) => `${prefix}reputation:row:${id}`;

let pgdb: FreshDatabase;
let pg: Client;
let redis: Redis;
let conn: WarmupConnections;

async function marker(): Promise<WarmupMarker> {
  const raw = await redis.get(markerKey(layout, "reputationCache"));
  expect(raw).not.toBeNull();
  return JSON.parse(raw!) as WarmupMarker;
}

/** Every row's key holds the row's payload, and no other row key is left. */
async function allKeysCurrent(): Promise<boolean> {
  const { rows } = await pg.query<{ id: string; payload: string }>("SELECT id::text, payload FROM digest_rows");
  const values = await redis.mget(rows.map((r) => keyOf(r.id)));
  let n = 0;
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", keyOf("*"), "COUNT", 10_000);
    cursor = next;
    n += keys.length;
  } while (cursor !== "0");
  return n === rows.length && rows.every((r, i) => values[i] === r.payload);
}

/** Ids of rows whose digests sit in bucket `b` of `buckets`. */
async function idsInBucket(b: number, buckets: number, limit: number): Promise<number[]> {
  const { rows } = await pg.query<{ id: number }>(`SELECT id FROM digest_rows WHERE (hashtext(id::text COLLATE "C") & ${buckets - 1}) = ${b} ORDER BY id LIMIT ${limit}`);
  return rows.map((r) => r.id);
}

beforeAll(async () => {
  pgdb = await freshDatabase("redis_digests");
  pg = new Client({ connectionString: pgdb.url });
  await pg.connect();
  await pg.query(`CREATE TABLE digest_rows AS SELECT g AS id, json_build_object('id', g, 'score', g % 1000)::text AS payload FROM generate_series(1, ${ROWS}) g`);
  await pg.query("ANALYZE digest_rows");
  const u = new URL(REDIS_URL);
  redis = new Redis({ host: u.hostname, port: Number(u.port), db });
  conn = { database: pgdb.url, redis: REDIS_URL, keyspace: { keyPrefix: prefix } };
});

afterAll(async () => {
  if (redis) {
    await removeKeysByPrefix(redis, prefix);
    redis.disconnect();
  }
  await pg?.end();
  await pgdb?.drop();
});

describe("incremental re-warm over bucketed digests", () => {
  it("a change confined to the last bucket: only its keys change; the new generation carries the unchanged buckets, the old one is removed", async () => {
    const full = await warmRedis(conn, declarations, { force: true });
    expect(full.written).toEqual({ reputationCache: ROWS });
    const before = (await marker()).digests["digest-rows"];
    expect(before.buckets).toBeGreaterThanOrEqual(4);
    const last = before.buckets - 1;
    const ids = await idsInBucket(last, before.buckets, 13);
    await pg.query(`UPDATE digest_rows SET payload = payload || '*' WHERE id = ANY($1::int[])`, [ids.slice(0, 10)]);
    await pg.query(`DELETE FROM digest_rows WHERE id = ANY($1::int[])`, [ids.slice(10)]);
    const plan = await warmupStatus(conn, declarations);
    expect(plan.changes).toEqual({ reputationCache: { write: 10, delete: 3, unchanged: ROWS - 13, full: false } });
    const r = await warmRedis(conn, declarations);
    expect(r).toMatchObject({ warmed: true, written: { reputationCache: 10 }, deleted: 3 });
    const after = (await marker()).digests["digest-rows"];
    expect(after).toMatchObject({ buckets: before.buckets });
    expect(after.slot).not.toBe(before.slot);
    const live = await Promise.all(Array.from({ length: after.buckets }, (_, b) => redis.exists(digestKey(spec.sets[0], layout, after.slot, b))));
    const gone = await Promise.all(Array.from({ length: before.buckets }, (_, b) => redis.exists(digestKey(spec.sets[0], layout, before.slot, b))));
    expect(live.every((n) => n === 1)).toBe(true);
    expect(gone.every((n) => n === 0)).toBe(true);
    expect(await allKeysCurrent()).toBe(true);
    expect((await warmupStatus(conn, declarations)).needed).toBe(false);
  });

  it("more changed rows than it fetches by key: every key of the set is written again, and the digests stay exact", async () => {
    await pg.query(`UPDATE digest_rows SET payload = payload || '+' WHERE id % 50 = 0`);
    const changed = Number((await pg.query<{ n: string }>(`SELECT count(*) AS n FROM digest_rows WHERE id % 50 = 0`)).rows[0].n);
    const r = await warmRedis(conn, declarations, { changedKeysLimit: 100 });
    expect(r.changes.reputationCache).toMatchObject({ write: changed, delete: 0, full: false });
    expect(r.written.reputationCache).toBe(ROWS - 3);
    expect(await allKeysCurrent()).toBe(true);
    expect((await warmupStatus(conn, declarations)).needed).toBe(false);
  });

  it("a digest bucket gone under a valid marker (not among the sampled ones): the run starts over as a full warm that sweeps stale keys", async () => {
    const ref = (await marker()).digests["digest-rows"];
    const sampled = new Set([0, ref.buckets >> 2, ref.buckets >> 1, (3 * ref.buckets) >> 2]);
    const lost = [...Array(ref.buckets).keys()].reverse().find((b) => !sampled.has(b))!;
    await redis.del(digestKey(spec.sets[0], layout, ref.slot, lost));
    await pg.query(`UPDATE digest_rows SET payload = payload || '#' WHERE id = $1`, [(await idsInBucket(lost, ref.buckets, 1))[0]]);
    // Keys under the set's prefix that are no row: a full warm over a non-empty database sweeps them.
    await redis.set(keyOf("stale-1"), "x");
    await redis.set(keyOf("stale-2"), "x");
    const spill = tempDir("warmup-spill");
    const r = await warmRedis(conn, declarations, { spillDir: spill.dir });
    expect(r.changes.reputationCache).toMatchObject({ full: true, delete: 2 });
    expect(r.reasons.join(" ")).toMatch(/stored row digests went missing/);
    expect(await redis.exists(keyOf("stale-1"), keyOf("stale-2"))).toBe(0);
    expect(readdirSync(spill.dir)).toEqual([]); // its spill files are gone
    spill.remove();
    expect(await allKeysCurrent()).toBe(true);
    expect((await warmupStatus(conn, declarations)).needed).toBe(false);
  });

  it("the spill directory a killed warmup left behind is removed by a later warmup once it is an hour old", async () => {
    const spill = tempDir("warmup-orphans");
    const dead = 2 ** 30; // above any pid: no such process
    const old = path.join(spill.dir, `nexus-warmup-${dead}-old`);
    const recent = path.join(spill.dir, `nexus-warmup-${dead}-recent`);
    for (const d of [old, recent]) {
      mkdirSync(d);
      writeFileSync(path.join(d, "0"), "x");
    }
    utimesSync(old, new Date(Date.now() - 2 * 3600_000), new Date(Date.now() - 2 * 3600_000));
    await warmRedis(conn, declarations, { spillDir: spill.dir }); // incremental: it spills
    expect(readdirSync(spill.dir).sort()).toEqual([path.basename(recent)]);
    spill.remove();
  });
});

describe("locating a few keys' records in a bucket", () => {
  /** A bucket blob of `keys`, in order; the record offsets beside it. */
  const bucket = (keys: string[]) => {
    const out = Buffer.alloc(20 + keys.reduce((n, k) => n + recordSize(Buffer.byteLength(k)), 0));
    bucketHeader("ab".repeat(16)).copy(out);
    const offsets: number[] = [];
    let p = 20;
    for (const k of keys) {
      offsets.push(p);
      const b = Buffer.from(k);
      p = writeRecord(out, p, b, 0, b.length, 1, 2);
    }
    return { blob: out, offsets };
  };

  it("keys with the same length and last bytes are told apart; absent keys are -1; a cut blob is not a bucket", () => {
    const keys = ["a1234", "b1234", "1234", "x", "", "longer-key-1234", "é1234"];
    const { blob, offsets } = bucket(keys);
    const wanted = ["b1234", "a1234", "c1234", "x", "1234", "é1234", "y", "longer-key-1234"].map((k) => Buffer.from(k));
    expect(Array.from(locateRecords(blob, wanted)!)).toEqual([offsets[1], offsets[0], -1, offsets[3], offsets[2], offsets[6], -1, offsets[5]]);
    expect(locateRecords(blob.subarray(0, blob.length - 3), wanted)).toBeUndefined();
    expect(Array.from(locateRecords(bucket([]).blob, wanted)!)).toEqual(wanted.map(() => -1));
  });
});
