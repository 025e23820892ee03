// The MongoDB Atlas backend of a protected prod stack under the mock runtime: project, cluster,
// backup schedule, access list, users (SCRAM here; X.509 in a second program), and the reconciler
// reaching the cluster through its SRV string over TLS without managing users.
import { beforeAll, describe, expect, it } from "vitest";
import { CLOUD_SECRETS, X509_CA_PEM, installCloudMocks, isWireSecret, prodCloudValues, type EditableValues } from "../helpers/mocks-cloud";
import { isSecret, valueOf } from "../helpers/mocks";

const mocks = installCloudMocks({ stack: "prod", config: CLOUD_SECRETS, secretKeys: Object.keys(CLOUD_SECRETS) });
const SRV_HOST = "nexus-prod.ab1cd.mongodb.net";

type Layer = import("../../components/database-layer").DatabaseLayer;
async function build(values: EditableValues, name = "nexus"): Promise<Layer> {
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

let layer: Layer;
beforeAll(async () => {
  layer = await build(prodCloudValues());
});

describe("MongoDB Atlas (protected prod stack, SCRAM users)", () => {
  it("project in the organization, cluster: replica set of 3 × M30, autoscaling, backup, termination protection, TLS 1.2", () => {
    expect(inputsOf("nexus-mongo-project")).toEqual({ name: "nexus-prod", orgId: "0123456789abcdef01234567", tags: { "nexus-db:stack": "prod", "nexus-db:store": "mongo" } });
    expect(inputsOf("nexus-mongo-cluster")).toEqual({
      projectId: "nexus-mongo-project-id",
      name: "nexus-prod",
      clusterType: "REPLICASET",
      mongoDbMajorVersion: "7.0",
      replicationSpecs: [
        {
          regionConfigs: [
            {
              providerName: "AWS",
              regionName: "US_EAST_1",
              priority: 7,
              electableSpecs: { instanceSize: "M30", nodeCount: 3 },
              autoScaling: { computeEnabled: true, computeScaleDownEnabled: true, computeMinInstanceSize: "M30", computeMaxInstanceSize: "M60", diskGbEnabled: true },
            },
          ],
        },
      ],
      backupEnabled: true,
      pitEnabled: true,
      terminationProtectionEnabled: true,
      retainBackupsEnabled: true,
      advancedConfiguration: { minimumEnabledTlsProtocol: "TLS1_2", javascriptEnabled: false },
      tags: { "nexus-db:stack": "prod", "nexus-db:store": "mongo" },
    });
    expect(mocks.optionsOf("nexus-mongo-cluster").protect).toBe(true);
    expect(mocks.optionsOf("nexus-mongo-project").protect).toBe(true);
    expect(mocks.optionsOf("nexus-mongo-schema").protect).toBe(true);
  });

  it("backup schedule with the retention, access list from config", () => {
    expect(inputsOf("nexus-mongo-backup")).toEqual({
      projectId: "nexus-mongo-project-id",
      clusterName: "nexus-prod",
      referenceHourOfDay: 3,
      referenceMinuteOfHour: 0,
      restoreWindowDays: 7,
      policyItemDaily: { frequencyInterval: 1, retentionUnit: "days", retentionValue: 7 },
    });
    expect(inputsOf("nexus-mongo-access-1")).toEqual({ projectId: "nexus-mongo-project-id", cidrBlock: "10.20.0.0/16", comment: "backend VPC" });
  });

  it("database users: schema (dbAdmin + readWrite), app (readWrite), analytics (read), SCRAM in admin, scoped to the cluster, passwords secret", () => {
    const scopes = [{ name: "nexus-prod", type: "CLUSTER" }];
    expect(inputsOf("nexus-mongo-user-schema")).toEqual({
      projectId: "nexus-mongo-project-id",
      username: "nexus_schema",
      authDatabaseName: "admin",
      password: "mockpwnexusmongoadminpassword",
      roles: [
        { roleName: "dbAdmin", databaseName: "nexus_security" },
        { roleName: "readWrite", databaseName: "nexus_security" },
      ],
      scopes,
    });
    expect(inputsOf("nexus-mongo-user-app")).toMatchObject({ username: "nexus_app", authDatabaseName: "admin", roles: [{ roleName: "readWrite", databaseName: "nexus_security" }], scopes });
    expect(inputsOf("nexus-mongo-user-analytics")).toMatchObject({ username: "nexus_analytics", roles: [{ roleName: "read", databaseName: "nexus_security" }] });
    for (const u of ["schema", "app", "analytics"]) expect(isWireSecret(mocks.rawInputs(`nexus-mongo-user-${u}`).password), u).toBe(true);
  });

  it("the reconciler: the SRV string with the schema user over TLS, no users of its own (Atlas keeps them)", () => {
    const s = inputsOf("nexus-mongo-schema");
    expect(s.connection).toEqual({
      url: `mongodb+srv://nexus_schema:mockpwnexusmongoadminpassword@${SRV_HOST}/nexus_security?tls=true&authSource=admin&retryWrites=true&w=majority`,
      tls: { enabled: true },
    });
    expect(s.users).toBeUndefined();
    expect(s.protected).toBe(true);
    expect(s.dropCollectionsOnDelete).toBe(false);
    expect(isWireSecret(mocks.rawInputs("nexus-mongo-schema").connection)).toBe(true);
  });

  it("MONGODB_URL: mongodb+srv with the app user, a secret", async () => {
    expect(await isSecret(layer.env.MONGODB_URL)).toBe(true);
    expect(await valueOf(layer.env.MONGODB_URL)).toBe(`mongodb+srv://nexus_app:mockpwnexusmongoapppassword@${SRV_HOST}/nexus_security?tls=true&authSource=admin&retryWrites=true&w=majority`);
    expect(await valueOf(layer.mongo.host)).toBe(SRV_HOST);
  });
});

describe("MongoDB Atlas: an existing project, sharded, X.509 users", () => {
  let x509: Layer;
  beforeAll(async () => {
    mocks.reset();
    const v = prodCloudValues();
    v.mongo.cloud = { projectId: "89abcdef0123456789abcdef", clusterType: "SHARDED", shards: 2, auth: "x509", x509CaPem: X509_CA_PEM, accessList: [{ securityGroupId: "sg-0a1b2c3d4e5f60099" }] };
    x509 = await build(v, "x5");
  });

  it("no project created; two replication specs; the customer CA; users in $external named by subject, without passwords", () => {
    expect(mocks.registered.filter((r) => r.type === "mongodbatlas:index/project:Project")).toEqual([]);
    const cluster = inputsOf("x5-mongo-cluster");
    expect(cluster.projectId).toBe("89abcdef0123456789abcdef");
    expect(cluster.clusterType).toBe("SHARDED");
    expect(cluster.replicationSpecs).toHaveLength(2);
    expect(inputsOf("x5-mongo-x509-ca")).toEqual({ projectId: "89abcdef0123456789abcdef", customerX509Cas: X509_CA_PEM });
    expect(inputsOf("x5-mongo-user-app")).toEqual({
      projectId: "89abcdef0123456789abcdef",
      username: "CN=nexus_app",
      authDatabaseName: "$external",
      x509Type: "CUSTOMER",
      roles: [{ roleName: "readWrite", databaseName: "nexus_security" }],
      scopes: [{ name: "nexus-prod", type: "CLUSTER" }],
    });
    expect(inputsOf("x5-mongo-access-1")).toEqual({ projectId: "89abcdef0123456789abcdef", awsSecurityGroup: "sg-0a1b2c3d4e5f60099", comment: "nexus-db prod" });
  });

  it("the app URL asks for MONGODB-X509 and carries no password", async () => {
    expect(await valueOf(x509.env.MONGODB_URL)).toBe(`mongodb+srv://${SRV_HOST}/nexus_security?tls=true&authMechanism=MONGODB-X509&authSource=%24external&retryWrites=true&w=majority`);
  });
});
