// The `cloud` sections of the stack config: Amazon RDS (`nexus-db:postgres.cloud`), MongoDB Atlas
// (`nexus-db:mongo.cloud`), Amazon ElastiCache (`nexus-db:redis.cloud`). The network (VPC,
// subnets) is an input: ids from config, never created here. Checks that need more than one
// section (Multi-AZ and subnets, cluster mode and the keyspace layout) are in `cloudProblems`,
// which the stack schema's superRefine calls.
import { z } from "zod";

const awsId = (prefix: string) => z.string().regex(new RegExp(`^${prefix}-[0-9a-f]{8,17}$`), `an id like ${prefix}-0123456789abcdef0`);
const cidr = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/, "a CIDR block like 10.0.0.0/16");
const hhmmRange = z.string().regex(/^\d{2}:\d{2}-\d{2}:\d{2}$/, 'a UTC window like "03:00-04:00"');
const weeklyRange = z.string().regex(/^(mon|tue|wed|thu|fri|sat|sun):\d{2}:\d{2}-(mon|tue|wed|thu|fri|sat|sun):\d{2}:\d{2}$/, 'a UTC window like "sun:04:30-sun:05:30"');

/** Where the network comes from: a VPC, its private subnets, who may connect. */
const networkFields = {
  /** The VPC the service lives in. Required on the cloud backend. */
  vpcId: awsId("vpc").optional(),
  /** Private subnets, one per availability zone (two at least). Required on the cloud backend. */
  subnetIds: z.array(awsId("subnet")).default([]),
  /** CIDR blocks allowed to connect (the service's port only). Default: none. */
  allowedCidrs: z.array(cidr).default([]),
  /** Security groups allowed to connect (the backend's). Default: none. */
  allowedSecurityGroupIds: z.array(awsId("sg")).default([]),
};

/** `nexus-db:postgres.cloud`: Amazon RDS for PostgreSQL. */
export const rdsSchema = z.strictObject({
  ...networkFields,
  /** Instance class. Default "db.t4g.medium" (2 vCPU, 4 GiB). */
  instanceClass: z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, 'an RDS instance class like "db.t4g.medium"').default("db.t4g.medium"),
  /** PostgreSQL version: "16" or a minor like "16.4". Default "16" (minor upgrades automatic). */
  engineVersion: z.string().regex(/^16(\.\d+)?$/, 'PostgreSQL 16: "16" or "16.<minor>"').default("16"),
  /** Storage in GiB (gp3). Default 50. */
  allocatedStorageGb: z.number().int().min(20).max(65_536).default(50),
  /** Storage autoscaling ceiling in GiB; 0 turns autoscaling off. Default 200. */
  maxAllocatedStorageGb: z.number().int().min(0).max(65_536).default(200),
  /** A standby in a second availability zone. Default true. */
  multiAz: z.boolean().default(true),
  /** KMS key (id or ARN) for storage encryption. Default: the account's aws/rds key. */
  kmsKeyId: z.string().min(1).optional(),
  /** Days of automated backups (point-in-time recovery). Default 7. */
  backupRetentionDays: z.number().int().min(1).max(35).default(7),
  /** Daily backup window (UTC). Default "03:00-04:00". */
  backupWindow: hhmmRange.default("03:00-04:00"),
  /** Weekly maintenance window (UTC). Default "sun:04:30-sun:05:30". */
  maintenanceWindow: weeklyRange.default("sun:04:30-sun:05:30"),
  /** Performance Insights. Default on, 7 days (the free tier). */
  performanceInsights: z
    .strictObject({
      /** Default true. */
      enabled: z.boolean().default(true),
      /** Days kept: 7, or a multiple of 31 up to 731. Default 7. */
      retentionDays: z.number().int().refine((d) => d === 7 || d === 731 || (d % 31 === 0 && d <= 731), "7, a multiple of 31, or 731").default(7),
    })
    .prefault({}),
  /** Read replicas of the instance (same class unless replicaInstanceClass). Default 0. */
  readReplicas: z.number().int().min(0).max(5).default(0),
  /** Instance class of the read replicas. Default: instanceClass. */
  replicaInstanceClass: z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, 'an RDS instance class like "db.t4g.medium"').optional(),
  /** The RDS master user (creates the roles and the database). Default "nexus_admin". */
  adminUser: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, "a lower-case user name").refine((u) => !["postgres", "rdsadmin", "admin"].includes(u), "reserved by RDS").default("nexus_admin"),
  /** The server certificate's CA at RDS. Default "rds-ca-rsa2048-g1". */
  caCertIdentifier: z.string().min(1).default("rds-ca-rsa2048-g1"),
  /**
   * The RDS CA bundle the clients verify the server with (sslmode verify-full), as a PEM file
   * path or the PEM itself (https://truststore.pki.rds.amazonaws.com/<region>/<region>-bundle.pem).
   * One of the two is required on the cloud backend.
   */
  caBundleFile: z.string().min(1).optional(),
  /** The RDS CA bundle as PEM text (instead of caBundleFile). */
  caBundlePem: z.string().includes("-----BEGIN CERTIFICATE-----", { message: "a PEM certificate bundle" }).optional(),
  /** Extra parameters of the parameter group (name → value). Default: none. */
  parameters: z.record(z.string().regex(/^[a-z_.]+$/, "a parameter name"), z.string()).default({}),
  /** Tags on every resource. Default: none (the stack and project are always tagged). */
  tags: z.record(z.string(), z.string()).default({}),
});

/** `nexus-db:mongo.cloud`: MongoDB Atlas. */
export const atlasSchema = z.strictObject({
  /** An existing Atlas project. Default: a new project in orgId. */
  projectId: z.string().regex(/^[0-9a-f]{24}$/, "an Atlas project id (24 hex digits)").optional(),
  /** The Atlas organization a new project is created in. Required without projectId. */
  orgId: z.string().regex(/^[0-9a-f]{24}$/, "an Atlas organization id (24 hex digits)").optional(),
  /** Name of a new project. Default "nexus-<stack>". */
  projectName: z.string().min(1).max(64).optional(),
  /** Cluster name. Default "nexus-<stack>". */
  clusterName: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "letters, digits and '-'").optional(),
  /** Cloud provider. Default "AWS". */
  provider: z.enum(["AWS", "GCP", "AZURE"]).default("AWS"),
  /** Atlas region name. Default "US_EAST_1". */
  region: z.string().regex(/^[A-Z0-9_]+$/, 'an Atlas region name like "US_EAST_1"').default("US_EAST_1"),
  /** "REPLICASET", or "SHARDED" (with `shards`). Default "REPLICASET". */
  clusterType: z.enum(["REPLICASET", "SHARDED"]).default("REPLICASET"),
  /** Shards of a SHARDED cluster. Default 1 (must be 1 for a replica set). */
  shards: z.number().int().min(1).max(50).default(1),
  /** Instance size of the electable nodes. Default "M30" (the smallest with sharding and dedicated CPUs). */
  instanceSize: z.string().regex(/^M\d+$|^R\d+$/, 'an Atlas instance size like "M30"').default("M30"),
  /** Electable nodes per shard: 3, 5 or 7. Default 3. */
  nodeCount: z.union([z.literal(3), z.literal(5), z.literal(7)]).default(3),
  /** MongoDB major version. Default "7.0". */
  mongoDbMajorVersion: z.string().regex(/^\d+\.0$/, 'a major version like "7.0"').default("7.0"),
  /** Compute and disk autoscaling. */
  autoScaling: z
    .strictObject({
      /** Scale the instance size between min and max. Default true. */
      compute: z.boolean().default(true),
      /** Default "M30". */
      minInstanceSize: z.string().regex(/^M\d+$/).default("M30"),
      /** Default "M60". */
      maxInstanceSize: z.string().regex(/^M\d+$/).default("M60"),
      /** Grow the disk. Default true. */
      disk: z.boolean().default(true),
    })
    .prefault({}),
  /** Cloud backup. */
  backup: z
    .strictObject({
      /** Cloud backup snapshots. Default true. */
      enabled: z.boolean().default(true),
      /** Days a daily snapshot is kept. Default 7. */
      retentionDays: z.number().int().min(1).max(3650).default(7),
      /** Continuous (point-in-time) restore. Default true. */
      pointInTime: z.boolean().default(true),
    })
    .prefault({}),
  /** Who may connect: CIDR blocks or AWS security groups (with VPC peering). Default: nobody. */
  accessList: z
    .array(
      z.union([
        z.strictObject({ /** A CIDR block. */ cidr, /** Shown in Atlas. Default "". */ comment: z.string().default("") }),
        z.strictObject({ /** An AWS security group (peered VPC). */ securityGroupId: awsId("sg"), comment: z.string().default("") }),
      ]),
    )
    .default([]),
  /**
   * How the application and read-only users authenticate: "scram" (passwords, secrets of the
   * stack) or "x509" (certificates signed by `x509CaPem`). Default "scram".
   */
  auth: z.enum(["scram", "x509"]).default("scram"),
  /** The customer CA (PEM) that signs the users' client certificates. Required with auth "x509". */
  x509CaPem: z.string().includes("-----BEGIN CERTIFICATE-----", { message: "a PEM certificate" }).optional(),
  /** The user the collection reconciler connects as (SCRAM, dbAdmin + readWrite on the platform database). Default "nexus_schema". */
  schemaUser: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).default("nexus_schema"),
});

/** `nexus-db:redis.cloud`: Amazon ElastiCache for Redis. */
export const elastiCacheSchema = z.strictObject({
  ...networkFields,
  /** Node type. Default "cache.t4g.medium" (3.09 GiB). */
  nodeType: z.string().regex(/^cache\.[a-z0-9]+\.[a-z0-9]+$/, 'a node type like "cache.t4g.medium"').default("cache.t4g.medium"),
  /** Redis version. Default "7.1". */
  engineVersion: z.string().regex(/^7\.\d+$/, 'Redis 7: "7.0" or "7.1"').default("7.1"),
  /** Cluster mode: shards of a primary and replicasPerShard replicas each, DB 0 only. Default off. */
  clusterMode: z
    .strictObject({
      /** Default false. */
      enabled: z.boolean().default(false),
      /** Node groups (shards). Default 2. */
      shards: z.number().int().min(1).max(500).default(2),
      /** Replicas per shard. Default 1. */
      replicasPerShard: z.number().int().min(0).max(5).default(1),
    })
    .prefault({}),
  /** Replicas of the primary when cluster mode is off. Default 1. */
  replicas: z.number().int().min(0).max(5).default(1),
  /** Replicas in other availability zones, automatic failover. Default true. */
  multiAz: z.boolean().default(true),
  /** "rbac": a user group of the ACL users (redis.settings.acl); "token": one AUTH token (secret `redisAuthToken`). Default "rbac". */
  auth: z.enum(["rbac", "token"]).default("rbac"),
  /** KMS key (ARN) for at-rest encryption. Default: the service's key. */
  kmsKeyId: z.string().min(1).optional(),
  /** Days of automatic snapshots. Default 7. */
  snapshotRetentionDays: z.number().int().min(0).max(35).default(7),
  /** Daily snapshot window (UTC). Default "05:00-06:00". */
  snapshotWindow: hhmmRange.default("05:00-06:00"),
  /** Weekly maintenance window (UTC). Default "sun:06:30-sun:07:30". */
  maintenanceWindow: weeklyRange.default("sun:06:30-sun:07:30"),
  /** Tags on every resource. Default: none. */
  tags: z.record(z.string(), z.string()).default({}),
});

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
  }
  return out;
}
