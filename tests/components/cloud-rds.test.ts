// The RDS backend of a protected prod stack under the mock runtime: the exact inputs of the subnet
// group, security group, parameter group, instance and read replica; deletion protection, final
// snapshot and `protect`; the role and migration engines reach RDS with verify-full and the CA
// bundle; passwords stay secrets.
import { beforeAll, describe, expect, it } from "vitest";
import { CLOUD_SECRETS, RDS_CA_PEM, installCloudMocks, isWireSecret, prodCloudValues } from "../helpers/mocks-cloud";
import { isSecret, valueOf } from "../helpers/mocks";

const mocks = installCloudMocks({ stack: "prod", config: CLOUD_SECRETS, secretKeys: Object.keys(CLOUD_SECRETS) });

let layer: import("../../components/database-layer").DatabaseLayer;
beforeAll(async () => {
  const { parseStackConfig } = await import("../../config/schema");
  const { DatabaseLayer } = await import("../../components/database-layer");
  layer = new DatabaseLayer("nexus", { config: parseStackConfig(prodCloudValues(), "prod") }, { transformations: [mocks.recordOptions] });
  await mocks.settle();
});

const inputsOf = (name: string) => {
  const { __provider: _p, ...rest } = mocks.byName(name).inputs;
  return rest;
};
const HOST = "prod-nexus-postgres.c0ffee.us-east-1.rds.amazonaws.com";
const tags = { "nexus-db:stack": "prod", "nexus-db:store": "postgres" };

describe("RDS for PostgreSQL (protected prod stack)", () => {
  it("subnet group and security group: the configured subnets, ingress on 5432 from the allowed security group only", () => {
    expect(inputsOf("nexus-postgres-subnets")).toEqual({
      name: "prod-nexus-postgres-subnets",
      description: "nexus-db prod: PostgreSQL subnets",
      subnetIds: ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
      tags,
    });
    expect(inputsOf("nexus-postgres-sg")).toEqual({
      name: "prod-nexus-postgres-sg",
      description: "nexus-db prod: PostgreSQL clients",
      vpcId: "vpc-0a1b2c3d4e5f60718",
      ingress: [{ description: "PostgreSQL from allowed security groups", protocol: "tcp", fromPort: 5432, toPort: 5432, securityGroups: ["sg-0a1b2c3d4e5f60099"] }],
      egress: [],
      tags,
    });
  });

  it("parameter group: TLS forced with TLS 1.2 minimum, SCRAM, the audit trail, max_connections from the pools", () => {
    const p = inputsOf("nexus-postgres-params");
    expect(p.family).toBe("postgres16");
    expect(Object.fromEntries(p.parameters.map((x: { name: string; value: string; applyMethod: string }) => [x.name, `${x.value} (${x.applyMethod})`]))).toEqual({
      "rds.force_ssl": "1 (immediate)",
      ssl_min_protocol_version: "TLSv1.2 (immediate)",
      password_encryption: "scram-sha-256 (immediate)",
      max_connections: "220 (pending-reboot)",
      log_statement: "ddl (immediate)",
      log_connections: "1 (immediate)",
      log_disconnections: "1 (immediate)",
      log_lock_waits: "1 (immediate)",
      log_min_duration_statement: "1000 (immediate)",
    });
  });

  it("instance: PostgreSQL 16, Multi-AZ, encrypted with the KMS key, backups, deletion protection and a final snapshot", () => {
    const { password, ...rest } = inputsOf("nexus-postgres-instance");
    expect(password).toBe("mockpwnexuspostgresadminpassword");
    expect(rest).toEqual({
      identifier: "prod-nexus-postgres",
      engine: "postgres",
      engineVersion: "16",
      autoMinorVersionUpgrade: true,
      instanceClass: "db.t4g.medium",
      allocatedStorage: 50,
      maxAllocatedStorage: 200,
      storageType: "gp3",
      storageEncrypted: true,
      kmsKeyId: "arn:aws:kms:us-east-1:123456789012:key/rds",
      username: "nexus_admin",
      port: 5432,
      dbSubnetGroupName: "prod-nexus-postgres-subnets",
      vpcSecurityGroupIds: ["nexus-postgres-sg-id"],
      parameterGroupName: "prod-nexus-postgres-pg16",
      publiclyAccessible: false,
      multiAz: true,
      caCertIdentifier: "rds-ca-rsa2048-g1",
      backupRetentionPeriod: 7,
      backupWindow: "03:00-04:00",
      maintenanceWindow: "sun:04:30-sun:05:30",
      copyTagsToSnapshot: true,
      deletionProtection: true,
      skipFinalSnapshot: false,
      finalSnapshotIdentifier: "prod-nexus-postgres-final",
      deleteAutomatedBackups: false,
      performanceInsightsEnabled: true,
      performanceInsightsRetentionPeriod: 7,
      performanceInsightsKmsKeyId: "arn:aws:kms:us-east-1:123456789012:key/rds",
      enabledCloudwatchLogsExports: ["postgresql"],
      applyImmediately: false,
      tags,
    });
    expect(isWireSecret(mocks.rawInputs("nexus-postgres-instance").password)).toBe(true);
  });

  it("read replica: from the primary, encrypted, same security and parameter groups, deletion protection", () => {
    expect(inputsOf("nexus-postgres-replica-1")).toMatchObject({
      identifier: "prod-nexus-postgres-replica-1",
      replicateSourceDb: "prod-nexus-postgres",
      instanceClass: "db.t4g.medium",
      storageEncrypted: true,
      vpcSecurityGroupIds: ["nexus-postgres-sg-id"],
      parameterGroupName: "prod-nexus-postgres-pg16",
      publiclyAccessible: false,
      deletionProtection: true,
      skipFinalSnapshot: true,
      tags: { ...tags, "nexus-db:role": "read-replica" },
    });
  });

  it("protect on the instance, the replica and the engines' resources; not on the network pieces", () => {
    for (const n of ["nexus-postgres-instance", "nexus-postgres-replica-1", "nexus-postgres-roles", "nexus-postgres-schema"]) expect(mocks.optionsOf(n).protect, n).toBe(true);
    for (const n of ["nexus-postgres-subnets", "nexus-postgres-sg", "nexus-postgres-params"]) expect(mocks.optionsOf(n).protect, n).toBeFalsy();
  });

  it("the role and migration engines connect to the RDS endpoint with verify-full and the RDS CA bundle", () => {
    const roles = inputsOf("nexus-postgres-roles");
    expect(roles.admin).toEqual({ host: HOST, port: 5432, database: "postgres", user: "nexus_admin", password: "mockpwnexuspostgresadminpassword", sslMode: "verify-full", caPem: RDS_CA_PEM });
    expect(roles.dropOnDelete).toBe(false);
    const schema = inputsOf("nexus-postgres-schema");
    expect(schema.connection).toEqual({
      host: HOST,
      port: 5432,
      database: "nexus_security",
      user: "nexus_owner",
      password: "mockpwnexuspostgresownerpassword",
      sslMode: "verify-full",
      caPem: RDS_CA_PEM,
    });
    expect(schema.settings.protected).toBe(true);
    expect(mocks.ofType("PostgresSeedData")).toEqual([]);
    for (const n of ["nexus-postgres-roles", "nexus-postgres-schema"]) {
      expect(isWireSecret(mocks.rawInputs(n)[n.endsWith("roles") ? "admin" : "connection"]), n).toBe(true);
    }
  });

  it("DATABASE_URL: the supplied app password, verify-full, a secret", async () => {
    expect(await isSecret(layer.env.DATABASE_URL)).toBe(true);
    expect(await valueOf(layer.env.DATABASE_URL)).toBe(`postgresql://nexus_app:supplied-app-password-0001@${HOST}:5432/nexus_security?sslmode=verify-full`);
    expect(await isSecret(layer.postgres.connections.owner)).toBe(true);
    expect(await valueOf(layer.postgres.replicaHosts[0])).toBe("prod-nexus-postgres-replica-1.c0ffee.us-east-1.rds.amazonaws.com");
  });

  it("generated passwords are secrets of random.RandomPassword, 32 characters", () => {
    expect(inputsOf("nexus-postgres-admin-password")).toMatchObject({ length: 32, special: false });
    expect(() => mocks.byName("nexus-postgres-app-password")).toThrow(/no resource named/);
  });
});
