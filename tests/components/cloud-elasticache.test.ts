// The ElastiCache backend of a protected prod stack under the mock runtime: parameter group with
// what ElastiCache takes (the rest reported), RBAC users from the ACL users, the replication group
// (Redis 7, transit and at-rest encryption, snapshots, final snapshot, protect); then cluster mode
// with key prefixes, and an AUTH token instead of RBAC.
import { beforeAll, describe, expect, it } from "vitest";
import { CLOUD_SECRETS, installCloudMocks, isWireSecret, prodCloudValues, type EditableValues } from "../helpers/mocks-cloud";
import { isSecret, valueOf } from "../helpers/mocks";

const mocks = installCloudMocks({ stack: "prod", config: CLOUD_SECRETS, secretKeys: Object.keys(CLOUD_SECRETS) });

type Layer = import("../../components/database-layer").DatabaseLayer;
async function build(values: EditableValues, name: string): Promise<Layer> {
  const { parseStackConfig } = await import("../../config/schema");
  const { DatabaseLayer } = await import("../../components/database-layer");
  const layer = new DatabaseLayer(name, { config: parseStackConfig(values, "prod") }, { transformations: [mocks.recordOptions] });
  await mocks.settle();
  return layer;
}
const inputsOf = (name: string) => {
  const { __provider: _p, ...rest } = mocks.byName(name).inputs;
  return rest;
};
const tags = { "nexus-db:stack": "prod", "nexus-db:store": "redis" };

describe("ElastiCache (protected prod stack, RBAC users)", () => {
  let layer: Layer;
  beforeAll(async () => {
    layer = await build(prodCloudValues(), "nexus");
  });

  it("parameter group: the settings ElastiCache takes; the rest reported as notApplied", async () => {
    expect(inputsOf("nexus-redis-params")).toEqual({
      name: "prod-nexus-redis-redis7",
      family: "redis7",
      description: "nexus-db prod: Redis settings ElastiCache takes",
      parameters: [
        { name: "maxmemory-policy", value: "allkeys-lru" },
        { name: "timeout", value: "0" },
        { name: "tcp-keepalive", value: "300" },
        { name: "slowlog-log-slower-than", value: "10000" },
        { name: "slowlog-max-len", value: "128" },
        { name: "notify-keyspace-events", value: "" },
        { name: "cluster-enabled", value: "no" },
        { name: "databases", value: "16" },
      ],
      tags,
    });
    const notApplied = await valueOf(layer.redis.notApplied!);
    expect(notApplied.map((l) => l.split(/[ :]/)[0])).toEqual(["maxmemory", "appendonly", "save", "bind", "tls", "aclfile"]);
  });

  it("RBAC: a do-nothing default user and the four ACL users with the engine's rules, passwords secret, in one user group", () => {
    expect(inputsOf("nexus-redis-user-default")).toEqual({
      userId: "prod-nexus-redis-default",
      userName: "default",
      engine: "redis",
      accessString: "off -@all",
      authenticationMode: { type: "password", passwords: ["mockpwnexusredisadminpassword"] },
      tags,
    });
    const app = inputsOf("nexus-redis-user-app");
    expect(app.userName).toBe("nexus_app");
    expect(app.accessString).toMatch(/^on ~nexus:session:\* ~nexus:ratelimit:\* .*\+@all -@dangerous -flushall/);
    expect(inputsOf("nexus-redis-user-readonly").accessString).toMatch(/^on %R~nexus:ratelimit:\* .*\+@read .*-@dangerous$/);
    for (const role of ["default", "admin", "app", "readonly", "warmup"]) {
      const raw = mocks.rawInputs(`nexus-redis-user-${role}`).authenticationMode as Record<string, unknown>;
      expect(isWireSecret(raw) || isWireSecret((raw.passwords as unknown[])[0]), role).toBe(true);
    }
    expect(inputsOf("nexus-redis-users")).toEqual({
      userGroupId: "prod-nexus-redis-users",
      engine: "redis",
      userIds: ["default", "admin", "app", "readonly", "warmup"].map((r) => `prod-nexus-redis-${r}`),
      tags,
    });
  });

  it("replication group: Redis 7, primary and one replica, Multi-AZ, encryption in transit and at rest, snapshots, final snapshot, protect", () => {
    expect(inputsOf("nexus-redis-replication-group")).toEqual({
      replicationGroupId: "prod-nexus-redis",
      description: "nexus-db prod: Redis replication group",
      engine: "redis",
      engineVersion: "7.1",
      nodeType: "cache.t4g.medium",
      port: 6379,
      parameterGroupName: "prod-nexus-redis-redis7",
      subnetGroupName: "prod-nexus-redis-subnets",
      securityGroupIds: ["nexus-redis-sg-id"],
      clusterMode: "disabled",
      numCacheClusters: 2,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      transitEncryptionEnabled: true,
      transitEncryptionMode: "required",
      atRestEncryptionEnabled: true,
      userGroupIds: ["prod-nexus-redis-users"],
      snapshotRetentionLimit: 7,
      snapshotWindow: "05:00-06:00",
      maintenanceWindow: "sun:06:30-sun:07:30",
      finalSnapshotIdentifier: "prod-nexus-redis-final",
      autoMinorVersionUpgrade: true,
      applyImmediately: false,
      tags,
    });
    expect(mocks.optionsOf("nexus-redis-replication-group").protect).toBe(true);
    expect(inputsOf("nexus-redis-sg").ingress).toEqual([
      { description: "Redis from allowed security groups", protocol: "tcp", fromPort: 6379, toPort: 6379, securityGroups: ["sg-0a1b2c3d4e5f60099"] },
    ]);
  });

  it("REDIS_URL: rediss to the primary endpoint as the app user, a secret", async () => {
    expect(await isSecret(layer.env.REDIS_URL)).toBe(true);
    expect(await valueOf(layer.env.REDIS_URL)).toBe("rediss://nexus_app:mockpwnexusredisapppassword@master.prod-nexus-redis.c0ffee.use1.cache.amazonaws.com:6379");
  });
});

describe("ElastiCache cluster mode with an AUTH token", () => {
  let layer: Layer;
  beforeAll(async () => {
    mocks.reset();
    const v = prodCloudValues();
    v.redis.settings = { cluster: true };
    v.redis.cloud = { ...v.redis.cloud, auth: "token", clusterMode: { enabled: true, shards: 3, replicasPerShard: 2 } };
    layer = await build(v, "cm");
  });

  it("shards and replicas, cluster-enabled, no databases parameter, the token as a secret, no RBAC users", () => {
    const rg = inputsOf("cm-redis-replication-group");
    expect(rg).toMatchObject({ clusterMode: "enabled", numNodeGroups: 3, replicasPerNodeGroup: 2, automaticFailoverEnabled: true, authTokenUpdateStrategy: "ROTATE" });
    expect(rg.numCacheClusters).toBeUndefined();
    expect(rg.userGroupIds).toBeUndefined();
    expect(isWireSecret(mocks.rawInputs("cm-redis-replication-group").authToken)).toBe(true);
    expect(rg.authToken).toBe("mockpwcmredisauthtokenpassword");
    const params = inputsOf("cm-redis-params").parameters as { name: string; value: string }[];
    expect(params.find((p) => p.name === "cluster-enabled")?.value).toBe("yes");
    expect(params.find((p) => p.name === "databases")).toBeUndefined();
    expect(mocks.ofType("aws:elasticache/user:User")).toEqual([]);
  });

  it("the keyspace layout uses key prefixes; clients reach the configuration endpoint as the default user with the token", async () => {
    expect(layer.redis.settings.cluster).toBe(true);
    expect(await valueOf(layer.env.REDIS_URL)).toBe("rediss://default:mockpwcmredisauthtokenpassword@clustercfg.prod-nexus-redis.c0ffee.use1.cache.amazonaws.com:6379");
  });
});
