// Amazon RDS for PostgreSQL, the `cloud` backend of `nexus:db:Postgres`: subnet group, security
// group, parameter group, the instance and its read replicas. Roles, migrations and grants then
// run through the same dynamic resources as on the other backends, over TLS (verify-full) with the
// RDS CA bundle. The VPC and subnets are inputs.
import type * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "node:fs";
import type { RdsConfig } from "../../config/cloud";
import type { StackConfig } from "../../config/schema";
import { sdk } from "../sdk";
import type { PostgresBackend } from "./backend";
import { serverMaxConnections } from "./settings";

export const RDS_PORT = 5432;

/** Parameters of the parameter group: TLS forced (1.2+), and the audit trail the docker backend logs too. */
export function rdsParameters(c: StackConfig["postgres"]): { name: string; value: string; applyMethod: string }[] {
  const fixed: Record<string, string> = {
    "rds.force_ssl": "1",
    ssl_min_protocol_version: "TLSv1.2",
    password_encryption: "scram-sha-256",
    max_connections: String(serverMaxConnections(c)),
    log_statement: "ddl",
    log_connections: "1",
    log_disconnections: "1",
    log_lock_waits: "1",
    log_min_duration_statement: "1000",
    // Static parameters need a reboot; RDS applies them at the next one.
    ...c.cloud.parameters,
  };
  const staticParams = new Set(["max_connections", "shared_preload_libraries"]);
  return Object.entries(fixed)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => ({ name, value, applyMethod: staticParams.has(name) ? "pending-reboot" : "immediate" }));
}

/** The CA bundle PEM: from caBundlePem, or read from caBundleFile (relative to the project). */
export function rdsCaBundle(r: RdsConfig): string {
  if (r.caBundlePem) return r.caBundlePem;
  if (!r.caBundleFile) throw new Error("nexus-db:postgres.cloud.caBundleFile: required (the RDS CA bundle for sslmode verify-full)");
  try {
    return readFileSync(r.caBundleFile, "utf8");
  } catch (e) {
    throw new Error(`nexus-db:postgres.cloud.caBundleFile: cannot read ${r.caBundleFile} (${(e as Error).message}): download the region's bundle from truststore.pki.rds.amazonaws.com`);
  }
}

export interface RdsPostgresArgs {
  config: StackConfig;
  /** The master user's password (secret). */
  adminPassword: pulumi.Input<string>;
  parent: pulumi.Resource;
}

export interface RdsPostgres {
  instance: aws.rds.Instance;
  replicas: aws.rds.Instance[];
  securityGroup: aws.ec2.SecurityGroup;
  host: pulumi.Output<string>;
  port: pulumi.Output<number>;
  caPem: string;
  adminUser: string;
  /** RDS creates no database for us: the admin connects to "postgres". */
  adminDatabase: string;
  /** Replica endpoints, for read-only clients. */
  replicaHosts: pulumi.Output<string>[];
  /** The point-in-time restore's new instance (`postgres.cloud.restore`). */
  restored?: aws.rds.Instance;
}

/** The RDS resources of one stack. Data-bearing ones carry `protect` and deletion protection on protected stacks. */
export function rdsPostgres(name: string, args: RdsPostgresArgs): RdsPostgres {
  const { ec2, rds } = sdk.aws;
  const cfg = args.config;
  const c = cfg.postgres;
  const r = c.cloud;
  const prot = cfg.protected;
  const caPem = rdsCaBundle(r);
  const tags = { ...r.tags, "nexus-db:stack": cfg.stack, "nexus-db:store": "postgres" };
  const child = { parent: args.parent };
  const identifier = `${cfg.stack}-nexus-postgres`;

  const subnetGroup = new rds.SubnetGroup(`${name}-subnets`, { name: `${identifier}-subnets`, description: `nexus-db ${cfg.stack}: PostgreSQL subnets`, subnetIds: r.subnetIds, tags }, child);

  const securityGroup = new ec2.SecurityGroup(
    `${name}-sg`,
    {
      name: `${identifier}-sg`,
      description: `nexus-db ${cfg.stack}: PostgreSQL clients`,
      vpcId: r.vpcId!,
      ingress: [
        ...(r.allowedCidrs.length > 0 ? [{ description: "PostgreSQL from allowed CIDRs", protocol: "tcp", fromPort: RDS_PORT, toPort: RDS_PORT, cidrBlocks: r.allowedCidrs }] : []),
        ...(r.allowedSecurityGroupIds.length > 0
          ? [{ description: "PostgreSQL from allowed security groups", protocol: "tcp", fromPort: RDS_PORT, toPort: RDS_PORT, securityGroups: r.allowedSecurityGroupIds }]
          : []),
      ],
      // RDS opens no outbound connections of its own.
      egress: [],
      tags,
    },
    child,
  );

  const parameterGroup = new rds.ParameterGroup(
    `${name}-params`,
    { name: `${identifier}-pg16`, family: "postgres16", description: `nexus-db ${cfg.stack}: TLS forced, DDL and connections logged`, parameters: rdsParameters(c), tags },
    child,
  );

  const instance = new rds.Instance(
    `${name}-instance`,
    {
      identifier,
      engine: "postgres",
      engineVersion: r.engineVersion,
      autoMinorVersionUpgrade: true,
      instanceClass: r.instanceClass,
      allocatedStorage: r.allocatedStorageGb,
      maxAllocatedStorage: r.maxAllocatedStorageGb,
      storageType: "gp3",
      storageEncrypted: true,
      kmsKeyId: r.kmsKeyId,
      username: r.adminUser,
      password: pulumi.secret(args.adminPassword),
      port: RDS_PORT,
      dbSubnetGroupName: subnetGroup.name,
      vpcSecurityGroupIds: [securityGroup.id],
      parameterGroupName: parameterGroup.name,
      publiclyAccessible: false,
      multiAz: r.multiAz,
      caCertIdentifier: r.caCertIdentifier,
      backupRetentionPeriod: r.backupRetentionDays,
      backupWindow: r.backupWindow,
      maintenanceWindow: r.maintenanceWindow,
      copyTagsToSnapshot: true,
      deletionProtection: prot,
      skipFinalSnapshot: !prot,
      finalSnapshotIdentifier: prot ? `${identifier}-final` : undefined,
      deleteAutomatedBackups: !prot,
      performanceInsightsEnabled: r.performanceInsights.enabled,
      performanceInsightsRetentionPeriod: r.performanceInsights.enabled ? r.performanceInsights.retentionDays : undefined,
      performanceInsightsKmsKeyId: r.performanceInsights.enabled ? r.kmsKeyId : undefined,
      enabledCloudwatchLogsExports: ["postgresql"],
      applyImmediately: !prot,
      tags,
    },
    { ...child, protect: prot },
  );

  const replicas = Array.from({ length: r.readReplicas }, (_, i) => {
    return new rds.Instance(
      `${name}-replica-${i + 1}`,
      {
        identifier: `${identifier}-replica-${i + 1}`,
        replicateSourceDb: instance.identifier,
        instanceClass: r.replicaInstanceClass ?? r.instanceClass,
        storageEncrypted: true,
        kmsKeyId: r.kmsKeyId,
        vpcSecurityGroupIds: [securityGroup.id],
        parameterGroupName: parameterGroup.name,
        publiclyAccessible: false,
        caCertIdentifier: r.caCertIdentifier,
        autoMinorVersionUpgrade: true,
        deletionProtection: prot,
        // A replica's data is the primary's: no snapshot of its own on delete.
        skipFinalSnapshot: true,
        performanceInsightsEnabled: r.performanceInsights.enabled,
        performanceInsightsRetentionPeriod: r.performanceInsights.enabled ? r.performanceInsights.retentionDays : undefined,
        enabledCloudwatchLogsExports: ["postgresql"],
        applyImmediately: !prot,
        tags: { ...tags, "nexus-db:role": "read-replica" },
      },
      { ...child, protect: prot },
    );
  });

  // A point-in-time restore goes into a new instance beside the stack's, never over it: the operator
  // checks it, then points the backend at it or copies data back (docs/runbook.md). It has the
  // source's master user and password, the stack's network, TLS parameters and encryption.
  let restored: aws.rds.Instance | undefined;
  if (r.restore) {
    const p = r.restore;
    const restoredId = p.identifier ?? `${identifier}-restored`;
    restored = new rds.Instance(
      `${name}-restored`,
      {
        identifier: restoredId,
        restoreToPointInTime: {
          sourceDbInstanceIdentifier: p.sourceIdentifier ?? instance.identifier,
          ...(p.pointInTime === "latest" ? { useLatestRestorableTime: true } : { restoreTime: p.pointInTime }),
        },
        instanceClass: p.instanceClass ?? r.instanceClass,
        storageType: "gp3",
        storageEncrypted: true,
        kmsKeyId: r.kmsKeyId,
        dbSubnetGroupName: subnetGroup.name,
        vpcSecurityGroupIds: [securityGroup.id],
        parameterGroupName: parameterGroup.name,
        publiclyAccessible: false,
        multiAz: false,
        caCertIdentifier: r.caCertIdentifier,
        autoMinorVersionUpgrade: true,
        backupRetentionPeriod: r.backupRetentionDays,
        copyTagsToSnapshot: true,
        // Removing the key deletes the copy; on a protected stack a final snapshot keeps it.
        deletionProtection: false,
        skipFinalSnapshot: !prot,
        finalSnapshotIdentifier: prot ? `${restoredId}-final` : undefined,
        enabledCloudwatchLogsExports: ["postgresql"],
        applyImmediately: true,
        tags: { ...tags, "nexus-db:role": "point-in-time-restore", "nexus-db:restored-to": p.pointInTime },
      },
      child,
    );
  }

  return {
    instance,
    replicas,
    restored,
    securityGroup,
    host: instance.address,
    port: instance.port,
    caPem,
    adminUser: r.adminUser,
    adminDatabase: "postgres",
    replicaHosts: replicas.map((x) => x.address),
  };
}

/** The `cloud` backend: RDS, reached over TLS (verify-full) with the RDS CA bundle. */
export const cloudPostgres: PostgresBackend = (name, args) => {
  const rds = rdsPostgres(name, { config: args.config, adminPassword: args.adminPassword, parent: args.parent });
  return {
    host: rds.host,
    port: rds.port,
    sslMode: "verify-full",
    caPem: rds.caPem,
    adminUser: rds.adminUser,
    adminDatabase: rds.adminDatabase,
    replicaHosts: rds.replicaHosts,
    restoredHost: rds.restored?.address,
    ready: [rds.instance, ...rds.replicas],
  };
};
