// From nothing to a ready layer on a real Docker engine: `pulumi up` of the docker test stack
// (PostgreSQL and Redis containers of the project's images, TLS from the stack's CA, roles,
// migrations, grants, seeds, ACL users, the warmup, the Mongo reconciliation) vs the
// specification's way: `docker-compose up -d` (Debian's docker-compose 1.29, no --wait: we poll
// until every service is healthy) of an equivalent compose file with the same images, then
// `psql -f` of the migrations and seeds, the warmup and the Mongo reconciliation. Alternating rounds
// in one run; both sides start from no container and no volume. Admin tools are off on both sides.
// Then the no-op `pulumi up` of the docker stack vs the no-op `pulumi up` of the local stack. Each
// `pulumi up` is the CLI command, timed from its start to its exit (bench/run.ts: cliUp).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { MongoClient } from "mongodb";
import { MongoReconciler } from "../engines/mongo";
import { nexusCollections } from "../mongo/collections";
import { warmRedis } from "../engines/redis/warmup";
import { REDIS_DECLARATIONS } from "../redis/declarations";
import { uniqueSuffix } from "../tests/helpers/env";
import { PROJECT_ROOT, createStack, projectCopy } from "../tests/helpers/stack";
import { docker, dockerStackConfig, freePort, freePorts, imageRefs, mongoUsers, removeLeftovers, startBridgeFerret, type BridgeFerret, type ImageRefs } from "../tests/docker/support";
import { benchLocalStack, type BenchLocalStack } from "./local-stack";
import { alternatingRounds, cliUp, median, report, roundsNote } from "./run";

const ROUNDS = Number(process.env.BENCH_DOCKER_ROUNDS ?? 5);
const NOOP_ROUNDS = Number(process.env.BENCH_DOCKER_NOOP_ROUNDS ?? 3);

export function migrationFiles(): string[] {
  const dir = path.join(PROJECT_ROOT, "sql/migrations");
  return readdirSync(dir).filter((f) => f.endsWith(".sql") && !f.endsWith(".down.sql")).sort().map((f) => path.join(dir, f));
}

/** The compose file the specification would use: same images, same health checks, loopback ports. */
export function composeFile(refs: ImageRefs, ports: { postgres: number; redis: number }, password: string): string {
  return `version: "3.8"
services:
  postgres:
    image: ${refs.postgres}
    environment:
      POSTGRES_USER: postgres
      POSTGRES_PASSWORD: ${password}
      POSTGRES_DB: nexus_security
    ports: ["127.0.0.1:${ports.postgres}:5432"]
    volumes: ["pgdata:/var/lib/postgresql/data"]
    healthcheck: { test: ["CMD-SHELL", "pg_isready -U postgres -d nexus_security -h 127.0.0.1"], interval: 5s, timeout: 5s, retries: 30, start_period: 10s }
  redis:
    image: ${refs.redis}
    command: ["redis-server", "--appendonly", "yes"]
    ports: ["127.0.0.1:${ports.redis}:6379"]
    volumes: ["redisdata:/data"]
    healthcheck: { test: ["CMD-SHELL", "redis-cli ping | grep -q PONG"], interval: 5s, timeout: 5s, retries: 30, start_period: 10s }
volumes:
  pgdata: {}
  redisdata: {}
`;
}

async function composeRound(refs: ImageRefs, ferret: BridgeFerret, round: number): Promise<number> {
  const project = `nxbench${uniqueSuffix()}`;
  const dir = mkdtempSync(path.join(tmpdir(), "nexus-compose-"));
  const ports = { postgres: await freePort(), redis: await freePort() };
  const password = "bench-only-password";
  writeFileSync(path.join(dir, "docker-compose.yml"), composeFile(refs, ports, password));
  const compose = (...args: string[]) => execFileSync("docker-compose", ["-p", project, "-f", path.join(dir, "docker-compose.yml"), ...args], { stdio: "pipe" });
  const database = `nexus_bench_compose_${round}_${uniqueSuffix()}`;
  const t0 = performance.now();
  try {
    compose("up", "-d");
    for (const svc of ["postgres", "redis"]) {
      const name = `${project}_${svc}_1`;
      while (docker("inspect", "--format", "{{.State.Health.Status}}", name) !== "healthy") await new Promise((r) => setTimeout(r, 250));
    }
    const url = `postgresql://postgres:${password}@127.0.0.1:${ports.postgres}/nexus_security`;
    const files = [...migrationFiles(), path.join(PROJECT_ROOT, "sql/seeds/test_data.sql")];
    execFileSync("psql", [url, "-q", "-v", "ON_ERROR_STOP=1", ...files.flatMap((f) => ["-f", f])], { stdio: ["ignore", "ignore", "pipe"] });
    await warmRedis({ database: url, redis: `redis://127.0.0.1:${ports.redis}` }, REDIS_DECLARATIONS);
    const m = new MongoClient(`mongodb://${ferret.host}:${ferret.port}/`);
    await m.connect();
    try {
      await new MongoReconciler({ client: m, database, collections: nexusCollections(), allowMissingFeatures: ferret.allowMissingFeatures }).apply();
    } finally {
      await m.close();
    }
    const ms = performance.now() - t0;
    await ferret.dropDatabase(database, []);
    return ms;
  } finally {
    compose("down", "-v", "--remove-orphans");
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A no-op `pulumi up` (the CLI command): its time, and an error when it changed anything. */
async function timeNoop(s: Stack): Promise<number> {
  const r = await cliUp(s);
  const changed = Object.entries(r.changes).filter(([op, n]) => op !== "same" && (n ?? 0) > 0);
  if (changed.length > 0) throw new Error(`${s.name}: the second up is not a no-op: ${JSON.stringify(Object.fromEntries(changed))}`);
  return r.ms;
}

async function main(): Promise<void> {
  execFileSync("bash", [path.join(PROJECT_ROOT, "scripts/docker-engine.sh"), "compose"], { stdio: "inherit" });
  const refs = imageRefs();
  const ferret = await startBridgeFerret();
  const suffix = uniqueSuffix();
  const stackName = `dkb${suffix}`;
  const copy = projectCopy("nexus-docker-bench-");
  let stack: Stack | undefined;
  let local: BenchLocalStack | undefined;
  try {
    const database = `nexus_bench_${suffix}`;
    stack = await createStack(copy, stackName, dockerStackConfig({ refs, ports: await freePorts(), ferret, database, ephemeral: true, devTools: false }));
    const docked = stack;
    // Each side starts from no container, no volume and no Mongo database: the (ephemeral) stack is
    // destroyed after each of its rounds but the last, whose deployment the no-op rounds use.
    const ours = async (round: number) => {
      const { ms, result } = await cliUp(docked);
      if (result !== "succeeded") throw new Error(`up: ${result}`);
      if (round < ROUNDS - 1) {
        await docked.destroy({ color: "never" });
        await ferret.dropDatabase(database, Object.values(mongoUsers(database)));
      }
      return ms;
    };
    const label = { ours: "pulumi up", baseline: "docker-compose + psql + warmup" };
    const times = await alternatingRounds(ROUNDS, { ours, baseline: (round) => composeRound(refs, ferret, round) }, label);
    report({
      name: "from nothing to a ready layer: pulumi up (docker stack) vs docker-compose up -d + psql -f + warmup",
      ours: median(times.ours),
      baseline: median(times.baseline),
      unit: "ms",
      goal: 1.3,
      note: `${roundsNote(times, label)}; the program also makes the CA and certificates, roles, grants and ACL users, and waits for health before connecting`,
    });

    // No-op up: the docker stack (deployed by the last round) vs the local stack.
    local = await benchLocalStack("bn", { up: true });
    const localStack = local.stack;
    const noopLabel = { ours: "docker", baseline: "local" };
    const noop = await alternatingRounds(NOOP_ROUNDS, { ours: () => timeNoop(docked), baseline: () => timeNoop(localStack) }, noopLabel);
    report({
      name: "no-op pulumi up: docker stack vs local stack",
      ours: median(noop.ours),
      baseline: median(noop.baseline),
      unit: "ms",
      note: roundsNote(noop, noopLabel),
    });
  } finally {
    try {
      if (stack) await stack.destroy({ color: "never" });
    } catch (e) {
      console.error(`destroy ${stack?.name}: ${(e as Error).message.split("\n")[0]}`);
    }
    if (stack) await stack.workspace.removeStack(stackName, { force: true }).catch(() => undefined);
    await local?.remove();
    removeLeftovers(stackName);
    await ferret.stop();
    copy.remove();
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
