// Cache warmup throughput: the warmup engine (plan, pipelined SETs, stale-key scan, marker) against
// `redis-cli --pipe` fed the same SET commands, on a private redis-server, in the same run.
// Also, for the record, the spec's way (cache-warmup.sh): a shell loop, one redis-cli per key.
//   npx tsx bench/run.ts redis
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import Redis from "ioredis";
import { Client } from "pg";
import { keyspaceLayout } from "../redis/layout";
import type { WarmupSpec } from "../redis/warmup";
import { readWarmupData, redisConnector, runWarmup, type WarmupData } from "../engines/redis/warmup";
import { report } from "./run";

const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:55432/postgres";
const SIZES = (process.env.BENCH_REDIS_SIZES ?? "100000,1000000").split(",").map(Number);
const SHELL_LOOP_KEYS = Number(process.env.BENCH_REDIS_SHELL_KEYS ?? 1000);

const SPEC: WarmupSpec = {
  revision: 1,
  sets: [{ name: "bench-engines", database: "reputationCache", keyPrefix: "bench:", query: "SELECT id::text AS key, payload AS value FROM bench_rows" }],
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

async function startRedis(dir: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdio: ["ignore", "pipe", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
      if (out.includes("Ready to accept connections")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`redis-server exited ${code}: ${out}`)));
  });
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  };
}

function resp(args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "nexus-bench-redis-"));
  const dbName = `nexus_bench_redis_${Date.now().toString(36)}`;
  const admin = new Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(DATABASE_URL);
  url.pathname = `/${dbName}`;
  const pg = new Client({ connectionString: url.toString() });
  await pg.connect();
  const server = await startRedis(dir);
  const control = new Redis({ port: server.port, host: "127.0.0.1" });
  const layout = keyspaceLayout();
  const db = layout.database("reputationCache").db;
  try {
    await pg.query("CREATE TABLE bench_rows (id bigint PRIMARY KEY, payload text NOT NULL)");
    let rows = 0;
    for (const n of SIZES) {
      await pg.query(
        `INSERT INTO bench_rows
         SELECT g, json_build_object('id', g, 'name', 'engine-' || g, 'type', 'automated', 'reputationScore', g % 1000)::text
           FROM generate_series($1::bigint + 1, $2::bigint) g`,
        [rows, n],
      );
      rows = n;
      const t0 = performance.now();
      const data = await readWarmupData(pg, { spec: SPEC, layout });
      const readMs = performance.now() - t0;

      // The same SETs as a redis-cli --pipe input file (written before the clock starts).
      const pipeFile = path.join(dir, `pipe-${n}.resp`);
      writeFileSync(pipeFile, data.sets[0].entries.map((e) => resp(["SET", e.key, e.value])).join(""));

      const ours: number[] = [];
      const theirs: number[] = [];
      for (let round = 0; round < 2; round++) {
        await control.flushall();
        ours.push(await timeWarmup(server.port, data));
        if ((await dbsize(control, db)) !== n + 1) throw new Error(`warmup left ${await dbsize(control, db)} keys in DB ${db}, expected ${n} + marker`);
        await control.flushall();
        theirs.push(timePipe(server.port, db, pipeFile, n));
        if ((await dbsize(control, db)) !== n) throw new Error(`redis-cli --pipe left ${await dbsize(control, db)} keys`);
      }
      // A re-warm over the keys already there (data changed): adds the stale-key scan, which a
      // first warmup into an empty database skips. Reported in the note, not in the ratio.
      await control.flushall();
      await timeWarmup(server.port, data);
      const rewarmMs = await timeWarmup(server.port, data, true);
      const bestOurs = Math.min(...ours);
      const bestTheirs = Math.min(...theirs);
      report({
        name: `warm ${n.toLocaleString("en")} keys (nexus-db warmup vs redis-cli --pipe)`,
        ours: n / (bestOurs / 1000),
        baseline: n / (bestTheirs / 1000),
        unit: "ops/s",
        goal: 1.25, // at least 0.8 of redis-cli's throughput
        note:
          `best of 2 into an empty database: ours ${bestOurs.toFixed(0)} ms (plan, SETs, marker), redis-cli --pipe ${bestTheirs.toFixed(0)} ms; ` +
          `a forced re-warm over the existing keys (SETs plus the stale-key scan) took ${rewarmMs.toFixed(0)} ms = ${(n / (rewarmMs / 1000)).toFixed(0)} keys/s; ` +
          `reading and hashing the ${n.toLocaleString("en")} source rows from PostgreSQL took ${readMs.toFixed(0)} ms more (not in either figure)`,
      });
      rmSync(pipeFile);
    }

    // The spec's cache-warmup.sh way: a process per key.
    const sample = (await readWarmupData(pg, { spec: SPEC, layout })).sets[0].entries.slice(0, SHELL_LOOP_KEYS);
    const tsv = path.join(dir, "loop.tsv");
    writeFileSync(tsv, sample.map((e) => `${e.key}\t${e.value}\n`).join(""));
    await control.flushall();
    const t1 = performance.now();
    const loop = spawnSync("bash", ["-c", `while IFS=$'\\t' read -r k v; do redis-cli -p ${server.port} -n ${db} SET "$k" "$v" >/dev/null; done < "$1"`, "loop", tsv], { stdio: "inherit" });
    const loopMs = performance.now() - t1;
    if (loop.status !== 0 || (await dbsize(control, db)) !== sample.length) throw new Error("the shell loop did not write every key");
    await control.flushall();
    const subset: WarmupData = { ...(await readWarmupData(pg, { spec: SPEC, layout })) };
    subset.sets = [{ ...subset.sets[0], entries: sample }];
    const oursSmall = await timeWarmup(server.port, subset);
    report({
      name: `warm ${sample.length.toLocaleString("en")} keys (nexus-db warmup vs shell loop, one redis-cli per key; record only)`,
      ours: sample.length / (oursSmall / 1000),
      baseline: sample.length / (loopMs / 1000),
      unit: "ops/s",
      note: `shell loop ${loopMs.toFixed(0)} ms = ${(sample.length / (loopMs / 1000)).toFixed(0)} keys/s; ours ${oursSmall.toFixed(0)} ms`,
    });
  } finally {
    control.disconnect();
    await server.stop();
    await pg.end();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function dbsize(r: Redis, db: number): Promise<number> {
  await r.select(db);
  const n = await r.dbsize();
  await r.select(0);
  return n;
}

async function timeWarmup(port: number, data: WarmupData, force = false): Promise<number> {
  const redis = await redisConnector({ host: "127.0.0.1", port });
  try {
    const t = performance.now();
    const r = await runWarmup(redis.connect, data, { batchSize: 1000, force });
    const ms = performance.now() - t;
    if (!r.warmed) throw new Error("the warmup did not run");
    return ms;
  } finally {
    redis.close();
  }
}

function timePipe(port: number, db: number, file: string, n: number): number {
  const t = performance.now();
  const out = execFileSync("bash", ["-c", `redis-cli -p ${port} -n ${db} --pipe < "$1"`, "pipe", file], { encoding: "utf8" });
  const ms = performance.now() - t;
  if (!out.includes(`errors: 0, replies: ${n}`)) throw new Error(`redis-cli --pipe: ${out}`);
  return ms;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
