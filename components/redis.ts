// `nexus:db:Redis`: the Redis server — a container running the rendered redis.conf and ACL file, or
// an existing server brought to the settings it allows — with ACL users instead of requirepass.
// The cache warmup (which reads PostgreSQL) is wired by the DatabaseLayer.
import type { ReplicationGroup } from "@pulumi/aws/elasticache";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import { renderAclFile, renderRedisConf } from "../engines/redis/render";
import { parseRedisSettings, type RedisSettings } from "../engines/redis/settings";
import { RedisServerSettings } from "../providers/redis-settings";
import { elastiCacheRedis } from "./cloud/elasticache";
import { dockerStore } from "./docker-store";
import type { ServerCertificate } from "./tls";

export const REDIS_CONF_DIR = "/usr/local/etc/redis";

/** The settings a container runs with: every interface inside its network, TLS only when certificates exist. */
export function containerRedisSettings(config: StackConfig, withTls: boolean): RedisSettings {
  const dev = config.environment === "dev";
  const s = config.redis.settings;
  return parseRedisSettings(
    {
      ...stripDefaults(s),
      bind: ["0.0.0.0", "::"],
      // The container is reached only through its network and a loopback-bound port; ACL users guard it.
      protectedMode: false,
      port: withTls ? 0 : 6379,
      tls: withTls
        ? { ...s.tls, port: 6379, certFile: `${REDIS_CONF_DIR}/tls/server.crt`, keyFile: `${REDIS_CONF_DIR}/tls/server.key`, caCertFile: `${REDIS_CONF_DIR}/tls/ca.crt` }
        : {},
      persistence: { ...s.persistence, dir: "/data" },
      aclFile: `${REDIS_CONF_DIR}/users.acl`,
    },
    { dev, path: "nexus-db:redis.settings" },
  );
}

/** The parsed settings back to their input form (the schema re-applies defaults). */
function stripDefaults(s: RedisSettings): Record<string, unknown> {
  return JSON.parse(JSON.stringify(s)) as Record<string, unknown>;
}

export interface RedisPasswords {
  admin: pulumi.Input<string>;
  app: pulumi.Input<string>;
  readonly: pulumi.Input<string>;
  warmup: pulumi.Input<string>;
}

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

/** How a client reaches the server as one of the ACL users. */
export interface RedisEndpoint {
  host: string;
  port: number;
  tls: boolean;
  caPem?: string;
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
  /** What the warmup waits for. */
  readonly ready: pulumi.Resource[];
  /** The ACL users' passwords (secrets), for the warmup's connection. */
  readonly passwords: RedisPasswords;

  constructor(name: string, args: RedisArgs, opts?: pulumi.ComponentResourceOptions) {
    super("nexus:db:Redis", name, {}, opts);
    const c = args.config.redis;
    const dev = ["dev", "local", "ci"].includes(args.config.environment);
    const prot = args.config.protected;
    const allPasswords = pulumi.secret(
      pulumi.all([args.passwords.admin, args.passwords.app, args.passwords.readonly, args.passwords.warmup]).apply(([admin, app, readonly, warmup]) => ({ admin, app, readonly, warmup })),
    );
    let endpoint: pulumi.Output<RedisEndpoint>;
    this.ready = [];
    this.passwords = args.passwords;

    if (c.backend === "docker") {
      if (!args.network) throw new Error("nexus-db:redis.backend docker needs the docker network");
      const withTls = args.tls !== undefined;
      const settings = containerRedisSettings(args.config, withTls);
      this.settings = settings;
      this.redisConf = renderRedisConf(settings);
      const acl = pulumi.secret(allPasswords.apply((pw) => renderAclFile(settings, pw)));
      const uploads = [
        { file: `${REDIS_CONF_DIR}/redis.conf`, content: this.redisConf },
        { file: `${REDIS_CONF_DIR}/users.acl`, content: acl, owner: "999", group: "1000", permissions: "0640" },
      ];
      if (args.tls) {
        uploads.push(
          { file: `${REDIS_CONF_DIR}/tls/ca.crt`, content: pulumi.output(args.tls.caCertPem) as never, owner: "999", group: "1000", permissions: "0644" },
          { file: `${REDIS_CONF_DIR}/tls/server.crt`, content: args.tls.server.certPem as never, owner: "999", group: "1000", permissions: "0644" },
          { file: `${REDIS_CONF_DIR}/tls/server.key`, content: args.tls.server.keyPem as never, owner: "999", group: "1000", permissions: "0600" },
        );
      }
      const tlsFlags = withTls ? `--tls --cacert ${REDIS_CONF_DIR}/tls/ca.crt ` : "";
      const store = dockerStore(name, {
        containerName: `${args.config.stack}-redis`,
        settings: c.docker,
        containerPort: 6379,
        bindAddress: args.config.docker.bindAddress,
        network: args.network,
        dataPath: "/data",
        ephemeral: args.config.ephemeral,
        protect: prot,
        parent: this,
        command: ["redis-server", `${REDIS_CONF_DIR}/redis.conf`],
        // The health check logs in as the read-only user: the default user is off outside dev.
        envs: [pulumi.interpolate`REDISCLI_AUTH=${args.passwords.readonly}`],
        uploads,
        healthcheck: [`redis-cli ${tlsFlags}--user ${settings.acl.users.readonly.name} -h 127.0.0.1 -p 6379 ping | grep -q PONG`],
        user: "999:1000",
      });
      this.ready.push(store.container);
      endpoint = pulumi.output(args.tls?.caCertPem).apply((ca) => ({ host: "127.0.0.1", port: c.docker.hostPort, tls: withTls, ...(ca ? { caPem: ca } : {}) }));
    } else if (c.backend === "external") {
      const x = c.external;
      this.settings = parseRedisSettings(stripDefaults(c.settings), { dev, path: "nexus-db:redis.settings" });
      const caPem = x.caFile ? (require("node:fs").readFileSync(x.caFile, "utf8") as string) : undefined;
      const applied = new RedisServerSettings(
        `${name}-settings`,
        {
          admin: pulumi.output(args.adminPassword).apply((pw) => ({
            host: x.host,
            port: x.port,
            username: x.adminUser,
            ...(pw ? { password: pw } : {}),
            useTls: x.tls,
            ...(caPem ? { caPem } : {}),
          })),
          settings: stripDefaults(this.settings),
          dev,
          passwords: allPasswords,
          control: x.control,
        },
        { parent: this },
      );
      this.notApplied = applied.notApplied;
      this.ready.push(applied);
      endpoint = pulumi.output({ host: x.host, port: x.port, tls: x.tls, ...(caPem ? { caPem } : {}) });
    } else {
      this.settings = parseRedisSettings(stripDefaults(c.settings), { dev, path: "nexus-db:redis.settings" });
      if (c.cloud.auth === "token" && !args.authToken) throw new Error("nexus-db:redis.cloud.auth token needs the AUTH token (secret redisAuthToken, or a generated one)");
      const ec = elastiCacheRedis(name, { config: args.config, settings: this.settings, passwords: args.passwords, authToken: args.authToken, parent: this });
      this.notApplied = pulumi.output(ec.notApplied);
      this.replicationGroup = ec.replicationGroup;
      this.ready.push(ec.replicationGroup);
      endpoint = ec.endpoint;
    }

    const users = this.settings.acl.users;
    // With an AUTH token (ElastiCache without RBAC) every client is the default user.
    const token = c.backend === "cloud" && c.cloud.auth === "token" ? args.authToken : undefined;
    const url = (user: string, pw: pulumi.Input<string>) =>
      pulumi.secret(
        pulumi.all([endpoint, token ?? pw]).apply(([e, p]) => `${e.tls ? "rediss" : "redis"}://${encodeURIComponent(token ? "default" : user)}:${encodeURIComponent(p)}@${e.host}:${e.port}`),
      );
    this.endpoint = endpoint;
    this.urls = {
      app: url(users.app.name, args.passwords.app),
      readonly: url(users.readonly.name, args.passwords.readonly),
      warmup: url(users.warmup.name, args.passwords.warmup),
    };
    this.registerOutputs({ endpoint: this.endpoint });
  }
}
