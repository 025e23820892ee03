// The warmup on a real Redis Cluster: three masters with a replica each (`scripts/services.sh
// cluster`, started here if it is not up), as a warmup ACL user rendered from the settings.
// Keys spread over the three shards, incremental re-warms, a failover (CLUSTER FAILOVER on a
// replica) in the middle of a warm, a slot migrating (ASK) while the warm writes into it, and a
// master process killed in the middle of a warm (the cluster is restored after it).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import Redis, { Cluster } from "ioredis";
import { Client } from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { aclRules } from "../../../engines/redis/render";
import { parseRedisSettings } from "../../../engines/redis/settings";
import { markerKey, warmRedis, warmupStatus, WarmupError, type WarmupConnections, type WarmupMarker } from "../../../engines/redis/warmup";
import { buildKeyspaceLayout } from "../../../engines/redis/keyspace";
import { KEYSPACE } from "../../../redis/layout";
import type { WarmupSpec } from "../../../redis/warmup";
import { uniqueSuffix } from "../../helpers/env";
import { freshDatabase, type FreshDatabase } from "../../helpers/pg";

const ROWS = 20_000;
const CLUSTER_URL = process.env.REDIS_CLUSTER_URL ?? `redis://127.0.0.1:${process.env.NEXUS_REDIS_CLUSTER_PORT ?? 27100}`;
const SERVICES = path.join(__dirname, "..", "..", "..", "scripts", "services.sh");
/** The six nodes' ports: the seed's and the five after it (as `scripts/services.sh cluster` starts them). */
const NODE_PORTS = Array.from({ length: 6 }, (_, i) => Number(new URL(CLUSTER_URL).port) + i);
const PASSWORD = `warm-cluster-${uniqueSuffix()}`;
const prefix = `tc${uniqueSuffix()}:`;
const user = `nexus_warmup_${uniqueSuffix()}`;
const spec: WarmupSpec = {
  revision: 1,
  sets: [{ name: "cluster-rows", database: "reputationCache", keyPrefix: "row:", query: "SELECT id::text AS key, payload AS value FROM cluster_rows" }],
};
const declarations = { keyspace: KEYSPACE, warmup: spec };
const layout = buildKeyspaceLayout(KEYSPACE, { cluster: true, keyPrefix: prefix });
const keyOf = (id: number) => `${prefix}reputation:row:${id}`;

/**
 * The test's own client, for what it reads and sets up: it waits out a cluster that says
 * CLUSTERDOWN for up to 30 s (a failover settling) where ioredis' default gives up after 1.6 s.
 */
function testClient(nodes: { host: string; port: number }[]): Cluster {
  return new Cluster(nodes, { retryDelayOnClusterDown: 500, maxRedirections: 60 });
}

let pgdb: FreshDatabase;
let pg: Client;
let cluster: Cluster;
let conn: WarmupConnections;

/** Every node of the cluster (masters and replicas), each on its own connection. */
async function allNodes(): Promise<Redis[]> {
  const seed = new URL(CLUSTER_URL);
  const first = new Redis({ host: seed.hostname, port: Number(seed.port) });
  const lines = String(await first.call("CLUSTER", "NODES")).trim().split("\n");
  first.disconnect();
  return lines.map((l) => {
    const [host, port] = l.split(" ")[1].split("@")[0].split(":");
    return new Redis({ host, port: Number(port) });
  });
}

/** The warmup user, rendered from the settings for this spec, on every node (ACLs are per node). */
async function addWarmupUser(): Promise<void> {
  const rules = aclRules("warmup", parseRedisSettings({ cluster: true, keyPrefix: prefix }), declarations);
  for (const n of await allNodes()) {
    await n.call("ACL", "SETUSER", user, "reset", "on", `>${PASSWORD}`, ...rules);
    n.disconnect();
  }
}

/** What each node says now: cluster_state:ok, and (a replica) its link to its master up, (a master) a replica. */
async function nodeStates(): Promise<{ port: number; ok: boolean; said: string; nodes: string }[]> {
  const seed = new URL(CLUSTER_URL);
  return Promise.all(
    NODE_PORTS.map(async (port) => {
      const n = new Redis({ host: seed.hostname, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await n.connect();
        const info = String(await n.call("CLUSTER", "INFO"));
        const repl = await n.info("replication");
        const state = /^cluster_state:\w+/m.exec(info)?.[0] ?? info;
        const role = /^role:(\w+)/m.exec(repl)?.[1];
        const synced = role === "master" ? /^connected_slaves:[1-9]/m.test(repl) : /^master_link_status:up/m.test(repl);
        const said = `${state}, ${role === "master" ? `master, ${/^connected_slaves:\d+/m.exec(repl)?.[0]}` : `replica, ${/^master_link_status:\w+/m.exec(repl)?.[0]}`}`;
        return { port, ok: state === "cluster_state:ok" && synced, said, nodes: String(await n.call("CLUSTER", "NODES")) };
      } catch (e) {
        return { port, ok: false, said: (e as Error).message, nodes: "" };
      } finally {
        n.disconnect();
      }
    }),
  );
}

/** Each node's state, its view of the cluster and the end of its log (the local cluster's). */
function clusterReport(states: Awaited<ReturnType<typeof nodeStates>>): string {
  const host = new URL(CLUSTER_URL).hostname;
  const logs = process.env.NEXUS_RUN && !process.env.REDIS_CLUSTER_URL ? path.join(process.env.NEXUS_RUN, "redis-cluster") : undefined;
  const tail = (port: number) => {
    const f = logs && path.join(logs, String(port), "redis.log");
    return f && existsSync(f) ? readFileSync(f, "utf8").trim().split("\n").slice(-15).join("\n    ") : "(no log here)";
  };
  return states.map((s) => `  ${host}:${s.port} says ${s.said}\n  its view:\n    ${s.nodes.trim().split("\n").join("\n    ")}\n  its log:\n    ${tail(s.port)}`).join("\n");
}

/**
 * Waits until every node of the cluster says cluster_state:ok and every replica is in sync; on
 * timeout fails with what the nodes that are not said (clusterReport), so that a cluster that
 * stayed down can be told apart from a warmup that left it so.
 */
async function clusterHealthy(withinMs: number): Promise<void> {
  const until = Date.now() + withinMs;
  for (;;) {
    const now = await nodeStates();
    if (now.every((s) => s.ok)) return;
    if (Date.now() > until) throw new Error(`the Redis Cluster is not ok after ${withinMs / 1000} s:\n${clusterReport(now.filter((s) => !s.ok))}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Runs `fn`; when it fails, the failure also says what every node of the cluster says now. */
async function withClusterReport<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}\nThe cluster now:\n${clusterReport(await nodeStates())}`, { cause: e });
  }
}

async function keysOnEachMaster(): Promise<number[]> {
  return Promise.all(
    cluster.nodes("master").map(async (n) => {
      let cursor = "0";
      let count = 0;
      do {
        const [next, keys] = await n.scan(cursor, "MATCH", `${prefix}reputation:row:*`, "COUNT", 5000);
        cursor = next;
        count += keys.length;
      } while (cursor !== "0");
      return count;
    }),
  );
}

async function marker(): Promise<WarmupMarker | null> {
  const raw = await cluster.get(markerKey(layout, "reputationCache"));
  return raw === null ? null : (JSON.parse(raw) as WarmupMarker);
}

/** Every row's key holds the row's current payload. */
async function allKeysCurrent(): Promise<boolean> {
  const { rows } = await pg.query<{ id: string; payload: string }>("SELECT id::text, payload FROM cluster_rows");
  const values = await Promise.all(rows.map((r) => cluster.get(keyOf(Number(r.id)))));
  const wrong = rows.filter((r, i) => values[i] !== r.payload);
  if (wrong.length > 0) console.error(`${wrong.length} of ${rows.length} keys are not current, e.g. ${keyOf(Number(wrong[0].id))}: ${values[rows.indexOf(wrong[0])]} (want ${wrong[0].payload})`);
  return wrong.length === 0;
}

beforeAll(async () => {
  if (!process.env.REDIS_CLUSTER_URL) execFileSync("bash", [SERVICES, "cluster"], { stdio: "inherit" });
  const u = new URL(CLUSTER_URL);
  cluster = testClient([{ host: u.hostname, port: Number(u.port) }]);
  await addWarmupUser();
  pgdb = await freshDatabase("redis_cluster");
  pg = new Client({ connectionString: pgdb.url });
  await pg.connect();
  await pg.query(
    `CREATE TABLE cluster_rows AS SELECT g AS id, json_build_object('id', g, 'name', 'engine-' || g, 'score', g % 1000)::text AS payload FROM generate_series(1, ${ROWS}) g`,
  );
  conn = { database: pgdb.url, redis: { host: u.hostname, port: Number(u.port), username: user, password: PASSWORD }, keyspace: { cluster: true, keyPrefix: prefix } };
});

/** The local cluster, started (or created anew when it is not healthy) by the project's script; the warmup user on every node again. */
async function localCluster(): Promise<void> {
  execFileSync("bash", [SERVICES, "cluster"], { stdio: "inherit" });
  await addWarmupUser(); // a node started again or a cluster created anew has lost the in-memory ACL user
  const u = new URL(CLUSTER_URL);
  cluster?.disconnect();
  cluster = testClient(NODE_PORTS.map((port) => ({ host: u.hostname, port })));
}

// Each test starts on a healthy cluster: one that a test before left down (its own failure says
// why) is created anew, so that one failure does not fail every test after it.
beforeEach(async () => {
  try {
    await clusterHealthy(30_000);
  } catch (e) {
    if (process.env.REDIS_CLUSTER_URL) throw e;
    console.error(`${(e as Error).message}\nThe local Redis Cluster is created anew for the next test.`);
    await localCluster();
  }
}, 400_000);

afterAll(async () => {
  if (cluster) {
    for (const n of cluster.nodes("master")) {
      let cursor = "0";
      do {
        const [next, keys] = await n.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 5000);
        cursor = next;
        if (keys.length > 0) await Promise.all(keys.map((k) => cluster.unlink(k)));
      } while (cursor !== "0");
    }
    for (const n of await allNodes()) {
      await n.call("ACL", "DELUSER", user).catch(() => undefined);
      n.disconnect();
    }
    cluster.disconnect();
  }
  await pg?.end();
  await pgdb?.drop();
});

/**
 * After a warm that something broke: either it completed (every key current, a marker) or it
 * stopped with the warmup's error and wrote no marker. Either way the next run leaves the cluster
 * complete and current.
 */
async function expectCompleteOrCleanlyStopped(outcome: { ok: true } | { ok: false; error: unknown }, m: WarmupMarker | null): Promise<void> {
  if (outcome.ok) {
    expect(await allKeysCurrent()).toBe(true);
    expect(m).not.toBeNull();
  } else {
    expect(outcome.error).toBeInstanceOf(WarmupError);
    expect((outcome.error as Error).message).toMatch(/^warmup (stopped|wrote its keys).*No warmup marker was written/);
    expect(m).toBeNull();
  }
  await clusterHealthy(60_000); // the next run starts on a settled cluster, as a later `up` would
  const next = await warmRedis(conn, declarations);
  expect(next.needed === false || next.warmed === true).toBe(true);
  expect(await allKeysCurrent()).toBe(true);
  expect(await marker()).not.toBeNull();
}

describe("warmup on a three-master Redis Cluster", () => {
  it("writes every key on the shard of its slot, all three in parallel, the marker last; a second run writes nothing", async () => {
    const r = await warmRedis(conn, declarations, { force: true, batchSize: 500 });
    expect(r.warmed).toBe(true);
    expect(r.written).toEqual({ reputationCache: ROWS });
    const perMaster = await keysOnEachMaster();
    expect(perMaster).toHaveLength(3);
    expect(perMaster.reduce((a, b) => a + b, 0)).toBe(ROWS);
    for (const n of perMaster) expect(n).toBeGreaterThan(ROWS / 5); // ~a third each
    expect(await allKeysCurrent()).toBe(true);
    expect((await marker())?.keys).toBe(ROWS);
    const again = await warmRedis(conn, declarations);
    expect(again).toMatchObject({ warmed: false, needed: false });
  });

  it("re-warms incrementally: 1% of the rows changed, a few deleted; the status says how many before", async () => {
    await warmRedis(conn, declarations);
    await pg.query(`UPDATE cluster_rows SET payload = payload || ' ' WHERE id % 100 = 7`);
    await pg.query(`DELETE FROM cluster_rows WHERE id > ${ROWS - 5}`);
    const plan = await warmupStatus(conn, declarations);
    expect(plan.changes).toEqual({ reputationCache: { write: ROWS / 100, delete: 5, unchanged: ROWS - 5 - ROWS / 100, full: false } });
    expect(plan.reasons).toEqual([expect.stringMatching(/^logical DB reputationCache: source data changed .*: 200 key\(s\) to write, 5 to delete, 19795 unchanged$/)]);
    const r = await warmRedis(conn, declarations);
    expect(r).toMatchObject({ warmed: true, written: { reputationCache: 200 }, deleted: 5 });
    expect(await cluster.exists(keyOf(ROWS))).toBe(0);
    expect(await allKeysCurrent()).toBe(true);
    expect((await warmupStatus(conn, declarations)).needed).toBe(false);
  });

  it("a failover in the middle of a warm: the warm completes through MOVED, or fails clearly — never a stale marker", async () => {
    await pg.query(`UPDATE cluster_rows SET payload = payload || '+'`); // every key changes
    const replicaOf = async (master: Redis): Promise<Redis> => {
      const id = String(await master.call("CLUSTER", "MYID"));
      const line = String(await master.call("CLUSTER", "NODES"))
        .split("\n")
        .find((l) => l.includes(`slave ${id}`) || l.includes(`replica ${id}`))!;
      const [host, port] = line.split(" ")[1].split("@")[0].split(":");
      return new Redis({ host, port: Number(port) });
    };
    let failedOver = false;
    let outcome: { ok: true } | { ok: false; error: unknown };
    const replica = await replicaOf(cluster.nodes("master")[0]);
    try {
      await warmRedis(conn, declarations, {
        batchSize: 200,
        onProgress: async (p) => {
          if (failedOver || p.sent < 3000) return;
          failedOver = true;
          await replica.call("CLUSTER", "FAILOVER");
          for (let i = 0; i < 100 && !String(await replica.call("ROLE")).startsWith("master"); i++) await new Promise((r) => setTimeout(r, 100));
        },
      });
      outcome = { ok: true };
    } catch (e) {
      outcome = { ok: false, error: e };
    } finally {
      replica.disconnect();
    }
    expect(failedOver).toBe(true);
    // The promoted replica's new configuration reaches every node by gossip; reads wait for that.
    await clusterHealthy(60_000);
    await withClusterReport("after the failover", async () => expectCompleteOrCleanlyStopped(outcome, await marker()));
  }, 120_000);

  it("a slot migrating during the warm: keys of that slot reach the importing node through ASK", async () => {
    await pg.query(`UPDATE cluster_rows SET payload = payload || '#'`);
    const key = keyOf(1);
    const slot = Number(await cluster.call("CLUSTER", "KEYSLOT", key));
    const masters = cluster.nodes("master");
    const ids = await Promise.all(masters.map(async (n) => String(await n.call("CLUSTER", "MYID"))));
    const ranges = (await cluster.call("CLUSTER", "SLOTS")) as [number, number, [string, number, string]][];
    const owner = ids.indexOf(ranges.find(([from, to]) => slot >= from && slot <= to)![2][2]);
    expect(owner).toBeGreaterThanOrEqual(0);
    const source = masters[owner];
    const target = masters[(owner + 1) % masters.length];
    const targetId = ids[(owner + 1) % masters.length];
    const sourceId = ids[owner];
    // Start migrating the slot (what `redis-cli --cluster reshard` does first); move its keys away
    // so that writes to the slot are answered with ASK.
    await target.call("CLUSTER", "SETSLOT", slot, "IMPORTING", sourceId);
    await source.call("CLUSTER", "SETSLOT", slot, "MIGRATING", targetId);
    const [th, tp] = [target.options.host!, target.options.port!];
    const moveKeys = async () => {
      for (;;) {
        const keys = (await source.call("CLUSTER", "GETKEYSINSLOT", slot, 1000)) as string[];
        if (keys.length === 0) return;
        await source.call("MIGRATE", th, tp, "", 0, 5000, "KEYS", ...keys);
      }
    };
    let asks = 0;
    try {
      await moveKeys();
      const before = Number(/cmdstat_asking:calls=(\d+)/.exec(await target.info("commandstats"))?.[1] ?? 0);
      const r = await warmRedis(conn, declarations, { batchSize: 500 });
      expect(r.warmed).toBe(true);
      asks = Number(/cmdstat_asking:calls=(\d+)/.exec(await target.info("commandstats"))?.[1] ?? 0) - before;
    } finally {
      // Finish the migration: the slot belongs to the target now, on every master.
      await moveKeys();
      for (const n of masters) await n.call("CLUSTER", "SETSLOT", slot, "NODE", targetId);
    }
    expect(asks).toBeGreaterThan(0);
    expect(await target.call("CLUSTER", "COUNTKEYSINSLOT", slot)).toBeGreaterThan(0);
    expect(await allKeysCurrent()).toBe(true);
    expect(await marker()).not.toBeNull();
  });

  it("a master process killed in the middle of a warm: a clear error or a completed warm — never a stale marker", async () => {
    const u = new URL(CLUSTER_URL);
    await warmRedis(conn, declarations);
    expect(await marker()).not.toBeNull(); // a complete warm first: the marker the killed warm must not leave behind
    await pg.query(`UPDATE cluster_rows SET payload = payload || '!'`); // every key changes
    // The victim is the master of the marker's slot: its deletion must have reached the replica
    // that takes over, or the old marker would come back over half-written keys.
    const mk = markerKey(layout, "reputationCache");
    const slot = Number(await cluster.call("CLUSTER", "KEYSLOT", mk));
    const ranges = (await cluster.call("CLUSTER", "SLOTS")) as [number, number, [string, number]][];
    const [, , [vhost, vport]] = ranges.find(([from, to]) => slot >= from && slot <= to)!;
    const victim = new Redis({ host: vhost || u.hostname, port: vport });
    const pid = Number(/process_id:(\d+)/.exec(await victim.info("server"))![1]);
    victim.disconnect();
    let killed = false;
    let outcome: { ok: true } | { ok: false; error: unknown };
    try {
      await warmRedis(conn, declarations, {
        batchSize: 200,
        replicaTimeoutMs: 3000,
        lock: { ttlMs: 5000 },
        onProgress: async (p) => {
          if (killed || p.sent < 3000) return;
          killed = true;
          process.kill(pid, "SIGKILL");
        },
      });
      outcome = { ok: true };
    } catch (e) {
      outcome = { ok: false, error: e };
    }
    expect(killed).toBe(true);
    // The replica takes over (cluster-node-timeout 5 s); the killed node is started again and
    // rejoins as a replica, so the other tests find three masters with a replica each.
    const alive = NODE_PORTS.filter((p) => p !== vport);
    let takenOver = false;
    for (let i = 0; i < 150 && !takenOver; i++) {
      const probe = new Redis({ host: u.hostname, port: alive[0], lazyConnect: true });
      try {
        await probe.connect();
        const now = (await probe.call("CLUSTER", "SLOTS")) as [number, number, [string, number]][];
        const owner = now.find(([from, to]) => slot >= from && slot <= to)?.[2][1];
        takenOver = owner !== undefined && owner !== vport && String(await probe.call("CLUSTER", "INFO")).includes("cluster_state:ok");
      } catch {
        // not answering yet
      } finally {
        probe.disconnect();
      }
      if (!takenOver) await new Promise((r) => setTimeout(r, 200));
    }
    expect(takenOver).toBe(true);
    await localCluster();
    console.log(`killed master ${vport}: ${outcome.ok ? "the warm completed" : (outcome.error as Error).message}`);
    await withClusterReport("after the kill", async () => {
      // Completed means the kill landed after the last write to that master.
      await expectCompleteOrCleanlyStopped(outcome, await marker());
      if (outcome.ok) expect((await warmupStatus(conn, declarations)).needed).toBe(false);
    });
  }, 120_000);
});
