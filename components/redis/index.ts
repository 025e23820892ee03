// `nexus:db:Redis`: the Redis server — a container running the rendered redis.conf and ACL file, an
// existing server brought to the settings it allows, or ElastiCache — with ACL users instead of
// requirepass. The server comes from a backend (docker.ts, external.ts, elasticache.ts). The cache
// warmup (which reads PostgreSQL) is wired by the DatabaseLayer.
import type { ReplicationGroup } from "@pulumi/aws/elasticache";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../config/schema";
import type { RedisSettings } from "../../engines/redis/settings";
import type { ServerCertificate } from "../tls";
import type { RedisBackend, RedisBackendName } from "./backend";
import { dockerRedis } from "./docker";
import { cloudRedis } from "./elasticache";
import { externalRedis } from "./external";
import type { RedisEndpoint, RedisPasswords } from "./settings";

export { REDIS_CONF_DIR, containerRedisSettings, type RedisEndpoint, type RedisPasswords } from "./settings";

/** Every backend by its config name: a backend added to the config schema is a compile error here until it has a file. */
export const REDIS_BACKENDS: Record<RedisBackendName, RedisBackend> = {
  docker: dockerRedis,
  external: externalRedis,
  cloud: cloudRedis,
};

export interface RedisArgs {
  config: StackConfig;
  passwords: RedisPasswords;
  tls?: { caCertPem: pulumi.Input<string>; server: ServerCertificate };
  network?: pulumi.Input<string>;
  /** The existing server's admin password (external backend), if it has one. */
  adminPassword?: pulumi.Input<string>;
  /** The AUTH token (cloud backend with auth "token"). */
  authToken?: pulumi.Input<string>;
}

export class Redis extends pulumi.ComponentResource {
  readonly endpoint: pulumi.Output<RedisEndpoint>;
  /** The settings in effect (rendered or applied). */
  readonly settings: RedisSettings;
  /** Per user: `redis[s]://user:password@host:port` (secrets). */
  readonly urls: Record<"app" | "readonly" | "warmup", pulumi.Output<string>>;
  /** The rendered redis.conf (docker backend). */
  readonly redisConf?: string;
  /** What the server refused of the settings (external backend), or what ElastiCache does not take (cloud). */
  readonly notApplied?: pulumi.Output<string[]>;
  /** The ElastiCache replication group (cloud backend). */
  readonly replicationGroup?: ReplicationGroup;
  /** The server's own resources (the container, the settings applied, the replication group): what the warmup waits for. */
  readonly serverReady: pulumi.Resource[];
  /** The ACL users' passwords (secrets), for the warmup's connection. */
  readonly passwords: RedisPasswords;

  constructor(name: string, args: RedisArgs, opts?: pulumi.ComponentResourceOptions) {
    super("nexus:db:Redis", name, {}, opts);
    const allPasswords = pulumi.secret(
      pulumi.all([args.passwords.admin, args.passwords.app, args.passwords.readonly, args.passwords.warmup]).apply(([admin, app, readonly, warmup]) => ({ admin, app, readonly, warmup })),
    );
    const server = REDIS_BACKENDS[args.config.redis.backend](name, { ...args, allPasswords, parent: this });

    const users = server.settings.acl.users;
    const token = server.authToken;
    const url = (user: string, pw: pulumi.Input<string>) =>
      pulumi.secret(
        pulumi.all([server.endpoint, token ?? pw]).apply(([e, p]) => `${e.tls ? "rediss" : "redis"}://${encodeURIComponent(token ? "default" : user)}:${encodeURIComponent(p)}@${e.host}:${e.port}`),
      );
    this.settings = server.settings;
    this.redisConf = server.redisConf;
    this.notApplied = server.notApplied;
    this.replicationGroup = server.replicationGroup;
    this.serverReady = server.ready;
    this.passwords = args.passwords;
    this.endpoint = server.endpoint;
    this.urls = {
      app: url(users.app.name, args.passwords.app),
      readonly: url(users.readonly.name, args.passwords.readonly),
      warmup: url(users.warmup.name, args.passwords.warmup),
    };
    this.registerOutputs({ endpoint: this.endpoint });
  }
}
