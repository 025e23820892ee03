// The scheduled backup container for real, on the Docker engine: the project's backup image
// (scripts/images.sh) with exactly the command, files and mount `nexus:db:ScheduledBackups` gives
// it, against a PostgreSQL database and a private Redis on this machine (host network). It takes a
// backup on start, applies the retention to the host folder, keeps waiting for its daily time, and
// the archive restores here with the stack's key.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig } from "../../config/schema";
import { archiveLabel, scheduledBackupStart } from "../../components/backups";
import { restoreBackup } from "../../engines/backup";
import { freshDatabase, withClient, type FreshDatabase } from "../helpers/pg";
import { uniqueSuffix } from "../helpers/env";
import { startPrivateRedis, type PrivateRedis } from "../helpers/redis-server";
import { smallSource } from "../engines/backup/data";
import { docker, dockerUnavailable, imageRefs } from "./support";

const KEY = "scheduled backup key, long enough 0123456789";
const skip = dockerUnavailable();

describe.skipIf(skip)("the scheduled backup container on the Docker engine", () => {
  const stack = `bk${uniqueSuffix()}`;
  const container = `nexus-db-test-${stack}-backup`;
  let src: FreshDatabase;
  let dst: FreshDatabase;
  let redis: PrivateRedis;
  let dir: string;
  let archives: string;
  let logs = "";

  beforeAll(async () => {
    const image = (imageRefs() as unknown as { backup: string }).backup;
    dir = mkdtempSync(path.join(tmpdir(), "nexus-scheduled-backup-"));
    archives = path.join(dir, "archives");
    mkdirSync(archives);
    [src, dst] = await Promise.all([freshDatabase("bk_sched_src"), freshDatabase("bk_sched_dst")]);
    redis = await startPrivateRedis();
    await smallSource(src.url, 1000, { url: redis.url, db: 2, key: "nexus:session:1", value: "s" });
    // Archives of earlier days (one per day) and a file that is not ours.
    for (const stamp of ["20200101T023000Z", "20200102T023000Z", "20200103T023000Z"]) writeFileSync(path.join(archives, `${archiveLabel(stack)}-${stamp}.nxdb`), "old");
    writeFileSync(path.join(archives, "keep-me.txt"), "not an archive");

    const cfg = parseStackConfig({ environment: "dev", backups: { enabled: true, image, dailyAt: "03:00", runOnStart: true, keepDaily: 2, keepWeekly: 0, hostPath: archives } }, stack);
    const files = path.join(dir, "nexus-db");
    mkdirSync(path.join(files, "files/run/nexus-db"), { recursive: true });
    mkdirSync(path.join(files, "files/etc/nexus-db"), { recursive: true });
    writeFileSync(path.join(files, "files/run/nexus-db/backup.key"), KEY);
    // The stores here speak no TLS: the CA is installed as the container does, and not used.
    writeFileSync(path.join(files, "files/etc/nexus-db/ca.pem"), "-----BEGIN CERTIFICATE-----\nunused\n-----END CERTIFICATE-----\n");
    chmodSync(dir, 0o755);
    docker(
      "create",
      "--name",
      container,
      "--network",
      "host",
      "-e",
      `DATABASE_URL=${src.url}`,
      "-e",
      `REDIS_URL=${redis.url}`,
      "-v",
      `${archives}:/backups`,
      "--memory",
      `${cfg.backups.memoryMb}m`,
      image,
      ...scheduledBackupStart(cfg),
    );
    // What the provider's uploads do: the files land under /etc/nexus-db/files before the start.
    docker("cp", files, `${container}:/etc/`);
    docker("start", container);
    const until = Date.now() + 120_000;
    while (!/retention/.test(logs) && Date.now() < until) {
      await new Promise((res) => setTimeout(res, 500));
      logs = docker("logs", container);
      if (docker("inspect", "-f", "{{.State.Running}}", container) !== "true") break;
    }
  }, 300_000);

  afterAll(async () => {
    try {
      docker("rm", "-f", container);
    } catch {
      // never created
    }
    await src?.drop();
    await dst?.drop();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("takes a backup on start, keeps the newest of the last 2 days, touches no other file, and waits for 03:00", () => {
    expect(logs).toMatch(new RegExp(`scheduled: a backup of PostgreSQL, Redis every day at 03:00 UTC into /backups`));
    expect(logs).toMatch(/wrote \/backups\/.*\.nxdb \(.*encrypted\)/);
    expect(logs).toMatch(/retention \(2 daily, 0 weekly\): kept 2, removed 2/);
    expect(docker("inspect", "-f", "{{.State.Running}}", container)).toBe("true");
    const names = readdirSync(archives).sort();
    const fresh = names.filter((n) => n.startsWith(archiveLabel(stack)) && !n.includes("2020"));
    expect(fresh).toHaveLength(1);
    expect(names).toEqual([`${archiveLabel(stack)}-20200103T023000Z.nxdb`, fresh[0], "keep-me.txt"].sort());
    // Written by the unprivileged backup user, readable by it alone.
    const st = statSync(path.join(archives, fresh[0]));
    expect([st.uid, st.mode & 0o777]).toEqual([10001, 0o600]);
    expect(docker("exec", container, "stat", "-c", "%u %a", "/run/nexus-db/backup.key")).toBe("10001 400");
    expect(docker("exec", container, "sh", "-c", "cat /proc/1/status | grep ^Uid")).toMatch(/^Uid:\s+10001\s/);
  });

  it("the archive restores here with the stack's key, every count as in the manifest", async () => {
    const fresh = readdirSync(archives).find((n) => n.startsWith(archiveLabel(stack)) && !n.includes("2020"))!;
    const other = await startPrivateRedis();
    try {
      const r = await restoreBackup({ file: path.join(archives, fresh), passphrase: KEY, targets: { postgres: { url: dst.url }, redis: { url: other.url } } });
      expect(r.mismatches).toEqual([]);
      expect(r.restored).toEqual({ postgres: true, redisKeys: 1 });
      expect(await withClient(dst.url, (c) => c.query("SELECT count(*)::int AS n FROM notes")).then((x) => x.rows[0].n)).toBe(1000);
    } finally {
      await other.stop();
    }
  });
});
