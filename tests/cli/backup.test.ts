// The command line of backup and restore, as an operator runs it (bin/nexus-db.cjs): usage errors
// exit 2 before anything happens, the key comes from --key-file or NEXUS_BACKUP_KEY, and a backup
// of URLs restores into empty targets with the counts checked.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli";
import { freshDatabase, withClient, type FreshDatabase } from "../helpers/pg";
import { resolveTargets } from "../../cli/targets";
import { startPrivateRedis, type PrivateRedis } from "../helpers/redis-server";
import { smallSource } from "../engines/backup/data";

const ROOT = path.resolve(__dirname, "../..");
const KEY = "cli test key of more than sixteen characters";

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const clean = { ...process.env };
  delete clean.NEXUS_BACKUP_KEY;
  return runCli(args, { env: { ...clean, ...env }, timeoutMs: 300_000 });
}

describe("nexus-db backup / restore on the command line", () => {
  let src: FreshDatabase;
  let dst: FreshDatabase;
  let redis: PrivateRedis;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "nexus-backup-cli-"));
    [src, dst] = await Promise.all([freshDatabase("bk_cli_src"), freshDatabase("bk_cli_dst")]);
    redis = await startPrivateRedis();
    await smallSource(src.url, 250, { url: redis.url, db: 4, key: "nexus:tmpfile:1", value: "state" });
  });
  afterAll(async () => {
    await src?.drop();
    await dst?.drop();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("refuses bad usage with exit 2 and writes nothing", () => {
    const out = path.join(dir, "never.nxdb");
    let r = cli(["backup", "--url", src.url, "--out", out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no backup key: give --key-file FILE, set NEXUS_BACKUP_KEY/);
    r = cli(["backup", "--url", "ftp://nowhere", "--out", out], { NEXUS_BACKUP_KEY: KEY });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not a postgres:\/\/, mongodb:\/\/ or redis:\/\/ URL/);
    r = cli(["backup", "--url", src.url, "--url", src.url, "--out", out], { NEXUS_BACKUP_KEY: KEY });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/two postgres URLs/);
    r = cli(["backup", "--url", src.url, "--out", out], { NEXUS_BACKUP_KEY: "short" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/at least 16 characters/);
    r = cli(["restore", "--url", dst.url], { NEXUS_BACKUP_KEY: KEY });
    expect(r.status).toBe(2);
    expect(existsSync(out) || existsSync(`${out}.partial`)).toBe(false);
  });

  // A small database, as here, is what once lost its dump: pg_dump finished before the archive key
  // was derived, and the output nobody was reading yet was discarded (engines/backup/postgres.ts).
  it("backs up with --key-file, verifies, restores into empty targets and checks the counts", async () => {
    const keyFile = path.join(dir, "key");
    writeFileSync(keyFile, `${KEY}\n`, { mode: 0o600 });
    const out = path.join(dir, "cli.nxdb");
    let r = cli(["backup", "--url", src.url, "--url", redis.url, "--out", out, "--key-file", keyFile, "--quiet"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/public\.notes\s+250/);
    expect(r.stdout).toMatch(/wrote .*cli\.nxdb .*encrypted/);
    expect(statSync(out).mode & 0o777).toBe(0o600);

    r = cli(["restore", out, "--verify-only"], { NEXUS_BACKUP_KEY: KEY });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/authentic and complete \(2 parts\)/);

    r = cli(["restore", out, "--url", dst.url, "--url", redis.url, "--json"], { NEXUS_BACKUP_KEY: KEY });
    expect(r.status).toBe(1); // the Redis server still holds the source key: refused before anything is written
    expect(r.stderr).toMatch(/Redis at .* is not empty \(DB 4: 1 keys\)/);
    expect(await withClient(dst.url, (c) => c.query("SELECT to_regclass('public.notes') AS t")).then((x) => x.rows[0].t)).toBeNull();

    r = cli(["restore", out, "--url", dst.url, "--url", redis.url, "--replace", "--json"], { NEXUS_BACKUP_KEY: KEY });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout) as { restored: { postgres: boolean; redisKeys: number }; mismatches: string[] };
    expect(result.restored).toEqual({ postgres: true, redisKeys: 1 });
    expect(result.mismatches).toEqual([]);
    expect(await withClient(dst.url, (c) => c.query("SELECT count(*)::int AS n FROM notes")).then((x) => x.rows[0].n)).toBe(250);
  });

  it("backup-key prints a new generated key; an archive written with it opens with it alone", async () => {
    let r = cli(["backup-key"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const key = r.stdout.trim();
    expect(key).toMatch(/^nxdbk1-[A-Za-z0-9_-]{43}$/);
    expect(cli(["backup-key"]).stdout.trim()).not.toBe(key);
    const out = path.join(dir, "generated.nxdb");
    r = cli(["backup", "--url", src.url, "--out", out, "--quiet"], { NEXUS_BACKUP_KEY: key });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    r = cli(["restore", out, "--verify-only"], { NEXUS_BACKUP_KEY: key });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/authentic and complete \(1 parts\)/);
    r = cli(["restore", out, "--verify-only"], { NEXUS_BACKUP_KEY: KEY });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/sealed with a generated key .* the key given is a passphrase/);
    r = cli(["backup", "--url", src.url, "--out", path.join(dir, "typo.nxdb"), "--quiet"], { NEXUS_BACKUP_KEY: key.slice(0, -2) });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/not a whole generated key/);
    expect(existsSync(path.join(dir, "typo.nxdb"))).toBe(false);
  });

  it("--out-dir with --keep-daily/--keep-weekly prunes the label's older archives and nothing else", () => {
    const out = path.join(dir, "kept");
    mkdirSync(out);
    const old = ["20200101T023000Z", "20200102T023000Z", "20200103T023000Z"].map((s) => `cli-${s}.nxdb`);
    for (const n of [...old, "other-20200101T023000Z.nxdb"]) writeFileSync(path.join(out, n), "old");
    let r = cli(["backup", "--url", src.url, "--out-dir", out, "--keep-weekly", "1"], { NEXUS_BACKUP_KEY: KEY });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--keep-weekly needs --keep-daily/);
    r = cli(["backup", "--url", src.url, "--out", path.join(out, "x.nxdb"), "--keep-daily", "2"], { NEXUS_BACKUP_KEY: KEY });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/need --out-dir DIR/);
    r = cli(["backup", "--url", src.url, "--out-dir", out, "--label", "cli", "--keep-daily", "2", "--keep-weekly", "0", "--quiet"], { NEXUS_BACKUP_KEY: KEY });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/retention \(2 daily, 0 weekly\): kept 2, removed 2/);
    const left = readdirSync(out).sort();
    expect(left).toHaveLength(3);
    expect(left).toContain("cli-20200103T023000Z.nxdb");
    expect(left).toContain("other-20200101T023000Z.nxdb");
    expect(left.find((n) => /^cli-\d{8}T\d{6}Z\.nxdb$/.test(n) && !old.includes(n))).toBeDefined();
  });

  it("--daily-at with --now takes a backup at once and keeps running for the next day's", async () => {
    const out = path.join(dir, "scheduled");
    mkdirSync(out);
    const clean = { ...process.env, NEXUS_BACKUP_KEY: KEY };
    const child = spawn(process.execPath, [path.join(ROOT, "bin/nexus-db.cjs"), "backup", "--url", src.url, "--out-dir", out, "--label", "sched", "--keep-daily", "3", "--daily-at", "03:00", "--now"], { env: clean });
    let stdout = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    try {
      const until = Date.now() + 60_000;
      while (!/retention/.test(stdout) && child.exitCode === null && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
      expect(stdout).toMatch(/scheduled: a backup of PostgreSQL every day at 03:00 UTC into /);
      expect(stdout).toMatch(/wrote .*sched-\d{8}T\d{6}Z\.nxdb/);
      expect(child.exitCode).toBeNull(); // still waiting for 03:00
      expect(readdirSync(out).filter((n) => n.endsWith(".nxdb"))).toHaveLength(1);
    } finally {
      // The wrapper passes the signal on: the whole command stops (no scheduler left behind).
      const exited = new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once("exit", r)));
      child.kill("SIGTERM");
      await exited;
    }
  });

  it("resolves targets from --url and --env, the Mongo database from the URL path", () => {
    const saved = { ...process.env };
    try {
      process.env.DATABASE_URL = "postgres://u@h/db";
      process.env.MONGODB_URL = "mongodb://h:27017/nexus_x?tls=false";
      process.env.REDIS_URL = "redis://h:6379";
      const t = resolveTargets({ env: true }, ROOT);
      expect(t.targets.postgres?.url).toBe("postgres://u@h/db");
      expect(t.targets.mongo?.database).toBe("nexus_x");
      expect(t.targets.redis?.markers?.map((m) => m.key)).toContain("nexus:reputation:warmup:marker");
      expect(t.source).toBe("environment");
      expect(() => resolveTargets({ env: true, url: ["redis://other"] }, ROOT)).toThrow(/two redis URLs/);
    } finally {
      process.env = saved;
    }
  });
});
