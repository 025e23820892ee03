// Change-tracked re-warms (engines/redis/changes.ts) on real PostgreSQL and Redis: the keys a set's
// `changes.keys` SQL names are the only ones read and written; deletions the row versions cannot
// show are caught by the count (or a `deletable` table's guard) and compared row by row instead.
// Every step checks all keys against PostgreSQL, and that the data version is the one a forced
// warm of the same rows gives (the accumulators updated in place stay exact).
import { connect as netConnect, type Socket } from "node:net";
import Redis from "ioredis";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportSnapshot, horizonAge, importSnapshot } from "../../../engines/redis/changes";
import { buildKeyspaceLayout } from "../../../engines/redis/keyspace";
import { markerKey, warmRedis, warmupStatus, type WarmupConnections, type WarmupMarker } from "../../../engines/redis/warmup";
import { KEYSPACE } from "../../../redis/layout";
import type { WarmupSpec } from "../../../redis/warmup";
import { REDIS_URL, uniqueSuffix } from "../../helpers/env";
import { freshDatabase, type FreshDatabase } from "../../helpers/pg";
import { removeKeysByPrefix } from "../../helpers/redis-server";

const ROWS = 20_000;
const prefix = `tt${uniqueSuffix()}:`;
const spec: WarmupSpec = {
  revision: 1,
  sets: [
    {
      name: "tracked-rows",
      database: "reputationCache",
      keyPrefix: "row:",
      query: `SELECT t.id::text AS key, json_build_object('payload', t.payload)::text AS value FROM tracked_rows t WHERE t.live`,
      changes: { keys: `SELECT t.id::text AS key FROM tracked_rows t WHERE age(t.xmin) <= $1` },
    },
  ],
};
/** A set whose values read a second table through a LEFT JOIN: deleted rows there are guarded by counting (its own key prefix and marker). */
const joined: WarmupSpec = {
  revision: 1,
  sets: [
    {
      name: "tracked-joined",
      database: "reputationCache",
      keyPrefix: "joined:",
      query: `SELECT t.id::text AS key, json_build_object('payload', t.payload, 'extra', x.note)::text AS value
                FROM tracked_rows t LEFT JOIN tracked_extras x ON x.row_id = t.id
               WHERE t.id % 100 = 0`,
      changes: {
        keys: `SELECT t.id::text AS key FROM tracked_rows t WHERE age(t.xmin) <= $1
               UNION ALL SELECT x.row_id::text FROM tracked_extras x WHERE age(x.xmin) <= $1`,
        deletable: ["tracked_extras"],
      },
    },
  ],
};
const declarations = { keyspace: KEYSPACE, warmup: spec };
const layout = buildKeyspaceLayout(KEYSPACE, { keyPrefix: prefix });
const db = layout.database("reputationCache").db;
const rowPrefix = `${prefix}reputation:row:`;

let pgdb: FreshDatabase;
let pg: Client;
let redis: Redis;
let monitor: Socket | undefined;

/**
 * MONITOR on a plain socket, each command's arguments to `onCommand`. Not ioredis's monitor mode:
 * a monitor line that arrives in the same packet as MONITOR's +OK (a busy server) reaches ioredis
 * before it has switched the connection to monitoring, and it fails the whole file with "Command
 * queue state error".
 */
function startMonitor(host: string, port: number, onCommand: (args: string[]) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host, port });
    let buffered = "";
    let started = false;
    s.setEncoding("utf8");
    s.on("error", (e) => (started ? undefined : reject(e)));
    s.on("connect", () => s.write("MONITOR\r\n"));
    s.on("data", (d: string) => {
      buffered += d;
      for (let end = buffered.indexOf("\r\n"); end >= 0; end = buffered.indexOf("\r\n")) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (!started) {
          started = line === "+OK";
          if (started) resolve(s);
          else reject(new Error(`MONITOR refused: ${line}`));
          continue;
        }
        // +1700000000.123456 [3 127.0.0.1:40000] "set" "nexus:…" "…"
        const m = /^\+\d+\.\d+ \[[^\]]*\] (.*)$/.exec(line);
        if (m) onCommand([...m[1].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1].replace(/\\(.)/g, "$1")));
      }
    });
  });
}
let conn: WarmupConnections;
/** Row keys SET or removed while `watch` runs (MONITOR, filtered by this test's prefix). */
const seen: { set: string[]; removed: string[] } = { set: [], removed: [] };

async function marker(): Promise<WarmupMarker> {
  const raw = await redis.get(markerKey(layout, "reputationCache"));
  expect(raw).not.toBeNull();
  return JSON.parse(raw!) as WarmupMarker;
}

/** The row keys a warm writes and removes, seen by MONITOR. */
async function watch<T>(fn: () => Promise<T>): Promise<T> {
  seen.set = [];
  seen.removed = [];
  const result = await fn();
  await redis.ping();
  await new Promise((res) => setTimeout(res, 100)); // MONITOR's feed trails the replies
  return result;
}

/** Every row the query returns has its key with its value, and no other row key is left. */
async function allKeysCurrent(): Promise<boolean> {
  const { rows } = await pg.query<{ key: string; value: string }>(`SELECT * FROM (${spec.sets[0].query}) q`);
  const values = rows.length > 0 ? await redis.mget(rows.map((r) => rowPrefix + r.key)) : [];
  let n = 0;
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${rowPrefix}*`, "COUNT", 10_000);
    cursor = next;
    n += keys.length;
  } while (cursor !== "0");
  return n === rows.length && rows.every((r, i) => values[i] === r.value);
}

/** The data version a forced warm of the same rows records: a tracked re-warm must have reached the same. */
async function versionOfForcedWarm(): Promise<string> {
  const before = (await marker()).version;
  const forced = await warmRedis(conn, declarations, { force: true });
  expect(forced.changes.reputationCache).toMatchObject({ full: true, write: forced.counts["tracked-rows"] });
  expect((await marker()).version).toBe(before);
  return before;
}

beforeAll(async () => {
  pgdb = await freshDatabase("redis_tracked");
  pg = new Client({ connectionString: pgdb.url });
  await pg.connect();
  await pg.query(`CREATE TABLE tracked_rows (id int PRIMARY KEY, payload text NOT NULL, live boolean NOT NULL DEFAULT true)`);
  await pg.query(`CREATE TABLE tracked_extras (row_id int PRIMARY KEY REFERENCES tracked_rows (id) ON DELETE CASCADE, note text NOT NULL)`);
  await pg.query(`INSERT INTO tracked_rows SELECT g, 'p' || g FROM generate_series(1, ${ROWS}) g`);
  await pg.query(`INSERT INTO tracked_extras SELECT g, 'x' || g FROM generate_series(10, ${ROWS}, 10) g`);
  await pg.query("VACUUM ANALYZE tracked_rows, tracked_extras");
  const u = new URL(REDIS_URL);
  redis = new Redis({ host: u.hostname, port: Number(u.port), db });
  monitor = await startMonitor(u.hostname, Number(u.port), (args) => {
    const [cmd, key] = args;
    if (typeof key !== "string" || !key.startsWith(rowPrefix)) return;
    if (/^set$/i.test(cmd)) seen.set.push(key.slice(rowPrefix.length));
    else if (/^(unlink|del)$/i.test(cmd)) seen.removed.push(...args.slice(1).map((k) => k.slice(rowPrefix.length)));
  });
  conn = { database: pgdb.url, redis: REDIS_URL, keyspace: { keyPrefix: prefix } };
  const full = await warmRedis(conn, declarations, { force: true });
  expect(full.written).toEqual({ reputationCache: ROWS });
});

afterAll(async () => {
  monitor?.destroy();
  if (redis) {
    await removeKeysByPrefix(redis, prefix);
    redis.disconnect();
  }
  await pg?.end();
  await pgdb?.drop();
});

describe("change-tracked re-warm", () => {
  it("a full warm records the snapshot's horizon and the set's rows and accumulators", async () => {
    const m = await marker();
    expect(m.horizon?.xmin).toMatch(/^\d+$/);
    expect(m.digests["tracked-rows"]).toMatchObject({ rows: ROWS });
    expect(m.digests["tracked-rows"].acc).toHaveLength(4);
  });

  it("an update of a few rows: the plan and the warm read and write only their keys", async () => {
    await pg.query(`UPDATE tracked_rows SET payload = payload || '*' WHERE id IN (3, 333, 4444, 15555, 19999)`);
    await pg.query(`UPDATE tracked_rows SET payload = payload WHERE id = 11`); // a new row version, the same value
    const plan = await warmupStatus(conn, declarations);
    expect(plan.tracking).toEqual({ "tracked-rows": "tracked" });
    expect(plan.changes).toEqual({ reputationCache: { write: 5, delete: 0, unchanged: ROWS - 5, full: false } });
    const r = await watch(() => warmRedis(conn, declarations));
    expect(r).toMatchObject({ warmed: true, written: { reputationCache: 5 }, deleted: 0, tracking: { "tracked-rows": "tracked" } });
    expect(seen.set.sort()).toEqual(["15555", "19999", "3", "333", "4444"]);
    expect(await allKeysCurrent()).toBe(true);
    const after = await warmupStatus(conn, declarations);
    expect(after).toMatchObject({ needed: false, tracking: { "tracked-rows": "tracked" } });
    await versionOfForcedWarm();
  });

  it("an inserted row and a row that leaves the query's WHERE: one key written, one removed", async () => {
    await pg.query(`INSERT INTO tracked_rows VALUES (${ROWS + 1}, 'new')`);
    await pg.query(`UPDATE tracked_rows SET live = false WHERE id = 42`);
    const r = await watch(() => warmRedis(conn, declarations));
    expect(r).toMatchObject({ written: { reputationCache: 1 }, deleted: 1, counts: { "tracked-rows": ROWS }, tracking: { "tracked-rows": "tracked" } });
    expect(seen.set).toEqual([String(ROWS + 1)]);
    expect(seen.removed).toEqual(["42"]);
    expect(await redis.exists(`${rowPrefix}42`)).toBe(0);
    expect(await allKeysCurrent()).toBe(true);
    await versionOfForcedWarm();
  });

  it("a hard DELETE leaves no row version: the count shows it, every row is compared, and the key goes", async () => {
    await pg.query(`DELETE FROM tracked_rows WHERE id = 7`);
    await pg.query(`UPDATE tracked_rows SET payload = 'changed' WHERE id = 8`);
    const plan = await warmupStatus(conn, declarations);
    expect(plan.tracking["tracked-rows"]).toMatch(/rows were deleted/);
    expect(plan.changes.reputationCache).toMatchObject({ write: 1, delete: 1, full: false });
    const r = await watch(() => warmRedis(conn, declarations));
    expect(r).toMatchObject({ written: { reputationCache: 1 }, deleted: 1 });
    expect(seen.set).toEqual(["8"]);
    expect(seen.removed).toEqual(["7"]);
    expect(await allKeysCurrent()).toBe(true);
    // The key written before the count came in, then the comparison: the digests are exact.
    await versionOfForcedWarm();
    // The compare recorded a new horizon: the next re-warm is tracked again.
    expect((await warmupStatus(conn, declarations)).tracking).toEqual({ "tracked-rows": "tracked" });
  });


  it("a transaction open during a warm that commits after it is caught by the next re-warm", async () => {
    const late = new Client({ connectionString: pgdb.url });
    await late.connect();
    try {
      await late.query("BEGIN");
      await late.query(`UPDATE tracked_rows SET payload = 'late' WHERE id = 500`);
      await pg.query(`UPDATE tracked_rows SET payload = 'early' WHERE id = 501`);
      const during = await warmRedis(conn, declarations);
      expect(during).toMatchObject({ written: { reputationCache: 1 }, tracking: { "tracked-rows": "tracked" } });
      await late.query("COMMIT");
    } finally {
      await late.end();
    }
    const r = await watch(() => warmRedis(conn, declarations));
    expect(r).toMatchObject({ written: { reputationCache: 1 }, tracking: { "tracked-rows": "tracked" } });
    expect(seen.set).toEqual(["500"]);
    expect(JSON.parse((await redis.get(`${rowPrefix}500`))!)).toMatchObject({ payload: "late" });
    expect(await allKeysCurrent()).toBe(true);
    await versionOfForcedWarm();
  });

  it("a marker without a horizon, from another database, or too far back for xid ages is compared row by row (and records one)", async () => {
    const m = await marker();
    await redis.set(markerKey(layout, "reputationCache"), JSON.stringify({ ...m, horizon: undefined }));
    await pg.query(`UPDATE tracked_rows SET payload = 'again' WHERE id = 600`);
    const r = await warmRedis(conn, declarations);
    expect(r).toMatchObject({ written: { reputationCache: 1 }, tracking: { "tracked-rows": "no horizon recorded by the last complete warm" } });
    const next = await marker();
    await redis.set(markerKey(layout, "reputationCache"), JSON.stringify({ ...next, horizon: { ...next.horizon, source: "elsewhere" } }));
    expect((await warmupStatus(conn, declarations)).tracking["tracked-rows"]).toMatch(/another PostgreSQL/);
    // Ages are 32-bit: a horizon ahead of the server (a restore), or 2^30 transactions back (a
    // server this young cannot be that far: the check is called with such a snapshot), is not trusted.
    await redis.set(markerKey(layout, "reputationCache"), JSON.stringify({ ...next, horizon: { ...next.horizon, xmin: String(BigInt(next.horizon!.xmin) + 1_000_000n) } }));
    expect((await warmupStatus(conn, declarations)).tracking["tracked-rows"]).toMatch(/ahead of PostgreSQL/);
    const far = { xmin: String(2n ** 31n), xmax: String(2n ** 31n + 5n), source: next.horizon!.source };
    expect(await horizonAge(pg, { xmin: "1000", source: far.source }, far)).toMatch(/too far for xid ages/);
    await redis.set(markerKey(layout, "reputationCache"), JSON.stringify(next));
    expect((await warmupStatus(conn, declarations)).tracking).toEqual({ "tracked-rows": "tracked" });
    expect(await allKeysCurrent()).toBe(true);
  });

  it("more changed keys than the limit: every row is compared", async () => {
    await pg.query(`UPDATE tracked_rows SET payload = payload || '+' WHERE id <= 30`);
    const r = await warmRedis(conn, declarations, { changedKeysLimit: 10 });
    expect(r.tracking["tracked-rows"]).toMatch(/more than 10 keys/);
    expect(r.changes.reputationCache).toMatchObject({ full: false, write: 29 }); // id 7 is gone
    expect(await allKeysCurrent()).toBe(true);
  });

  it("a deleted row of a `deletable` table changes a value without a new row version: its guard compares every row", async () => {
    const joinedPrefix = `tj${uniqueSuffix()}:`;
    const jconn = { ...conn, keyspace: { keyPrefix: joinedPrefix } };
    const jdecl = { keyspace: KEYSPACE, warmup: joined };
    const jlayout = buildKeyspaceLayout(KEYSPACE, { keyPrefix: joinedPrefix });
    const jmarker = async () => JSON.parse((await redis.get(markerKey(jlayout, "reputationCache")))!) as WarmupMarker;
    try {
      await warmRedis(jconn, jdecl, { force: true });
      // Recorded only when every row of the table is older than the warm's horizon (no transaction
      // of another database on this server held it back).
      const kept = (await jmarker()).digests["tracked-joined"].kept?.tracked_extras;
      await pg.query(`UPDATE tracked_rows SET payload = 'joined' WHERE id = 1200`);
      const plain = await warmupStatus(jconn, jdecl);
      if (kept === undefined) expect(plain.tracking["tracked-joined"]).toMatch(/tracked_extras had rows newer/);
      else {
        expect(kept).toBe(ROWS / 10);
        expect(plain.tracking).toEqual({ "tracked-joined": "tracked" });
      }
      expect(plain.changes.reputationCache).toMatchObject({ write: 1, delete: 0 });
      await warmRedis(jconn, jdecl);
      await pg.query(`DELETE FROM tracked_extras WHERE row_id = 2100`);
      const r = await warmRedis(jconn, jdecl);
      expect(r.tracking["tracked-joined"]).toMatch(/tracked_extras (lost or changed 1 row|had rows newer)/);
      expect(r).toMatchObject({ written: { reputationCache: 1 }, deleted: 0 });
      expect(JSON.parse((await redis.get(`${joinedPrefix}reputation:joined:2100`))!)).toEqual({ payload: "p2100", extra: null });
    } finally {
      await removeKeysByPrefix(redis, joinedPrefix);
    }
  });

  it("many keys named but none changed: nothing is written but the marker, which takes the new horizon", async () => {
    await warmRedis(conn, declarations); // what the tests before changed
    const before = await marker();
    await pg.query(`UPDATE tracked_rows SET payload = payload WHERE id BETWEEN 1000 AND 1019`); // new row versions, the same values
    const r = await watch(() => warmRedis(conn, declarations, { changedKeysLimit: 100 })); // 20 named: a tenth of the limit or more
    expect(r).toMatchObject({ warmed: false, written: {}, tracking: { "tracked-rows": "tracked" } });
    expect(seen.set).toEqual([]);
    const after = await marker();
    expect(BigInt(after.horizon!.xmin)).toBeGreaterThan(BigInt(before.horizon!.xmin));
    expect({ ...after, horizon: before.horizon }).toEqual(before);
    // Fewer named keys than a tenth of the limit: the marker stays as it is.
    await pg.query(`UPDATE tracked_rows SET payload = payload WHERE id = 1020`);
    await warmRedis(conn, declarations, { changedKeysLimit: 1000 });
    expect(await marker()).toEqual(after);
  });

  it("a forced warm is still a full warm", async () => {
    await pg.query(`UPDATE tracked_rows SET payload = 'forced' WHERE id = 700`);
    const r = await warmRedis(conn, declarations, { force: true });
    expect(r.changes.reputationCache).toMatchObject({ full: true, write: r.counts["tracked-rows"] });
    expect(r.written.reputationCache).toBe(r.counts["tracked-rows"]);
    expect(r.tracking).toEqual({});
    expect(await allKeysCurrent()).toBe(true);
  });

  it("the count's second connection reads the pass's exported snapshot, not rows committed after it", async () => {
    const connect = async () => {
      const c = new Client({ connectionString: pgdb.url });
      await c.connect();
      return c;
    };
    const first = await connect();
    let second: Client | undefined;
    try {
      await first.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const count = async (c: Client) => Number((await c.query<{ n: string }>("SELECT count(*) AS n FROM tracked_rows")).rows[0].n);
      const before = await count(first);
      const id = await exportSnapshot(first);
      expect(id).toMatch(/^[0-9A-F]+-[0-9A-F]+-[0-9]+$/i);
      await pg.query(`INSERT INTO tracked_rows VALUES (${ROWS * 100}, 'late')`);
      second = await importSnapshot(connect, id!);
      expect(second).toBeDefined();
      expect(await count(second!)).toBe(before);
      expect(await count(pg)).toBe(before + 1);
      // A snapshot that is not (or no longer) exported: no connection, and the caller counts on its own.
      expect(await importSnapshot(connect, "00000003-0000FFFF-1")).toBeUndefined();
    } finally {
      await second?.end();
      await first.end();
      await pg.query(`DELETE FROM tracked_rows WHERE id = ${ROWS * 100}`);
    }
  });
});
