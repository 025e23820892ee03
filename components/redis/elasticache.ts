// Amazon ElastiCache for Redis, the `cloud` backend of `nexus:db:Redis`: subnet group, security
// group, a parameter group with the settings ElastiCache takes (the rest reported in `notApplied`),
// the RBAC users and user group (or an AUTH token), and the replication group. ElastiCache
// refuses CONFIG and ACL commands, so nothing is applied to the running server afterwards.
import type * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../config/schema";
import { aclRules } from "../../engines/redis/render";
import { REDIS_DECLARATIONS } from "../../redis/declarations";
import { ACL_ROLES, type AclRole, type RedisSettings } from "../../engines/redis/settings";
import { sdk } from "../sdk";
import type { RedisBackend } from "./backend";
import { stackRedisSettings, type RedisEndpoint, type RedisPasswords } from "./settings";

export const ELASTICACHE_PORT = 6379;

/**
 * The settings as parameter-group entries, and what ElastiCache does not take, with the reason.
 * Memory comes from the node type; persistence, TLS, ports and users from the replication group.
 */
export function elastiCacheParameters(s: RedisSettings, clusterMode: boolean): { parameters: { name: string; value: string }[]; notApplied: string[] } {
  const parameters: { name: string; value: string }[] = [
    { name: "maxmemory-policy", value: s.maxmemoryPolicy },
    { name: "timeout", value: String(s.timeouts.idleSeconds) },
    { name: "tcp-keepalive", value: String(s.timeouts.tcpKeepaliveSeconds) },
    { name: "slowlog-log-slower-than", value: String(s.slowlog.slowerThanMicros) },
    { name: "slowlog-max-len", value: String(s.slowlog.maxLen) },
    { name: "notify-keyspace-events", value: s.keyspaceNotifications },
    { name: "cluster-enabled", value: clusterMode ? "yes" : "no" },
    // Cluster mode has database 0 only; the layout then uses key prefixes.
    ...(clusterMode ? [] : [{ name: "databases", value: String(s.databases) }]),
  ];
  const notApplied = [
    `maxmemory ${s.maxmemory}: ElastiCache sizes memory by node type (use nodeType; reserved-memory-percent keeps 25% for overhead)`,
    `appendonly ${s.persistence.appendonly ? "yes" : "no"} / appendfsync ${s.persistence.appendfsync}: not offered for Redis 7; durability comes from replicas (Multi-AZ) and daily snapshots`,
    `save ${s.persistence.save.map(([sec, n]) => `${sec} ${n}`).join(" ") || '""'}: snapshots follow snapshotRetentionDays and snapshotWindow`,
    `bind ${s.bind.join(" ")}, port, protected-mode: set by the service (the replication group's port, its security group)`,
    "tls: transit encryption of the replication group (TLS 1.2+), with the service's certificates",
    "aclfile / ACL users: RBAC users and a user group (or an AUTH token)",
  ];
  return { parameters, notApplied };
}

/** An RBAC access string: the engine's ACL rules with `on`/`off` (passwords are set separately). */
export function accessString(role: AclRole, settings: RedisSettings): string {
  return [settings.acl.users[role].enabled ? "on" : "off", ...aclRules(role, settings, REDIS_DECLARATIONS)].join(" ");
}

export interface ElastiCacheRedisArgs {
  config: StackConfig;
  settings: RedisSettings;
  passwords: RedisPasswords;
  /** The AUTH token (auth "token"). */
  authToken?: pulumi.Input<string>;
  parent: pulumi.Resource;
}

export interface ElastiCacheRedis {
  replicationGroup: aws.elasticache.ReplicationGroup;
  securityGroup: aws.ec2.SecurityGroup;
  endpoint: pulumi.Output<RedisEndpoint>;
  notApplied: string[];
}

export function elastiCacheRedis(name: string, args: ElastiCacheRedisArgs): ElastiCacheRedis {
  const { ec2, elasticache } = sdk.aws;
  const cfg = args.config;
  const e = cfg.redis.cloud;
  const s = args.settings;
  const prot = cfg.protected;
  const child = { parent: args.parent };
  const id = `${cfg.stack}-nexus-redis`;
  const tags = { ...e.tags, "nexus-db:stack": cfg.stack, "nexus-db:store": "redis" };
  const cluster = e.clusterMode.enabled;

  const subnetGroup = new elasticache.SubnetGroup(`${name}-subnets`, { name: `${id}-subnets`, description: `nexus-db ${cfg.stack}: Redis subnets`, subnetIds: e.subnetIds, tags }, child);
  const securityGroup = new ec2.SecurityGroup(
    `${name}-sg`,
    {
      name: `${id}-sg`,
      description: `nexus-db ${cfg.stack}: Redis clients`,
      vpcId: e.vpcId!,
      ingress: [
        ...(e.allowedCidrs.length > 0 ? [{ description: "Redis from allowed CIDRs", protocol: "tcp", fromPort: ELASTICACHE_PORT, toPort: ELASTICACHE_PORT, cidrBlocks: e.allowedCidrs }] : []),
        ...(e.allowedSecurityGroupIds.length > 0
          ? [{ description: "Redis from allowed security groups", protocol: "tcp", fromPort: ELASTICACHE_PORT, toPort: ELASTICACHE_PORT, securityGroups: e.allowedSecurityGroupIds }]
          : []),
      ],
      egress: [],
      tags,
    },
    child,
  );
  const { parameters, notApplied } = elastiCacheParameters(s, cluster);
  const parameterGroup = new elasticache.ParameterGroup(
    `${name}-params`,
    { name: `${id}-redis7`, family: "redis7", description: `nexus-db ${cfg.stack}: Redis settings ElastiCache takes`, parameters, tags },
    child,
  );

  let userGroup: aws.elasticache.UserGroup | undefined;
  if (e.auth === "rbac") {
    const user = (suffix: string, userName: string, access: string, password: pulumi.Input<string>) =>
      new elasticache.User(
        `${name}-user-${suffix}`,
        { userId: `${id}-${suffix}`.slice(0, 40), userName, engine: "redis", accessString: access, authenticationMode: { type: "password", passwords: [pulumi.secret(password)] }, tags },
        child,
      );
    // Every user group holds a user named "default"; ours can do nothing (the passwordless default is dev-only).
    const users = [user("default", "default", "off -@all", args.passwords.admin)];
    for (const role of ACL_ROLES) users.push(user(role, s.acl.users[role].name, accessString(role, s), args.passwords[role]));
    userGroup = new elasticache.UserGroup(`${name}-users`, { userGroupId: `${id}-users`, engine: "redis", userIds: users.map((u) => u.userId), tags }, child);
  }

  const replicas = cluster ? e.clusterMode.replicasPerShard : e.replicas;
  const replicationGroup = new elasticache.ReplicationGroup(
    `${name}-replication-group`,
    {
      replicationGroupId: id,
      description: `nexus-db ${cfg.stack}: Redis ${cluster ? "cluster" : "replication group"}`,
      engine: "redis",
      engineVersion: e.engineVersion,
      nodeType: e.nodeType,
      port: ELASTICACHE_PORT,
      parameterGroupName: parameterGroup.name,
      subnetGroupName: subnetGroup.name,
      securityGroupIds: [securityGroup.id],
      clusterMode: cluster ? "enabled" : "disabled",
      ...(cluster ? { numNodeGroups: e.clusterMode.shards, replicasPerNodeGroup: replicas } : { numCacheClusters: 1 + replicas }),
      automaticFailoverEnabled: cluster || replicas > 0,
      multiAzEnabled: e.multiAz,
      transitEncryptionEnabled: true,
      transitEncryptionMode: "required",
      atRestEncryptionEnabled: true,
      kmsKeyId: e.kmsKeyId,
      ...(userGroup ? { userGroupIds: [userGroup.userGroupId] } : { authToken: pulumi.secret(args.authToken ?? ""), authTokenUpdateStrategy: "ROTATE" }),
      snapshotRetentionLimit: e.snapshotRetentionDays,
      snapshotWindow: e.snapshotWindow,
      maintenanceWindow: e.maintenanceWindow,
      finalSnapshotIdentifier: prot ? `${id}-final` : undefined,
      // Seeded from a snapshot when created (a new or disaster-recovery stack).
      ...(e.restore?.snapshotName ? { snapshotName: e.restore.snapshotName } : {}),
      ...(e.restore?.snapshotArns ? { snapshotArns: e.restore.snapshotArns } : {}),
      autoMinorVersionUpgrade: true,
      applyImmediately: !prot,
      tags,
    },
    // The seed is read at creation only: adding or removing it later never replaces a running group.
    { ...child, protect: prot, ignoreChanges: ["snapshotName", "snapshotArns"] },
  );

  // Cluster mode: clients discover the shards through the configuration endpoint.
  const host = cluster ? replicationGroup.configurationEndpointAddress : replicationGroup.primaryEndpointAddress;
  return {
    replicationGroup,
    securityGroup,
    // ElastiCache certificates chain to Amazon's public CAs: the system's CA store verifies them.
    endpoint: host.apply((h) => ({ host: h, port: ELASTICACHE_PORT, tls: true })),
    notApplied,
  };
}

/** The `cloud` backend: ElastiCache. Nothing is applied to the running server afterwards (it refuses CONFIG and ACL). */
export const cloudRedis: RedisBackend = (name, args) => {
  const c = args.config.redis.cloud;
  const settings = stackRedisSettings(args.config);
  if (c.auth === "token" && !args.authToken) throw new Error("nexus-db:redis.cloud.auth token needs the AUTH token (secret redisAuthToken, or a generated one)");
  const ec = elastiCacheRedis(name, { config: args.config, settings, passwords: args.passwords, authToken: args.authToken, parent: args.parent });
  return {
    settings,
    endpoint: ec.endpoint,
    // Without RBAC every client is the default user, with the AUTH token.
    authToken: c.auth === "token" ? args.authToken : undefined,
    notApplied: pulumi.output(ec.notApplied),
    replicationGroup: ec.replicationGroup,
    ready: [ec.replicationGroup],
  };
};
