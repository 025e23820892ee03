// `nexus-db redis …` as operators run it: the real bin script, a private redis-server, the real
// migrations and seeds on a fresh PostgreSQL database.
import { readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli";
import type { FreshDatabase } from "../helpers/pg";
import { seededDatabase } from "../engines/redis/pgdata";
import { freePort, startRedisServer, tempDir, type RedisProcess } from "../helpers/redis-server";

const PASSWORDS = {
  NEXUS_REDIS_ADMIN_PASSWORD: "cli-admin-3f9a1c",
  NEXUS_REDIS_APP_PASSWORD: "cli-app-8b2d4e",
  NEXUS_REDIS_READONLY_PASSWORD: "cli-ro-6c0e7a",
  NEXUS_REDIS_WARMUP_PASSWORD: "cli-warm-1d5f9b",
};

function cli(args: string[], env: Record<string, string> = {}) {
  const r = runCli(["redis", ...args], { env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("nexus-db redis", () => {
  const tmp = tempDir("cli");
  let pgdb: FreshDatabase;
  let server: RedisProcess | undefined;
  let port: number;

  beforeAll(async () => {
    pgdb = await seededDatabase("redis_cli");
  });
  afterAll(async () => {
    await server?.stop();
    await pgdb?.drop();
    tmp.remove();
  });

  it("render refuses bad settings with their paths and writes nothing", () => {
    const settings = path.join(tmp.dir, "bad.json");
    writeFileSync(settings, JSON.stringify({ maxmemory: "lots", maxmemoryPolicy: "most-recent", tls: { port: 6380 } }));
    const out = path.join(tmp.dir, "bad-out");
    const r = cli(["render", "--settings", settings, "--out", out], PASSWORDS);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/redis\.maxmemory: "lots" is not a memory size/);
    expect(r.stderr).toMatch(/redis\.maxmemoryPolicy: /);
    expect(r.stderr).toMatch(/redis\.tls\.certFile: tls\.port 6380 needs a certificate/);
    expect(() => statSync(out)).toThrow();
  });

  it("render writes redis.conf and a 0600 ACL file of hashes; the server starts with them", async () => {
    port = await freePort();
    const settings = path.join(tmp.dir, "good.json");
    writeFileSync(settings, JSON.stringify({ port, aclFile: path.join(tmp.dir, "out", "users.acl"), persistence: { dir: tmp.dir } }));
    expect(cli(["render", "--settings", settings, "--out", path.join(tmp.dir, "out")]).status).toBe(1); // no passwords
    const r = cli(["render", "--settings", settings, "--out", path.join(tmp.dir, "out")], PASSWORDS);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const acl = readFileSync(path.join(tmp.dir, "out", "users.acl"), "utf8");
    for (const pw of Object.values(PASSWORDS)) expect(acl).not.toContain(pw);
    expect(statSync(path.join(tmp.dir, "out", "users.acl")).mode & 0o777).toBe(0o600);
    server = await startRedisServer({ dir: path.join(tmp.dir, "out"), port, files: {} });
  });

  it("status, warm, warm again", () => {
    const redisUrl = `redis://nexus_warmup:${PASSWORDS.NEXUS_REDIS_WARMUP_PASSWORD}@127.0.0.1:${port}`;
    const common = ["--redis-url", redisUrl, "--database-url", pgdb.url];
    const before = cli(["status", ...common]);
    expect(before.status).toBe(0);
    expect(before.stdout).toMatch(/^warmup needed \(version [0-9a-f]{32}\):\n {2}DB 3 \(reputationCache\): no warmup marker/);
    const warm = cli(["warm", ...common]);
    expect(warm.stderr).toBe("");
    expect(warm.stdout).toMatch(/^warmed version [0-9a-f]{32} in \d+ ms: wrote reputationCache \d+, rateLimit \d+, analysisCache \d+; removed 0 stale keys/);
    expect(warm.stdout).toMatch(/source rows: engine-reputation 5, engine-ranking 1, rate-limit-tiers 4, api-key-quotas \d+, analysis-verdicts \d+/);
    const again = cli(["warm", ...common, "--json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({ warmed: false, needed: false, written: {} });
    expect(cli(["status", ...common]).stdout).toMatch(/^up to date/);
    const bad = cli(["warm", "--redis-url", `redis://nexus_warmup:wrong@127.0.0.1:${port}`, "--database-url", pgdb.url]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^nexus-db redis warm: cannot connect to Redis at 127.0.0.1:\d+ \(DB \d\) as nexus_warmup: WRONGPASS/);
  });

  it("bad usage exits 2", () => {
    expect(cli(["frobnicate"]).status).toBe(2);
    expect(cli(["warm", "--batch-size", "0", "--redis-url", "redis://x", "--database-url", "postgres://x"]).status).toBe(2);
  });
});
