// MongoDB Atlas, the `cloud` backend of `nexus:db:Mongo`: the project (or an existing one), an
// AdvancedCluster, the backup schedule, the IP access list and the database users. Atlas manages
// the users (the reconciler cannot create them there); the reconciler applies collections,
// validators and indexes through the cluster's SRV connection string, as a dbAdmin user.
import type * as mongodbatlas from "@pulumi/mongodbatlas";
import * as pulumi from "@pulumi/pulumi";
import type { AtlasConfig } from "../../config/cloud";
import type { StackConfig } from "../../config/schema";
import type { MongoConnection } from "../../providers/mongo-schema";
import { sdk } from "../sdk";
import type { MongoBackend } from "./backend";

/** The cluster's replication specs: one per shard (a replica set is one), each of nodeCount electable nodes. */
export function atlasReplicationSpecs(a: AtlasConfig): mongodbatlas.types.input.AdvancedClusterReplicationSpec[] {
  const regionConfig = {
    providerName: a.provider,
    regionName: a.region,
    priority: 7,
    electableSpecs: { instanceSize: a.instanceSize, nodeCount: a.nodeCount },
    autoScaling: {
      computeEnabled: a.autoScaling.compute,
      computeScaleDownEnabled: a.autoScaling.compute,
      ...(a.autoScaling.compute ? { computeMinInstanceSize: a.autoScaling.minInstanceSize, computeMaxInstanceSize: a.autoScaling.maxInstanceSize } : {}),
      diskGbEnabled: a.autoScaling.disk,
    },
  };
  const shards = a.clusterType === "SHARDED" ? a.shards : 1;
  return Array.from({ length: shards }, () => ({ regionConfigs: [regionConfig] }));
}

/** An X.509 user's name is the certificate subject; a plain name becomes `CN=<name>`. */
export function x509UserName(name: string): string {
  return name.includes("=") ? name : `CN=${name}`;
}

/** `mongodb+srv://user:password@host/db?…` from the cluster's SRV string (no credentials in it). */
export function atlasUrl(srv: string, a: { user?: string; password?: string; database: string; x509?: boolean }): string {
  const host = srv.replace(/^mongodb\+srv:\/\//, "").replace(/\/.*$/, "");
  const q = new URLSearchParams({ tls: "true" });
  let auth = "";
  if (a.x509) {
    q.set("authMechanism", "MONGODB-X509");
    q.set("authSource", "$external");
  } else if (a.user) {
    auth = `${encodeURIComponent(a.user)}${a.password ? `:${encodeURIComponent(a.password)}` : ""}@`;
    // Atlas keeps every SCRAM user in the admin database.
    q.set("authSource", "admin");
  }
  q.set("retryWrites", "true");
  q.set("w", "majority");
  return `mongodb+srv://${auth}${host}/${a.database}?${q.toString()}`;
}

export interface AtlasMongoArgs {
  config: StackConfig;
  /** The reconciler's (schema user's) password. */
  schemaPassword: pulumi.Input<string>;
  /** The app and analytics users' passwords (SCRAM). */
  passwords: { app: pulumi.Input<string>; analytics: pulumi.Input<string> };
  parent: pulumi.Resource;
}

export interface AtlasMongo {
  cluster: mongodbatlas.AdvancedCluster;
  projectId: pulumi.Output<string>;
  /** The SRV host name (mongodb+srv). */
  host: pulumi.Output<string>;
  /** The reconciler's connection (secret). */
  schemaConnection: pulumi.Output<MongoConnection>;
  /** The backend's URLs per user (secrets). */
  urls: { app: pulumi.Output<string>; analytics: pulumi.Output<string> };
  /** What the reconciler waits for: cluster, users, access list. */
  dependsOn: pulumi.Resource[];
  /** The restore job (`mongo.cloud.restore`). */
  restoreJob?: mongodbatlas.CloudBackupSnapshotRestoreJob;
}

/** Where and what a restore job restores: a snapshot (automated delivery) or a point in time, into the target cluster. */
export function atlasRestoreDelivery(r: NonNullable<AtlasConfig["restore"]>, projectId: pulumi.Input<string>): mongodbatlas.types.input.CloudBackupSnapshotRestoreJobDeliveryTypeConfig {
  const target = { targetClusterName: r.targetClusterName, targetProjectId: r.targetProjectId ?? projectId };
  if (r.pointInTime) return { pointInTime: true, pointInTimeUtcSeconds: Date.parse(r.pointInTime) / 1000, ...target };
  return { automated: true, ...target };
}

export function atlasMongo(name: string, args: AtlasMongoArgs): AtlasMongo {
  const atlas = sdk.mongodbatlas;
  const cfg = args.config;
  const a = cfg.mongo.cloud;
  const s = cfg.mongo.settings;
  const prot = cfg.protected;
  const child = { parent: args.parent };
  const clusterName = a.clusterName ?? `nexus-${cfg.stack}`;
  const tags = { "nexus-db:stack": cfg.stack, "nexus-db:store": "mongo" };

  let projectId: pulumi.Output<string>;
  if (a.projectId) {
    projectId = pulumi.output(a.projectId);
  } else {
    const project = new atlas.Project(`${name}-project`, { name: a.projectName ?? `nexus-${cfg.stack}`, orgId: a.orgId!, tags }, { ...child, protect: prot });
    projectId = project.id;
  }

  const cluster = new atlas.AdvancedCluster(
    `${name}-cluster`,
    {
      projectId,
      name: clusterName,
      clusterType: a.clusterType,
      mongoDbMajorVersion: a.mongoDbMajorVersion,
      replicationSpecs: atlasReplicationSpecs(a),
      backupEnabled: a.backup.enabled,
      pitEnabled: a.backup.enabled && a.backup.pointInTime,
      terminationProtectionEnabled: prot,
      // Snapshots outlive the cluster in a protected stack.
      retainBackupsEnabled: prot,
      advancedConfiguration: { minimumEnabledTlsProtocol: "TLS1_2", javascriptEnabled: false },
      tags,
    },
    { ...child, protect: prot },
  );

  const dependsOn: pulumi.Resource[] = [cluster];
  let schedule: mongodbatlas.CloudBackupSchedule | undefined;
  if (a.backup.enabled) {
    dependsOn.push(
      (schedule = new atlas.CloudBackupSchedule(
        `${name}-backup`,
        {
          projectId,
          clusterName: cluster.name,
          referenceHourOfDay: 3,
          referenceMinuteOfHour: 0,
          restoreWindowDays: a.backup.pointInTime ? Math.min(a.backup.retentionDays, 7) : undefined,
          policyItemDaily: { frequencyInterval: 1, retentionUnit: "days", retentionValue: a.backup.retentionDays },
        },
        child,
      )),
    );
  }

  a.accessList.forEach((e, i) => {
    dependsOn.push(
      new atlas.ProjectIpAccessList(
        `${name}-access-${i + 1}`,
        "cidr" in e ? { projectId, cidrBlock: e.cidr, comment: e.comment || `nexus-db ${cfg.stack}` } : { projectId, awsSecurityGroup: e.securityGroupId, comment: e.comment || `nexus-db ${cfg.stack}` },
        child,
      ),
    );
  });

  const x509 = a.auth === "x509";
  // The customer CA Atlas trusts for the users' client certificates.
  const x509Ca = x509 ? new atlas.X509AuthenticationDatabaseUser(`${name}-x509-ca`, { projectId, customerX509Cas: a.x509CaPem! }, child) : undefined;
  if (x509Ca) dependsOn.push(x509Ca);
  const scope = [{ name: cluster.name, type: "CLUSTER" }];
  const user = (suffix: string, username: string, roles: { roleName: string; databaseName: string }[], password?: pulumi.Input<string>) =>
    new atlas.DatabaseUser(
      `${name}-user-${suffix}`,
      password === undefined
        ? { projectId, username: x509UserName(username), authDatabaseName: "$external", x509Type: "CUSTOMER", roles, scopes: scope }
        : { projectId, username, authDatabaseName: "admin", password: pulumi.secret(password), roles, scopes: scope },
      { ...child, dependsOn: x509Ca ? [x509Ca] : [] },
    );
  // Atlas keeps user passwords in its provider state as plain text; the stack's state is encrypted, and these outputs are secrets.
  dependsOn.push(
    user("schema", a.schemaUser, [{ roleName: "dbAdmin", databaseName: s.database }, { roleName: "readWrite", databaseName: s.database }], args.schemaPassword),
    user("app", s.users.app.name, [{ roleName: "readWrite", databaseName: s.database }], x509 ? undefined : args.passwords.app),
    user("analytics", s.users.analytics.name, [{ roleName: "read", databaseName: s.database }], x509 ? undefined : args.passwords.analytics),
  );

  // A restore of this cluster's cloud backup into the target cluster: one job per setting (a
  // changed setting is a new job); the schedule must exist first.
  let restoreJob: mongodbatlas.CloudBackupSnapshotRestoreJob | undefined;
  if (a.restore) {
    restoreJob = new atlas.CloudBackupSnapshotRestoreJob(
      `${name}-restore`,
      {
        projectId,
        clusterName: cluster.name,
        ...(a.restore.snapshotId ? { snapshotId: a.restore.snapshotId } : {}),
        deliveryTypeConfig: atlasRestoreDelivery(a.restore, projectId),
      },
      { ...child, dependsOn: schedule ? [cluster, schedule] : [cluster] },
    );
  }

  const srv = cluster.connectionStrings.apply((cs) => cs?.standardSrv ?? "");
  const schemaConnection: pulumi.Output<MongoConnection> = pulumi.secret(
    pulumi.all([srv, args.schemaPassword]).apply(([sv, pw]) => ({
      url: atlasUrl(sv, { user: a.schemaUser, password: pw, database: s.database }),
      // Atlas certificates chain to public CAs: the system's CA store verifies them.
      tls: { enabled: true },
    })),
  );
  const userUrl = (username: string, pw: pulumi.Input<string>) =>
    pulumi.secret(pulumi.all([srv, pw]).apply(([sv, p]) => (x509 ? atlasUrl(sv, { database: s.database, x509: true }) : atlasUrl(sv, { user: username, password: p, database: s.database }))));

  return {
    cluster,
    projectId,
    host: srv.apply((sv) => sv.replace(/^mongodb\+srv:\/\//, "").replace(/\/.*$/, "")),
    schemaConnection,
    urls: { app: userUrl(s.users.app.name, args.passwords.app), analytics: userUrl(s.users.analytics.name, args.passwords.analytics) },
    dependsOn,
    restoreJob,
  };
}

/** The `cloud` backend: Atlas. Users belong to Atlas; the reconciler only applies collections and indexes. */
export const cloudMongo: MongoBackend = (name, args) => {
  const atlas = atlasMongo(name, { config: args.config, schemaPassword: args.adminPassword ?? "", passwords: args.passwords, parent: args.parent });
  return {
    host: atlas.host,
    port: 27017,
    tls: true,
    admin: atlas.schemaConnection,
    reconcilerManagesUsers: false,
    urls: atlas.urls,
    ready: atlas.dependsOn,
    atlasCluster: atlas.cluster,
    restoreJobId: atlas.restoreJob?.snapshotRestoreJobId,
  };
};
