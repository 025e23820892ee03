// The contract between `nexus:db:Redis` and its backends (docker.ts, external.ts, elasticache.ts):
// what a backend is given, and what it yields — the settings in effect, the endpoint and TLS, what
// the server did not take, and what must be ready before the warmup connects.
import type { ReplicationGroup } from "@pulumi/aws/elasticache";
import type * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../config/schema";
import type { RedisSettings } from "../../engines/redis/settings";
import type { ServerCertificate } from "../tls";
import type { RedisEndpoint, RedisPasswords } from "./settings";

export type RedisBackendName = StackConfig["redis"]["backend"];

export interface RedisBackendArgs {
  config: StackConfig;
  /** The ACL users' passwords. */
  passwords: RedisPasswords;
  /** The ACL users' passwords as one secret. */
  allPasswords: pulumi.Output<{ admin: string; app: string; readonly: string; warmup: string }>;
  /** CA and server certificate (docker backend with TLS). */
  tls?: { caCertPem: pulumi.Input<string>; server: ServerCertificate };
  /** The docker network (docker backend). */
  network?: pulumi.Input<string>;
  /** The existing server's admin password (external backend), if it has one. */
  adminPassword?: pulumi.Input<string>;
  /** The AUTH token (cloud backend with auth "token"). */
  authToken?: pulumi.Input<string>;
  /** The component: every resource a backend creates is its child. */
  parent: pulumi.Resource;
}

/** What a backend yields: the same shape whatever runs the server. */
export interface RedisServer {
  /** The settings in effect (rendered or applied). */
  settings: RedisSettings;
  endpoint: pulumi.Output<RedisEndpoint>;
  /** Every client logs in as the default user with this token instead of its ACL user (ElastiCache without RBAC). */
  authToken?: pulumi.Input<string>;
  /** The rendered redis.conf (docker backend). */
  redisConf?: string;
  /** What the server refused of the settings (external), or what the service does not take (cloud). */
  notApplied?: pulumi.Output<string[]>;
  /** The ElastiCache replication group (cloud backend). */
  replicationGroup?: ReplicationGroup;
  /** Resources that must exist (configured) before the warmup connects. */
  ready: pulumi.Resource[];
}

export type RedisBackend = (name: string, args: RedisBackendArgs) => RedisServer;
