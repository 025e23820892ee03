// The `cloud` sections of the stack config: Amazon RDS (`nexus-db:postgres.cloud`), MongoDB Atlas
// (`nexus-db:mongo.cloud`), Amazon ElastiCache (`nexus-db:redis.cloud`). The network (VPC,
// subnets) is an input: ids from config, never created here. Checks that need more than one
// section (Multi-AZ and subnets, cluster mode and the keyspace layout) are in `cloudProblems`,
// which the stack schema's superRefine calls.
import { z } from "zod";

const awsId = (prefix: string) => z.string().regex(new RegExp(`^${prefix}-[0-9a-f]{8,17}$`), `an id like ${prefix}-0123456789abcdef0`);
const cidr = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/, "a CIDR block like 10.0.0.0/16");
const hhmmRange = z.string().regex(/^\d{2}:\d{2}-\d{2}:\d{2}$/, 'a UTC window like "03:00-04:00"');
const isoTime = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/, 'a UTC time like "2026-11-30T22:15:00Z"').refine((t) => !Number.isNaN(Date.parse(t)) && new Date(t).toISOString().replace(".000Z", "Z") === t, "not a valid time");
const weeklyRange = z.string().regex(/^(mon|tue|wed|thu|fri|sat|sun):\d{2}:\d{2}-(mon|tue|wed|thu|fri|sat|sun):\d{2}:\d{2}$/, 'a UTC window like "sun:04:30-sun:05:30"');

/** Where the network comes from: a VPC, its private subnets, who may connect. */
const networkFields = {
  vpcId: awsId("vpc").optional().meta({ description: "The VPC the service lives in. Required on the cloud backend." }),
  subnetIds: z.array(awsId("subnet")).default([]).meta({ description: "Private subnets, one per availability zone (two at least). Required on the cloud backend." }),
  allowedCidrs: z.array(cidr).default([]).meta({ description: "CIDR blocks allowed to connect (the service's port only). Default: none." }),
  allowedSecurityGroupIds: z.array(awsId("sg")).default([]).meta({ description: "Security groups allowed to connect (the backend's). Default: none." }),
};

export const rdsSchema = z.strictObject({
  ...networkFields,
  instanceClass: z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, 'an RDS instance class like "db.t4g.medium"').default("db.t4g.medium").meta({ description: "Instance class. Default \"db.t4g.medium\" (2 vCPU, 4 GiB)." }),
  engineVersion: z.string().regex(/^16(\.\d+)?$/, 'PostgreSQL 16: "16" or "16.<minor>"').default("16").meta({ description: "PostgreSQL version: \"16\" or a minor like \"16.4\". Default \"16\" (minor upgrades automatic)." }),
  allocatedStorageGb: z.number().int().min(20).max(65_536).default(50).meta({ description: "Storage in GiB (gp3). Default 50." }),
  maxAllocatedStorageGb: z.number().int().min(0).max(65_536).default(200).meta({ description: "Storage autoscaling ceiling in GiB; 0 turns autoscaling off. Default 200." }),
  multiAz: z.boolean().default(true).meta({ description: "A standby in a second availability zone. Default true." }),
  kmsKeyId: z.string().min(1).optional().meta({ description: "KMS key (id or ARN) for storage encryption. Default: the account's aws/rds key." }),
  backupRetentionDays: z.number().int().min(1).max(35).default(7).meta({ description: "Days of automated backups (point-in-time recovery). Default 7." }),
  backupWindow: hhmmRange.default("03:00-04:00").meta({ description: "Daily backup window (UTC). Default \"03:00-04:00\"." }),
  maintenanceWindow: weeklyRange.default("sun:04:30-sun:05:30").meta({ description: "Weekly maintenance window (UTC). Default \"sun:04:30-sun:05:30\"." }),
  performanceInsights: z
    .strictObject({
      enabled: z.boolean().default(true).meta({ description: "Default true." }),
      retentionDays: z.number().int().refine((d) => d === 7 || d === 731 || (d % 31 === 0 && d <= 731), "7, a multiple of 31, or 731").default(7).meta({ description: "Days kept: 7, or a multiple of 31 up to 731. Default 7." }),
    })
    .prefault({}).meta({ description: "Performance Insights. Default on, 7 days (the free tier)." }),
  readReplicas: z.number().int().min(0).max(5).default(0).meta({ description: "Read replicas of the instance (same class unless replicaInstanceClass). Default 0." }),
  replicaInstanceClass: z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, 'an RDS instance class like "db.t4g.medium"').optional().meta({ description: "Instance class of the read replicas. Default: instanceClass." }),
  adminUser: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, "a lower-case user name").refine((u) => !["postgres", "rdsadmin", "admin"].includes(u), "reserved by RDS").default("nexus_admin").meta({ description: "The RDS master user (creates the roles and the database). Default \"nexus_admin\"." }),
  caCertIdentifier: z.string().min(1).default("rds-ca-rsa2048-g1").meta({ description: "The server certificate's CA at RDS. Default \"rds-ca-rsa2048-g1\"." }),
  caBundleFile: z.string().min(1).optional().meta({ description: "The RDS CA bundle the clients verify the server with (sslmode verify-full), as a PEM file path or the PEM itself (https://truststore.pki.rds.amazonaws.com/<region>/<region>-bundle.pem). One of the two is required on the cloud backend." }),
  caBundlePem: z.string().includes("-----BEGIN CERTIFICATE-----", { message: "a PEM certificate bundle" }).optional().meta({ description: "The RDS CA bundle as PEM text (instead of caBundleFile)." }),
  parameters: z.record(z.string().regex(/^[a-z_.]+$/, "a parameter name"), z.string()).default({}).meta({ description: "Extra parameters of the parameter group (name → value). Default: none." }),
  tags: z.record(z.string(), z.string()).default({}).meta({ description: "Tags on every resource. Default: none (the stack and project are always tagged)." }),
  restore: z
    .strictObject({
      pointInTime: z.union([z.literal("latest"), isoTime]).meta({ description: 'The moment to restore to: "latest" (the latest restorable time) or a UTC time like "2026-11-30T22:15:00Z" within the backup retention. Required.' }),
      sourceIdentifier: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, "an RDS instance identifier").optional().meta({ description: 'The instance whose automated backups are restored. Default: this stack\'s instance ("<stack>-nexus-postgres").' }),
      identifier: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, "an RDS instance identifier").optional().meta({ description: 'The new instance. Default "<stack>-nexus-postgres-restored".' }),
      instanceClass: z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, 'an RDS instance class like "db.t4g.medium"').optional().meta({ description: "Instance class of the new instance. Default: instanceClass." }),
    })
    .optional()
    .meta({ description: "Point-in-time restore into a NEW instance beside the stack's (docs/runbook.md): its endpoint is the stack output `restores.postgres`. Remove the key to delete the restored instance. Default: none." }),
}).meta({ description: "`nexus-db:postgres.cloud`: Amazon RDS for PostgreSQL." });

export const atlasSchema = z.strictObject({
  projectId: z.string().regex(/^[0-9a-f]{24}$/, "an Atlas project id (24 hex digits)").optional().meta({ description: "An existing Atlas project. Default: a new project in orgId." }),
  orgId: z.string().regex(/^[0-9a-f]{24}$/, "an Atlas organization id (24 hex digits)").optional().meta({ description: "The Atlas organization a new project is created in. Required without projectId." }),
  projectName: z.string().min(1).max(64).optional().meta({ description: "Name of a new project. Default \"nexus-<stack>\"." }),
  clusterName: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "letters, digits and '-'").optional().meta({ description: "Cluster name. Default \"nexus-<stack>\"." }),
  provider: z.enum(["AWS", "GCP", "AZURE"]).default("AWS").meta({ description: "Cloud provider. Default \"AWS\"." }),
  region: z.string().regex(/^[A-Z0-9_]+$/, 'an Atlas region name like "US_EAST_1"').default("US_EAST_1").meta({ description: "Atlas region name. Default \"US_EAST_1\"." }),
  clusterType: z.enum(["REPLICASET", "SHARDED"]).default("REPLICASET").meta({ description: "\"REPLICASET\", or \"SHARDED\" (with `shards`). Default \"REPLICASET\"." }),
  shards: z.number().int().min(1).max(50).default(1).meta({ description: "Shards of a SHARDED cluster. Default 1 (must be 1 for a replica set)." }),
  instanceSize: z.string().regex(/^M\d+$|^R\d+$/, 'an Atlas instance size like "M30"').default("M30").meta({ description: "Instance size of the electable nodes. Default \"M30\" (the smallest with sharding and dedicated CPUs)." }),
  nodeCount: z.union([z.literal(3), z.literal(5), z.literal(7)]).default(3).meta({ description: "Electable nodes per shard: 3, 5 or 7. Default 3." }),
  mongoDbMajorVersion: z.string().regex(/^\d+\.0$/, 'a major version like "7.0"').default("7.0").meta({ description: "MongoDB major version. Default \"7.0\"." }),
  autoScaling: z
    .strictObject({
      compute: z.boolean().default(true).meta({ description: "Scale the instance size between min and max. Default true." }),
      minInstanceSize: z.string().regex(/^M\d+$/).default("M30").meta({ description: "Default \"M30\"." }),
      maxInstanceSize: z.string().regex(/^M\d+$/).default("M60").meta({ description: "Default \"M60\"." }),
      disk: z.boolean().default(true).meta({ description: "Grow the disk. Default true." }),
    })
    .prefault({}).meta({ description: "Compute and disk autoscaling." }),
  backup: z
    .strictObject({
      enabled: z.boolean().default(true).meta({ description: "Cloud backup snapshots. Default true." }),
      retentionDays: z.number().int().min(1).max(3650).default(7).meta({ description: "Days a daily snapshot is kept. Default 7." }),
      pointInTime: z.boolean().default(true).meta({ description: "Continuous (point-in-time) restore. Default true." }),
    })
    .prefault({}).meta({ description: "Cloud backup." }),
  accessList: z
    .array(
      z.union([
        z.strictObject({ /** A CIDR block. */ cidr, /** Shown in Atlas. Default "". */ comment: z.string().default("") }),
        z.strictObject({ /** An AWS security group (peered VPC). */ securityGroupId: awsId("sg"), comment: z.string().default("") }),
      ]),
    )
    .default([]).meta({ description: "Who may connect: CIDR blocks or AWS security groups (with VPC peering). Default: nobody." }),
  auth: z.enum(["scram", "x509"]).default("scram").meta({ description: "How the application and read-only users authenticate: \"scram\" (passwords, secrets of the stack) or \"x509\" (certificates signed by `x509CaPem`). Default \"scram\"." }),
  x509CaPem: z.string().includes("-----BEGIN CERTIFICATE-----", { message: "a PEM certificate" }).optional().meta({ description: "The customer CA (PEM) that signs the users' client certificates. Required with auth \"x509\"." }),
  schemaUser: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).default("nexus_schema").meta({ description: "The user the collection reconciler connects as (SCRAM, dbAdmin + readWrite on the platform database). Default \"nexus_schema\"." }),
  restore: z
    .strictObject({
      snapshotId: z.string().regex(/^[0-9a-f]{24}$/, "an Atlas snapshot id (24 hex digits)").optional().meta({ description: "The cloud backup snapshot to restore (`atlas backups snapshots list`). One of snapshotId and pointInTime." }),
      pointInTime: isoTime.optional().meta({ description: 'A UTC time like "2026-11-30T22:15:00Z" within the point-in-time window (needs backup.pointInTime). One of snapshotId and pointInTime.' }),
      targetClusterName: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "letters, digits and '-'").meta({ description: "The existing cluster the data is restored into (its data is replaced). Required." }),
      targetProjectId: z.string().regex(/^[0-9a-f]{24}$/, "an Atlas project id (24 hex digits)").optional().meta({ description: "The target cluster's project. Default: this stack's project." }),
      replaceStackCluster: z.boolean().optional().meta({ description: "Allow the target to be this stack's own cluster (its current data is lost). Default false." }),
    })
    .optional()
    .meta({ description: "A restore job of this stack's cluster's cloud backup into a target cluster (docs/runbook.md). Each change of the key is a new job. Default: none." }),
}).meta({ description: "`nexus-db:mongo.cloud`: MongoDB Atlas." });

export const elastiCacheSchema = z.strictObject({
  ...networkFields,
  nodeType: z.string().regex(/^cache\.[a-z0-9]+\.[a-z0-9]+$/, 'a node type like "cache.t4g.medium"').default("cache.t4g.medium").meta({ description: "Node type. Default \"cache.t4g.medium\" (3.09 GiB)." }),
  engineVersion: z.string().regex(/^7\.\d+$/, 'Redis 7: "7.0" or "7.1"').default("7.1").meta({ description: "Redis version. Default \"7.1\"." }),
  clusterMode: z
    .strictObject({
      enabled: z.boolean().default(false).meta({ description: "Default false." }),
      shards: z.number().int().min(1).max(500).default(2).meta({ description: "Node groups (shards). Default 2." }),
      replicasPerShard: z.number().int().min(0).max(5).default(1).meta({ description: "Replicas per shard. Default 1." }),
    })
    .prefault({}).meta({ description: "Cluster mode: shards of a primary and replicasPerShard replicas each, DB 0 only. Default off." }),
  replicas: z.number().int().min(0).max(5).default(1).meta({ description: "Replicas of the primary when cluster mode is off. Default 1." }),
  multiAz: z.boolean().default(true).meta({ description: "Replicas in other availability zones, automatic failover. Default true." }),
  auth: z.enum(["rbac", "token"]).default("rbac").meta({ description: "\"rbac\": a user group of the ACL users (redis.settings.acl); \"token\": one AUTH token (secret `redisAuthToken`). Default \"rbac\"." }),
  kmsKeyId: z.string().min(1).optional().meta({ description: "KMS key (ARN) for at-rest encryption. Default: the service's key." }),
  snapshotRetentionDays: z.number().int().min(0).max(35).default(7).meta({ description: "Days of automatic snapshots. Default 7." }),
  snapshotWindow: hhmmRange.default("05:00-06:00").meta({ description: "Daily snapshot window (UTC). Default \"05:00-06:00\"." }),
  maintenanceWindow: weeklyRange.default("sun:06:30-sun:07:30").meta({ description: "Weekly maintenance window (UTC). Default \"sun:06:30-sun:07:30\"." }),
  tags: z.record(z.string(), z.string()).default({}).meta({ description: "Tags on every resource. Default: none." }),
  restore: z
    .strictObject({
      snapshotName: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,254}$/, "an ElastiCache snapshot name").optional().meta({ description: "An ElastiCache snapshot (automatic or manual) the new replication group is seeded from. One of snapshotName and snapshotArns." }),
      snapshotArns: z.array(z.string().regex(/^arn:aws[a-z-]*:s3:::.+\.rdb$/, "an S3 object ARN of an .rdb file")).min(1).optional().meta({ description: "RDB files in S3 (arn:aws:s3:::bucket/key.rdb) the new replication group is seeded from. One of snapshotName and snapshotArns." }),
    })
    .optional()
    .meta({ description: "Seed the replication group from a snapshot when it is created (a new or disaster-recovery stack; docs/runbook.md). Read at creation only: an existing group is never replaced for it. Default: none." }),
}).meta({ description: "`nexus-db:redis.cloud`: Amazon ElastiCache for Redis." });

export type RdsConfig = z.output<typeof rdsSchema>;
export type AtlasConfig = z.output<typeof atlasSchema>;
export type ElastiCacheConfig = z.output<typeof elastiCacheSchema>;

/** What `cloudProblems` reads of the stack config. */
export interface CloudChecked {
  protected: boolean;
  postgres: { backend: string; cloud: RdsConfig };
  mongo: { backend: string; cloud: AtlasConfig };
  redis: { backend: string; cloud: ElastiCacheConfig; settings: { cluster: boolean } };
}

/** Problems that span fields of the cloud sections, as [path, message]; empty when none. */
export function cloudProblems(c: CloudChecked): [(string | number)[], string][] {
  const out: [(string | number)[], string][] = [];
  const network = (store: "postgres" | "redis", n: { vpcId?: string; subnetIds: string[]; allowedCidrs: string[]; allowedSecurityGroupIds: string[] }, multiAz: boolean) => {
    if (!n.vpcId) out.push([[store, "cloud", "vpcId"], "required on the cloud backend: the VPC the service lives in (ids from config, never created here)"]);
    if (n.subnetIds.length === 0) out.push([[store, "cloud", "subnetIds"], "required on the cloud backend: private subnets in two availability zones at least"]);
    else if (multiAz && n.subnetIds.length < 2) {
      out.push([[store, "cloud", "subnetIds"], `Multi-AZ needs subnets in at least two availability zones; got ${n.subnetIds.length}: add one, or set nexus-db:${store}.cloud.multiAz false`]);
    } else if (store === "postgres" && n.subnetIds.length < 2) {
      out.push([[store, "cloud", "subnetIds"], "an RDS subnet group needs subnets in at least two availability zones, even without Multi-AZ"]);
    }
    if (new Set(n.subnetIds).size !== n.subnetIds.length) out.push([[store, "cloud", "subnetIds"], "a subnet is listed twice"]);
    if (n.allowedCidrs.length === 0 && n.allowedSecurityGroupIds.length === 0) {
      out.push([[store, "cloud", "allowedSecurityGroupIds"], "nobody could connect: list the backend's security groups (or allowedCidrs)"]);
    }
    if (c.protected && n.allowedCidrs.some((b) => b.endsWith("/0"))) {
      out.push([[store, "cloud", "allowedCidrs"], "a protected stack never opens the database to the whole internet (/0)"]);
    }
  };

  if (c.postgres.backend === "cloud") {
    const r = c.postgres.cloud;
    network("postgres", r, r.multiAz);
    if (!r.caBundleFile && !r.caBundlePem) {
      out.push([["postgres", "cloud", "caBundleFile"], "the RDS CA bundle is required for sslmode verify-full: set caBundleFile (a PEM file) or caBundlePem"]);
    }
    if (r.caBundleFile && r.caBundlePem) out.push([["postgres", "cloud", "caBundlePem"], "set caBundleFile or caBundlePem, not both"]);
    if (r.maxAllocatedStorageGb !== 0 && r.maxAllocatedStorageGb < r.allocatedStorageGb) {
      out.push([["postgres", "cloud", "maxAllocatedStorageGb"], `below allocatedStorageGb (${r.allocatedStorageGb}): raise it, or 0 to turn storage autoscaling off`]);
    }
    for (const p of ["rds.force_ssl", "ssl_min_protocol_version"]) {
      if (p in r.parameters) out.push([["postgres", "cloud", "parameters", p], "set by nexus-db (TLS is never optional)"]);
    }
  }

  if (c.mongo.backend === "cloud") {
    const a = c.mongo.cloud;
    if (!a.projectId && !a.orgId) out.push([["mongo", "cloud", "orgId"], "set orgId (a new project is created) or projectId (an existing project)"]);
    if (a.projectId && (a.orgId || a.projectName)) out.push([["mongo", "cloud", "projectId"], "an existing project takes no orgId or projectName"]);
    if (a.clusterType === "REPLICASET" && a.shards !== 1) out.push([["mongo", "cloud", "shards"], `${a.shards} shards need clusterType "SHARDED"`]);
    if (a.auth === "x509" && !a.x509CaPem) out.push([["mongo", "cloud", "x509CaPem"], 'X.509 users need the CA that signs their certificates: set x509CaPem, or auth "scram"']);
    if (a.auth === "scram" && a.x509CaPem) out.push([["mongo", "cloud", "x509CaPem"], 'a CA is set but auth is "scram": set auth "x509" or remove x509CaPem']);
    const size = (s: string) => Number(s.slice(1));
    if (a.autoScaling.compute) {
      if (size(a.autoScaling.minInstanceSize) > size(a.instanceSize) || size(a.autoScaling.maxInstanceSize) < size(a.instanceSize)) {
        out.push([["mongo", "cloud", "autoScaling"], `instanceSize ${a.instanceSize} must lie between minInstanceSize ${a.autoScaling.minInstanceSize} and maxInstanceSize ${a.autoScaling.maxInstanceSize}`]);
      }
    }
    if (a.accessList.length === 0) out.push([["mongo", "cloud", "accessList"], "nobody could connect: list the backend's CIDR blocks or security groups"]);
    a.accessList.forEach((e, i) => {
      if (c.protected && "cidr" in e && e.cidr.endsWith("/0")) out.push([["mongo", "cloud", "accessList", i, "cidr"], "a protected stack never opens the database to the whole internet (/0)"]);
    });
    if (c.protected && !a.backup.enabled) out.push([["mongo", "cloud", "backup", "enabled"], "a protected stack keeps cloud backups"]);
    const r = a.restore;
    if (r) {
      if (!r.snapshotId === !r.pointInTime) out.push([["mongo", "cloud", "restore"], "set exactly one of snapshotId and pointInTime"]);
      if (r.pointInTime && !(a.backup.enabled && a.backup.pointInTime)) out.push([["mongo", "cloud", "restore", "pointInTime"], "needs continuous backup: mongo.cloud.backup.enabled and backup.pointInTime"]);
      if (!a.backup.enabled) out.push([["mongo", "cloud", "restore"], "the cluster has no cloud backup to restore from (mongo.cloud.backup.enabled is false)"]);
    }
  }

  if (c.redis.backend === "cloud") {
    const e = c.redis.cloud;
    const replicas = e.clusterMode.enabled ? e.clusterMode.replicasPerShard : e.replicas;
    network("redis", e, e.multiAz);
    if (e.multiAz && replicas === 0) {
      out.push([["redis", "cloud", e.clusterMode.enabled ? "clusterMode" : "replicas"], "Multi-AZ fails over to a replica: keep one replica at least, or set nexus-db:redis.cloud.multiAz false"]);
    }
    if (e.clusterMode.enabled && !c.redis.settings.cluster) {
      out.push([
        ["redis", "settings", "cluster"],
        "ElastiCache cluster mode has DB 0 only, and the standalone keyspace layout uses DBs 0–5: set redis.settings.cluster true (logical databases become key prefixes)",
      ]);
    }
    if (c.protected && e.snapshotRetentionDays === 0) out.push([["redis", "cloud", "snapshotRetentionDays"], "a protected stack keeps snapshots (1 day at least)"]);
    if (e.restore && !e.restore.snapshotName === !e.restore.snapshotArns) out.push([["redis", "cloud", "restore"], "set exactly one of snapshotName and snapshotArns"]);
  }
  return out;
}

/** A restore job whose target is the stack's own cluster without `replaceStackCluster` (it would replace the live data). */
export function atlasRestoreTargetProblem(a: AtlasConfig, stack: string): [(string | number)[], string] | undefined {
  const r = a.restore;
  if (!r || r.replaceStackCluster) return undefined;
  const own = (a.clusterName ?? `nexus-${stack}`) === r.targetClusterName && (!r.targetProjectId || r.targetProjectId === a.projectId);
  if (!own) return undefined;
  return [["mongo", "cloud", "restore", "targetClusterName"], `${r.targetClusterName} is this stack's own cluster: restoring replaces its data; restore into another cluster, or set replaceStackCluster true`];
}
