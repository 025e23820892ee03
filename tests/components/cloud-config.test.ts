// Invalid cloud configurations fail before any resource is registered, each problem named by its
// config path; Pulumi.prod.yaml parses and builds under the mock runtime.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { StackConfigError, parseStackConfig } from "../../config/schema";
import { X509_CA_PEM, prodCloudValues, type EditableValues } from "../helpers/mocks-cloud";
import { stackFileValues } from "../helpers/stack-files";

function problems(values: EditableValues): string[] {
  try {
    parseStackConfig(values, "prod");
  } catch (e) {
    if (e instanceof StackConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}

describe("cloud config: cross-field checks", () => {
  it("the prod example parses with every default resolved", () => {
    const c = parseStackConfig(prodCloudValues(), "prod");
    expect(c.protected).toBe(true);
    expect(c.postgres.cloud).toMatchObject({ instanceClass: "db.t4g.medium", multiAz: true, backupRetentionDays: 7, engineVersion: "16" });
    expect(c.mongo.cloud).toMatchObject({ instanceSize: "M30", clusterType: "REPLICASET", auth: "scram", backup: { enabled: true, retentionDays: 7, pointInTime: true } });
    expect(c.redis.cloud).toMatchObject({ nodeType: "cache.t4g.medium", replicas: 1, auth: "rbac", snapshotRetentionDays: 7 });
  });

  it("ElastiCache cluster mode with the numbered-database layout", () => {
    const v = prodCloudValues();
    v.redis.cloud.clusterMode = { enabled: true };
    expect(problems(v)).toEqual([
      "nexus-db:redis.settings.cluster: ElastiCache cluster mode has DB 0 only, and the standalone keyspace layout uses DBs 0–5: set redis.settings.cluster true (logical databases become key prefixes)",
    ]);
  });

  it("Multi-AZ with one subnet (RDS and ElastiCache), and Multi-AZ without a replica", () => {
    const v = prodCloudValues();
    v.postgres.cloud.subnetIds = ["subnet-0a1b2c3d4e5f60001"];
    v.redis.cloud = { ...v.redis.cloud, subnetIds: ["subnet-0a1b2c3d4e5f60001"], replicas: 0 };
    expect(problems(v)).toEqual([
      "nexus-db:postgres.cloud.subnetIds: Multi-AZ needs subnets in at least two availability zones; got 1: add one, or set nexus-db:postgres.cloud.multiAz false",
      "nexus-db:redis.cloud.subnetIds: Multi-AZ needs subnets in at least two availability zones; got 1: add one, or set nexus-db:redis.cloud.multiAz false",
      "nexus-db:redis.cloud.replicas: Multi-AZ fails over to a replica: keep one replica at least, or set nexus-db:redis.cloud.multiAz false",
    ]);
  });

  it("X.509 users without a CA; a CA without X.509", () => {
    const v = prodCloudValues();
    v.mongo.cloud.auth = "x509";
    expect(problems(v)).toEqual(['nexus-db:mongo.cloud.x509CaPem: X.509 users need the CA that signs their certificates: set x509CaPem, or auth "scram"']);
    v.mongo.cloud = { ...v.mongo.cloud, auth: "scram", x509CaPem: X509_CA_PEM };
    expect(problems(v)).toEqual(['nexus-db:mongo.cloud.x509CaPem: a CA is set but auth is "scram": set auth "x509" or remove x509CaPem']);
  });

  it("missing network ids, CA bundle, organization; the internet open on a protected stack; shards on a replica set", () => {
    expect(
      problems({
        environment: "prod",
        postgres: { backend: "cloud", cloud: { allowedCidrs: ["0.0.0.0/0"] } },
        mongo: { backend: "cloud", cloud: { shards: 3, accessList: [{ cidr: "0.0.0.0/0" }] } },
        redis: { backend: "cloud", cloud: { multiAz: false, subnetIds: ["subnet-0a1b2c3d4e5f60001"], allowedSecurityGroupIds: ["sg-0a1b2c3d4e5f60099"], vpcId: "vpc-0a1b2c3d4e5f60718" } },
      }),
    ).toEqual([
      "nexus-db:postgres.cloud.vpcId: required on the cloud backend: the VPC the service lives in (ids from config, never created here)",
      "nexus-db:postgres.cloud.subnetIds: required on the cloud backend: private subnets in two availability zones at least",
      "nexus-db:postgres.cloud.allowedCidrs: a protected stack never opens the database to the whole internet (/0)",
      "nexus-db:postgres.cloud.caBundleFile: the RDS CA bundle is required for sslmode verify-full: set caBundleFile (a PEM file) or caBundlePem",
      "nexus-db:mongo.cloud.orgId: set orgId (a new project is created) or projectId (an existing project)",
      'nexus-db:mongo.cloud.shards: 3 shards need clusterType "SHARDED"',
      "nexus-db:mongo.cloud.accessList.0.cidr: a protected stack never opens the database to the whole internet (/0)",
    ]);
  });

  it("field types: ids, versions, sizes, unknown keys", () => {
    const v = prodCloudValues();
    v.postgres.cloud = { ...v.postgres.cloud, engineVersion: "15", vpcId: "vpc-nope", instanceClass: "t4g.medium" };
    v.redis.cloud = { ...v.redis.cloud, engineVersion: "6.2", nodeTyp: "cache.t4g.small" };
    expect(problems(v)).toEqual([
      "nexus-db:postgres.cloud.vpcId: an id like vpc-0123456789abcdef0",
      'nexus-db:postgres.cloud.instanceClass: an RDS instance class like "db.t4g.medium"',
      'nexus-db:postgres.cloud.engineVersion: PostgreSQL 16: "16" or "16.<minor>"',
      'nexus-db:redis.cloud.engineVersion: Redis 7: "7.0" or "7.1"',
      expect.stringMatching(/^nexus-db:redis\.cloud\.nodeTyp: unknown key/),
    ]);
  });
});

describe("Pulumi.prod.yaml", () => {
  it("parses (placeholders included) into a protected stack with every store on its cloud backend", () => {
    expect(readFileSync("Pulumi.prod.yaml", "utf8")).not.toMatch(/secure:/);
    const values = stackFileValues("prod");
    const c = parseStackConfig(values, "prod");
    expect([c.protected, c.postgres.backend, c.mongo.backend, c.redis.backend]).toEqual([true, "cloud", "cloud", "cloud"]);
  });
});
