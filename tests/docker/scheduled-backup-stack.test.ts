// A docker stack with `backups.enabled`, up for real with the real CLI: PostgreSQL and Redis in
// containers of the project's images, and the backup container beside them, which reaches both by
// their container names over TLS (the stack's CA), takes a backup on start into a host folder, and
// keeps waiting for its daily time. The archive restores here with the stack's key, and the key is
// nowhere in the stack's state in plain text. Everything the stack creates is removed at the end.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restoreBackup } from "../../engines/backup";
import { freshDatabase, withClient, type FreshDatabase } from "../helpers/pg";
import { MONGODB_URL, uniqueSuffix } from "../helpers/env";
import { createStack, projectCopy, storedStateText, type ProjectCopy } from "../helpers/stack";
import { startPrivateRedis, type PrivateRedis } from "../helpers/redis-server";
import { docker, dockerStackConfig, FERRET1_MISSING, dockerUnavailable, freePorts, imageRefs, removeTestStack } from "./support";

const skip = dockerUnavailable();
const suffix = uniqueSuffix();
const stackName = `bs${suffix}`;
const KEY = `stack backup key ${suffix} 0123456789`;
const STEP = 900_000;

describe.skipIf(skip !== undefined)("a docker stack with scheduled backups, up for real", () => {
  let copy: ProjectCopy;
  let stack: Stack;
  let upSucceeded = false;
  let archives: string;
  let logs = "";

  beforeAll(async () => {
    archives = mkdtempSync(path.join(tmpdir(), "nexus-stack-backups-"));
    chmodSync(archives, 0o755);
    copy = projectCopy("nexus-backup-stack-");
    const refs = imageRefs();
    const json = (v: unknown) => ({ value: JSON.stringify(v) });
    stack = await createStack(copy, stackName, {
      // Mongo stays on this machine's test server (no container reaches it, and none needs to: the
      // backup container backs up the stores on the docker backend).
      ...dockerStackConfig({ refs, ports: await freePorts(), ferret: { host: "127.0.0.1", port: Number(new URL(MONGODB_URL).port), allowMissingFeatures: FERRET1_MISSING }, database: `nexus_${suffix}`, ephemeral: true, devTools: false }),
      "nexus-db:backups": json({ enabled: true, image: refs.backup, runOnStart: true, dailyAt: "03:00", keepDaily: 3, keepWeekly: 1, hostPath: archives }),
      "nexus-db:backupKey": { value: KEY, secret: true },
    });
  }, STEP);

  afterAll(async () => {
    try {
      await removeTestStack(stack, stackName);
    } finally {
      copy?.remove();
      if (archives) rmSync(archives, { recursive: true, force: true });
    }
  }, STEP);

  it("up: the backup container starts after the stores and writes an archive of PostgreSQL and Redis", async () => {
    const r = await stack.up({ color: "never" });
    expect(r.summary.result).toBe("succeeded");
    const out = await stack.outputs();
    expect(out.backups.value).toEqual({ destination: `host folder ${archives}`, dailyAt: "03:00", keepDaily: 3, keepWeekly: 1 });
    const until = Date.now() + 120_000;
    while (!/retention|failed/.test(logs) && Date.now() < until) {
      await new Promise((res) => setTimeout(res, 1000));
      // Both streams: a failed run is reported on stderr.
      logs = execFileSync("docker", ["logs", `${stackName}-backup`], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
      logs += `\n${execFileSync("sh", ["-c", `docker logs ${stackName}-backup 2>&1 >/dev/null`], { encoding: "utf8" }).trim()}`;
    }
    expect(logs).toMatch(/scheduled: a backup of PostgreSQL, Redis every day at 03:00 UTC into \/backups/);
    expect(logs).not.toMatch(/failed/);
    expect(logs).toMatch(new RegExp(`wrote /backups/nexus-db-${stackName}-\\d{8}T\\d{6}Z\\.nxdb`));
    expect(logs).toMatch(/retention \(3 daily, 1 weekly\): kept 1, removed 0/);
    expect(docker("inspect", "-f", "{{.State.Running}}", `${stackName}-backup`)).toBe("true");
    expect(readdirSync(archives).filter((n) => n.endsWith(".nxdb"))).toHaveLength(1);
    upSucceeded = true;
  }, STEP);

  it("the archive restores here with the stack's key: the seeded rows and the warm cache, every count as in the manifest", async () => {
    expect(upSucceeded).toBe(true);
    const file = path.join(archives, readdirSync(archives).find((n) => n.endsWith(".nxdb"))!);
    let db: FreshDatabase | undefined;
    let redis: PrivateRedis | undefined;
    try {
      const [target, targetRedis] = await Promise.all([freshDatabase("bk_stack_dst"), startPrivateRedis()]);
      db = target;
      redis = targetRedis;
      // The stack's roles do not exist on this server: ownership and grants are left out.
      const r = await restoreBackup({ file, passphrase: KEY, targets: { postgres: { url: db.url }, redis: { url: redis.url } }, noOwner: true });
      expect(r.mismatches).toEqual([]);
      expect(r.restored.postgres).toBe(true);
      expect(r.restored.redisKeys).toBeGreaterThan(0);
      expect(r.manifest.postgres!.schemaVersion).toBeGreaterThan(0);
      const users = await withClient(db.url, (c) => c.query("SELECT count(*)::int AS n FROM users"));
      expect(users.rows[0].n).toBe(r.manifest.postgres!.tables.find((t) => t.table === "public.users")!.rows);
      expect(users.rows[0].n).toBeGreaterThan(0);
    } finally {
      await db?.drop();
      await redis?.stop();
    }
  }, STEP);

  it("the key is nowhere in the stack's state in plain text", () => {
    expect(upSucceeded).toBe(true);
    expect(storedStateText(copy.backend)).not.toContain(KEY);
  });
});
