// Connecting to a Redis Cluster whose nodes do not (yet) say cluster_state:ok — a node just
// restarted or re-joined, slots not all covered. One cluster-enabled redis-server of the test's own
// with part of the slots (and its address announced: a node that met no other lists itself without
// one): the warmup waits until the cluster is ok, or says which node is not.
import Redis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { warmRedis, type WarmupConnections } from "../../../engines/redis/warmup";
import { KEYSPACE } from "../../../redis/layout";
import type { WarmupSpec } from "../../../redis/warmup";
import { freshDatabase, type FreshDatabase } from "../../helpers/pg";
import { freePort, startRedisServer, tempDir, type RedisProcess } from "../../helpers/redis-server";

const spec: WarmupSpec = {
  revision: 1,
  sets: [{ name: "one", database: "reputationCache", keyPrefix: "row:", query: "SELECT '1' AS key, 'a' AS value" }],
};
const declarations = { keyspace: KEYSPACE, warmup: spec };

let pgdb: FreshDatabase;
let server: RedisProcess;
let admin: Redis;
let tmp: ReturnType<typeof tempDir>;
let conn: WarmupConnections;

beforeAll(async () => {
  pgdb = await freshDatabase("redis_cluster_ready");
  tmp = tempDir("cluster-ready");
  const port = await freePort();
  const busPort = await freePort();
  server = await startRedisServer({
    dir: tmp.dir,
    port,
    files: { "redis.conf": `port ${port}\nbind 127.0.0.1\ncluster-enabled yes\ncluster-port ${busPort}\ncluster-config-file nodes.conf\ncluster-announce-ip 127.0.0.1\nsave ""\nappendonly no\n` },
  });
  admin = new Redis({ host: "127.0.0.1", port });
  conn = { database: pgdb.url, redis: { host: "127.0.0.1", port }, keyspace: { cluster: true, keyPrefix: "ready:" } };
});

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
  tmp?.remove();
  await pgdb?.drop();
});

const state = async () => /^cluster_state:(\w+)/m.exec(String(await admin.call("CLUSTER", "INFO")))?.[1];

describe("connecting to a cluster that is not ok", () => {
  it("says which node is not ok and what it says, instead of hanging", async () => {
    await admin.call("CLUSTER", "ADDSLOTSRANGE", "0", "100");
    expect(await state()).toBe("fail");
    const error = await warmRedis(conn, declarations, { force: true }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/^cannot connect to the Redis Cluster at 127\.0\.0\.1:\d+: the cluster is not ready after 15 s: 127\.0\.0\.1:\d+ says cluster_state:fail$/);
  }, 40_000);

  it("waits for it to become ok, then warms", async () => {
    expect(await state()).toBe("fail");
    const warm = warmRedis(conn, declarations, { force: true });
    await new Promise((r) => setTimeout(r, 1500));
    await admin.call("CLUSTER", "ADDSLOTSRANGE", "101", "16383");
    await expect(warm).resolves.toMatchObject({ warmed: true, written: { reputationCache: 1 } });
    expect(await admin.get("ready:reputation:row:1")).toBe("a");
  }, 40_000);
});
