// The documented restore paths of the cloud stacks under the mock runtime, chosen by stack config:
// RDS point-in-time restore into a new instance, an Atlas cloud backup restore job (a snapshot, or
// a point in time) into a target cluster, an ElastiCache replication group seeded from a snapshot
// or RDB files — each resource's exact inputs, and the config's refusals.
import { beforeAll, describe, expect, it } from "vitest";
import { CLOUD_SECRETS, installCloudMocks, prodCloudValues, type EditableValues } from "../helpers/mocks-cloud";
import { valueOf } from "../helpers/mocks";

const mocks = installCloudMocks({ stack: "prod", config: CLOUD_SECRETS, secretKeys: Object.keys(CLOUD_SECRETS) });
type Layer = import("../../components/database-layer").DatabaseLayer;
let schema: typeof import("../../config/schema");

async function build(values: EditableValues, name: string): Promise<Layer> {
  const { DatabaseLayer } = await import("../../components/database-layer");
  const layer = new DatabaseLayer(name, { config: schema.parseStackConfig(values, "prod") }, { transformations: [mocks.recordOptions] });
  await mocks.settle();
  return layer;
}
const inputsOf = (name: string) => {
  const { __provider: _p, ...rest } = mocks.byName(name).inputs;
  return rest;
};
function withRestores(restores: { postgres?: unknown; mongo?: unknown; redis?: unknown }): EditableValues {
  const v = prodCloudValues();
  if (restores.postgres) v.postgres.cloud.restore = restores.postgres;
  if (restores.mongo) v.mongo.cloud.restore = restores.mongo;
  if (restores.redis) v.redis.cloud.restore = restores.redis;
  return v;
}

beforeAll(async () => {
  schema = await import("../../config/schema");
});

describe("restores by stack config (protected prod stack)", () => {
  let layer: Layer;
  beforeAll(async () => {
    layer = await build(
      withRestores({
        postgres: { pointInTime: "2026-11-30T22:15:00Z" },
        mongo: { snapshotId: "0123456789abcdef01234567", targetClusterName: "nexus-prod-restore" },
        redis: { snapshotName: "prod-nexus-redis-2026-11-30" },
      }),
      "nexus",
    );
  });

  it("RDS: a new instance restored from the stack's instance to the time, on the stack's network, encrypted, TLS parameters", async () => {
    const tags = { "nexus-db:stack": "prod", "nexus-db:store": "postgres" };
    expect(inputsOf("nexus-postgres-restored")).toEqual({
      identifier: "prod-nexus-postgres-restored",
      restoreToPointInTime: { sourceDbInstanceIdentifier: "prod-nexus-postgres", restoreTime: "2026-11-30T22:15:00Z" },
      instanceClass: "db.t4g.medium",
      storageType: "gp3",
      storageEncrypted: true,
      kmsKeyId: "arn:aws:kms:us-east-1:123456789012:key/rds",
      dbSubnetGroupName: "prod-nexus-postgres-subnets",
      vpcSecurityGroupIds: ["nexus-postgres-sg-id"],
      parameterGroupName: "prod-nexus-postgres-pg16",
      publiclyAccessible: false,
      multiAz: false,
      caCertIdentifier: "rds-ca-rsa2048-g1",
      autoMinorVersionUpgrade: true,
      backupRetentionPeriod: 7,
      copyTagsToSnapshot: true,
      deletionProtection: false,
      skipFinalSnapshot: false,
      finalSnapshotIdentifier: "prod-nexus-postgres-restored-final",
      enabledCloudwatchLogsExports: ["postgresql"],
      applyImmediately: true,
      tags: { ...tags, "nexus-db:role": "point-in-time-restore", "nexus-db:restored-to": "2026-11-30T22:15:00Z" },
    });
    // The stack's own instance is untouched by the restore: no restore input on it.
    expect(inputsOf("nexus-postgres-instance").restoreToPointInTime).toBeUndefined();
    expect(await valueOf(layer.postgres.restoredHost!)).toBe("prod-nexus-postgres-restored.c0ffee.us-east-1.rds.amazonaws.com");
  });

  it("Atlas: a restore job of the stack's cluster's snapshot into the target cluster, after the backup schedule", async () => {
    expect(inputsOf("nexus-mongo-restore")).toEqual({
      projectId: "nexus-mongo-project-id",
      clusterName: "nexus-prod",
      snapshotId: "0123456789abcdef01234567",
      deliveryTypeConfig: { automated: true, targetClusterName: "nexus-prod-restore", targetProjectId: "nexus-mongo-project-id" },
    });
    const after = mocks.optionsOf("nexus-mongo-restore").dependsOn as unknown[];
    expect(after.map((r) => mocks.constructed.find((c) => c.resource === r)?.name)).toEqual(["nexus-mongo-cluster", "nexus-mongo-backup"]);
    expect(await valueOf(layer.mongo.restoreJobId!)).toBe("restore-job-of-nexus-prod");
  });

  it("ElastiCache: the replication group is seeded from the snapshot, and the seed never replaces a running group", () => {
    const rg = inputsOf("nexus-redis-replication-group");
    expect(rg.snapshotName).toBe("prod-nexus-redis-2026-11-30");
    expect(rg.snapshotArns).toBeUndefined();
    expect(mocks.optionsOf("nexus-redis-replication-group").ignoreChanges).toEqual(["snapshotName", "snapshotArns"]);
    expect(mocks.optionsOf("nexus-redis-replication-group").protect).toBe(true);
  });
});

describe("the other forms: latest restorable time, a point in time, RDB files in S3", () => {
  it("RDS latest, another source and class; Atlas point in time into another project; ElastiCache from S3", async () => {
    mocks.reset();
    await build(
      withRestores({
        postgres: { pointInTime: "latest", sourceIdentifier: "prod-old-postgres", identifier: "prod-nexus-postgres-dr", instanceClass: "db.r6g.large" },
        mongo: { pointInTime: "2026-11-30T22:15:00Z", targetClusterName: "nexus-dr", targetProjectId: "abcdefabcdefabcdefabcdef" },
        redis: { snapshotArns: ["arn:aws:s3:::nexus-dr/redis/dump.rdb"] },
      }),
      "alt",
    );
    const pg = inputsOf("alt-postgres-restored");
    expect(pg.identifier).toBe("prod-nexus-postgres-dr");
    expect(pg.restoreToPointInTime).toEqual({ sourceDbInstanceIdentifier: "prod-old-postgres", useLatestRestorableTime: true });
    expect(pg.instanceClass).toBe("db.r6g.large");
    const job = inputsOf("alt-mongo-restore");
    expect(job.snapshotId).toBeUndefined();
    expect(job.deliveryTypeConfig).toEqual({ pointInTime: true, pointInTimeUtcSeconds: 1796076900, targetClusterName: "nexus-dr", targetProjectId: "abcdefabcdefabcdefabcdef" });
    expect(inputsOf("alt-redis-replication-group").snapshotArns).toEqual(["arn:aws:s3:::nexus-dr/redis/dump.rdb"]);
  });

  it("without restore keys: no restored instance, no job, no seed", async () => {
    mocks.reset();
    await build(prodCloudValues(), "none");
    expect(mocks.registered.filter((r) => /restore/.test(r.name))).toEqual([]);
    expect(inputsOf("none-redis-replication-group").snapshotName).toBeUndefined();
  });
});

describe("refused restore settings, each by its config path", () => {
  const problems = (values: EditableValues) => {
    try {
      schema.parseStackConfig(values, "prod");
      return [];
    } catch (e) {
      return (e as InstanceType<typeof schema.StackConfigError>).problems.map((p) => `${p.path}: ${p.message}`);
    }
  };

  it("a time that does not exist, both or neither of snapshot and time, the stack's own cluster, a point in time without continuous backup", () => {
    expect(problems(withRestores({ postgres: { pointInTime: "2026-11-31T00:00:00Z" } }))).toEqual(["nexus-db:postgres.cloud.restore.pointInTime: not a valid time"]);
    expect(problems(withRestores({ mongo: { snapshotId: "0123456789abcdef01234567", pointInTime: "2026-11-30T22:15:00Z", targetClusterName: "x" } }))).toEqual([
      "nexus-db:mongo.cloud.restore: set exactly one of snapshotId and pointInTime",
    ]);
    expect(problems(withRestores({ mongo: { snapshotId: "0123456789abcdef01234567", targetClusterName: "nexus-prod" } }))).toEqual([
      "nexus-db:mongo.cloud.restore.targetClusterName: nexus-prod is this stack's own cluster: restoring replaces its data; restore into another cluster, or set replaceStackCluster true",
    ]);
    expect(problems(withRestores({ mongo: { snapshotId: "0123456789abcdef01234567", targetClusterName: "nexus-prod", replaceStackCluster: true } }))).toEqual([]);
    const noPit = withRestores({ mongo: { pointInTime: "2026-11-30T22:15:00Z", targetClusterName: "nexus-dr" } });
    noPit.mongo.cloud.backup = { pointInTime: false };
    expect(problems(noPit)).toEqual(["nexus-db:mongo.cloud.restore.pointInTime: needs continuous backup: mongo.cloud.backup.enabled and backup.pointInTime"]);
    expect(problems(withRestores({ redis: { snapshotName: "a", snapshotArns: ["arn:aws:s3:::b/c.rdb"] } }))).toEqual(["nexus-db:redis.cloud.restore: set exactly one of snapshotName and snapshotArns"]);
    expect(problems(withRestores({ redis: { snapshotArns: ["arn:aws:s3:::b/c.txt"] } }))).toEqual(["nexus-db:redis.cloud.restore.snapshotArns.0: an S3 object ARN of an .rdb file"]);
  });
});
