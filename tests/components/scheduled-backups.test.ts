// Scheduled backups of a docker stack under the mock runtime: the backup container's exact inputs
// (the project's image, the `nexus-db backup --daily-at` command with the retention, no published
// port, the archive volume kept on destroy), the key and the stores' credentials as secrets only,
// a host folder instead of the volume, and the config's refusals.
import { beforeAll, describe, expect, it } from "vitest";
import type { StackConfig } from "../../config/schema";
import { installMocks, isSecret, valueOf } from "../helpers/mocks";
import { isWireSecret } from "../helpers/mocks-cloud";

const BACKUP_KEY = "scheduled-backup-key-0123456789abcdef";
const IMAGE = "nexus-db/backup:0123456789ab";
const mocks = installMocks({ stack: "dev", config: { "nexus-db:backupKey": BACKUP_KEY }, secretKeys: ["nexus-db:backupKey"] });
const pw = (name: string) => `mockpw${name.replace(/[^A-Za-z0-9]/g, "")}`;
const CA = "-----BEGIN CERTIFICATE-----\nnexus-tls-ca\n-----END CERTIFICATE-----\n";

let schema: typeof import("../../config/schema");
let stackFiles: typeof import("../helpers/stack-files");
let layer: import("../../components/database-layer").DatabaseLayer;

async function build(cfg: StackConfig, name = "nexus") {
  const { DatabaseLayer } = await import("../../components/database-layer");
  const l = new DatabaseLayer(name, { config: cfg }, { transformations: [mocks.recordOptions] });
  await mocks.settle();
  return l;
}

/** The dev stack file's values with `backups` set. */
function devWith(backups: Record<string, unknown>): StackConfig {
  const values = { ...stackFiles.stackFileValues("dev"), backups };
  return schema.parseStackConfig(values, "dev");
}

beforeAll(async () => {
  schema = await import("../../config/schema");
  stackFiles = await import("../helpers/stack-files");
  layer = await build(devWith({ enabled: true, image: IMAGE, dailyAt: "01:45", keepDaily: 10, keepWeekly: 6, runOnStart: true }));
});

describe("scheduled backups on the dev stack", () => {
  it("a container of the project's backup image runs `nexus-db backup --daily-at` with the retention, as an unprivileged user", () => {
    const { __provider: _p, uploads: _u, envs: _e, ...c } = mocks.byName("nexus-backup-container").inputs;
    expect(c).toEqual({
      name: "dev-backup",
      image: `sha256:mock-${IMAGE}`,
      hostname: "dev-backup",
      restart: "unless-stopped",
      command: [
        "sh",
        "-c",
        [
          "set -eu",
          "chmod -R go-rwx /etc/nexus-db/files",
          "install -D -o 10001 -g 10001 -m 0400 /etc/nexus-db/files/run/nexus-db/backup.key /run/nexus-db/backup.key",
          "install -D -o 0 -g 0 -m 0644 /etc/nexus-db/files/etc/nexus-db/ca.pem /etc/nexus-db/ca.pem",
          "chown 10001:10001 /backups && chmod 0700 /backups",
          "exec setpriv --reuid=10001 --regid=10001 --clear-groups env HOME=/opt/nexus-db 'nexus-db' 'backup' '--env' '--ca' '/etc/nexus-db/ca.pem' '--key-file' '/run/nexus-db/backup.key' '--out-dir' '/backups' '--label' 'nexus-db-dev' '--keep-daily' '10' '--keep-weekly' '6' '--daily-at' '01:45' '--now'",
        ].join("\n"),
      ],
      memory: 512,
      memorySwap: 512,
      networksAdvanced: [{ name: "dev-nexus-db", aliases: ["dev-backup"] }],
      volumes: [{ volumeName: "dev-backups", containerPath: "/backups" }],
      logDriver: "json-file",
      logOpts: { "max-size": "10m", "max-file": "3" },
    });
    expect(mocks.byName("nexus-backup-image").inputs.name).toBe(IMAGE);
    // No published port: it only connects out.
    expect(mocks.byName("nexus-backup-container").inputs.ports).toBeUndefined();
    // It starts once the stores are up and the schema is in place.
    const after = mocks.optionsOf("nexus-backup").dependsOn as { __name?: string }[];
    expect(after.map((r) => mocks.constructed.find((c) => c.resource === r)?.name)).toEqual(["nexus-postgres-grants", "nexus-postgres-seed", "nexus-mongo", "nexus-redis"]);
  });

  it("the archive volume outlives `pulumi destroy` (the stack is not ephemeral)", () => {
    expect(mocks.byName("nexus-backup-archives").inputs.name).toBe("dev-backups");
    expect(mocks.optionsOf("nexus-backup-archives").retainOnDelete).toBe(true);
  });

  it("each docker store by its container name and admin-level user, over TLS with the stack's CA", () => {
    const envs = mocks.byName("nexus-backup-container").inputs.envs as string[];
    expect(envs).toEqual([
      `DATABASE_URL=postgresql://nexus_owner:${pw("nexus-postgres-owner-password")}@dev-postgres:5432/nexus_security?sslmode=verify-full`,
      `MONGODB_URL=mongodb://nexus_admin:${pw("nexus-mongo-admin-password")}@dev-mongo:27017/nexus_security?tls=true&authSource=admin`,
      `REDIS_URL=rediss://nexus_admin:${pw("nexus-redis-admin-password")}@dev-redis:6379`,
    ]);
    const uploads = mocks.byName("nexus-backup-container").inputs.uploads as { file: string; content: string }[];
    expect(uploads).toEqual([
      { file: "/etc/nexus-db/files/run/nexus-db/backup.key", content: BACKUP_KEY },
      { file: "/etc/nexus-db/files/etc/nexus-db/ca.pem", content: CA },
    ]);
  });

  it("the key and the credentials are secrets: nothing of them in plain text in the state", async () => {
    const raw = mocks.rawInputs("nexus-backup-container");
    expect(isWireSecret(raw.envs) || (raw.envs as unknown[]).every(isWireSecret)).toBe(true);
    expect(isWireSecret(raw.uploads)).toBe(true);
    const plain = mocks.byName("nexus-backup-container").plainStrings.map((p) => p.value).join("\n");
    expect(plain).not.toContain(BACKUP_KEY);
    expect(plain).not.toContain("mockpw");
    expect(await isSecret(layer.backups!.container.envs as never)).toBe(true);
    expect(layer.backups!.destination).toBe("volume dev-backups");
    expect(await valueOf(layer.backups!.container.name)).toBe("dev-backup");
  });
});

describe("scheduled backups: a host folder, and the config's refusals", () => {
  it("hostPath: a bind mount instead of the volume, and no volume", async () => {
    mocks.reset();
    await build(devWith({ enabled: true, image: IMAGE, hostPath: "/srv/nexus-backups" }), "alt");
    expect(mocks.byName("alt-backup-container").inputs.volumes).toEqual([{ hostPath: "/srv/nexus-backups", containerPath: "/backups" }]);
    expect(mocks.ofType("docker:index/volume:Volume").map((v) => v.name)).not.toContain("alt-backup-archives");
    // Defaults: 02:30 UTC, 7 daily, 4 weekly, no run on start.
    expect((mocks.byName("alt-backup-container").inputs.command as string[])[2]).toMatch(/'--keep-daily' '7' '--keep-weekly' '4' '--daily-at' '02:30'$/);
  });

  it("disabled by default: no backup container", async () => {
    mocks.reset();
    await build(schema.parseStackConfig(stackFiles.stackFileValues("dev"), "dev"), "off");
    expect(mocks.registered.filter((r) => r.name.includes("backup"))).toEqual([]);
  });

  it("refuses enabled without an image, a bad time, keepDaily 0, a relative host path, and a stack without docker stores", () => {
    const problems = (backups: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
      try {
        schema.parseStackConfig({ ...stackFiles.stackFileValues("dev"), ...extra, backups }, "dev");
        return [];
      } catch (e) {
        return (e as InstanceType<typeof schema.StackConfigError>).problems.map((p) => `${p.path}: ${p.message}`);
      }
    };
    expect(problems({ enabled: true })).toEqual([expect.stringMatching(/^nexus-db:backups\.image: required when backups\.enabled/)]);
    expect(problems({ enabled: true, image: IMAGE, dailyAt: "2:30", keepDaily: 0, hostPath: "backups" })).toEqual([
      'nexus-db:backups.dailyAt: a UTC time of day like "02:30"',
      expect.stringMatching(/^nexus-db:backups\.keepDaily: /),
      "nexus-db:backups.hostPath: an absolute path on the docker host",
    ]);
    const external = { postgres: { backend: "external" }, mongo: { backend: "external" }, redis: { backend: "external" }, docker: { devTools: false } };
    expect(problems({ enabled: true, image: IMAGE }, external)).toEqual([expect.stringMatching(/^nexus-db:backups\.enabled: the backup container backs up the stores on the docker backend/)]);
  });
});
