// `nexus:db:DatabaseLayer`: the whole database layer of one stack — TLS, passwords, the docker
// network (dev), PostgreSQL, MongoDB, Redis, the cache warmup — and the backend's variables.
import { readFileSync } from "node:fs";
import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { backendHandoff, type BackendHandoff } from "../config/backend-handoff";
import { isLoopback } from "../config/rules";
import type { StackConfig } from "../config/schema";
import { Mongo } from "./mongo";
import { MONGO_ROOT_USER } from "./mongo/docker";
import { Postgres, postgresUrl, type PgConnection } from "./postgres";
import { Redis } from "./redis";
import { jwtSigningSecret, secretConfigValue, stackPassword } from "./secrets";
import { Certificates } from "./tls";
import { RedisWarmup } from "../providers/redis-warmup";
import { DevTools, type DevToolsMongo } from "./dev-tools";
import { stackNetwork, takeStartedNetwork, usesDockerNetwork } from "./docker-network";
import { ScheduledBackups, type ScheduledBackupStores } from "./backups";

export interface DatabaseLayerArgs {
  /** The parsed stack config. Required. */
  config: StackConfig;
}

export class DatabaseLayer extends pulumi.ComponentResource {
  readonly postgres: Postgres;
  readonly mongo: Mongo;
  readonly redis: Redis;
  /** The CA clients verify the stores with (absent without TLS). */
  readonly caCertPem?: pulumi.Output<string>;
  /** The backend's variables (the spec's .env), secrets where they carry a password. */
  readonly env: {
    DATABASE_URL: pulumi.Output<string>;
    DATABASE_MAX_CONNECTIONS: number;
    MONGODB_URL: pulumi.Output<string>;
    REDIS_URL: pulumi.Output<string>;
  };
  /** What the backend receives: URLs, pools, timeouts, key prefix, TTLs, CA, JWT secret (a secret; config/backend-handoff.ts). */
  readonly backend: pulumi.Output<BackendHandoff>;
  /** The cache warmup (absent when `redis.warmup.enabled` is false). */
  readonly warmup?: RedisWarmup;
  /** Per-role URLs (secrets). */
  readonly urls: Record<string, pulumi.Output<string>>;
  /** pgAdmin, Mongo Express, Redis Commander (when `docker.devTools` is on). */
  readonly devTools?: DevTools;
  /** The daily backup container (when `backups.enabled`). */
  readonly backups?: ScheduledBackups;
  /** The stack's docker network (when a store is on docker): top-level, see components/docker-network.ts. */
  readonly network?: docker.Network;

  constructor(name: string, args: DatabaseLayerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("nexus:db:DatabaseLayer", name, {}, opts);
    const cfg = args.config;
    const usesDocker = usesDockerNetwork(cfg);
    // A password the stack does not set is generated with @pulumi/random (an existing server's
    // admin password excepted: the server has one already, so it comes from config or is absent).
    const pw = (suffix: string, key: Parameters<typeof stackPassword>[1]) =>
      stackPassword(`${name}-${suffix}-password`, key, { parent: this });
    const optional = (key: Parameters<typeof stackPassword>[1]) =>
      secretConfigValue(key) === undefined ? undefined : pw(key, key);

    // The network first (components/docker-network.ts): registered by index.ts ahead of the program
    // when it runs under the engine, else here.
    let network: docker.Network | undefined;
    if (usesDocker) network = takeStartedNetwork(name) ?? stackNetwork(name, cfg);
    this.network = network;

    let certs: Certificates | undefined;
    if (cfg.tls.mode !== "none") {
      certs = new Certificates(
        `${name}-tls`,
        {
          stack: cfg.stack,
          organization: cfg.tls.organization,
          validityHours: cfg.tls.validityHours,
          extraDnsNames: cfg.tls.extraDnsNames,
          providedCa: cfg.tls.mode === "provided" ? { certPem: cfg.tls.caCertPem!, keyPem: pw("tls-ca-key", "tlsCaKeyPem") } : undefined,
        },
        { parent: this },
      );
      this.caCertPem = certs.caCertPem;
    }

    // docker and cloud: the stack sets the admin password (the container's superuser, the RDS master user, the Atlas schema user).
    const postgresAdminPassword = cfg.postgres.backend !== "external" ? pw("postgres-admin", "postgresAdminPassword") : (optional("postgresAdminPassword") ?? "");
    const mongoAdminPassword = cfg.mongo.backend !== "external" ? pw("mongo-admin", "mongoAdminPassword") : optional("mongoAdminPassword");
    const redisAdminPassword = pw("redis-admin", "redisAdminPassword");

    this.postgres = new Postgres(
      `${name}-postgres`,
      {
        config: cfg,
        adminPassword: postgresAdminPassword,
        passwords: {
          owner: pw("postgres-owner", "postgresOwnerPassword"),
          app: pw("postgres-app", "postgresAppPassword"),
          readonly: pw("postgres-readonly", "postgresReadonlyPassword"),
        },
        tls: certs && { caCertPem: certs.caCertPem, server: certs.servers.postgres },
        network: network?.name,
      },
      { parent: this },
    );

    this.redis = new Redis(
      `${name}-redis`,
      {
        config: cfg,
        passwords: {
          admin: redisAdminPassword,
          app: pw("redis-app", "redisAppPassword"),
          readonly: pw("redis-readonly", "redisReadonlyPassword"),
          warmup: pw("redis-warmup", "redisWarmupPassword"),
        },
        adminPassword: cfg.redis.backend === "external" ? optional("redisAdminPassword") : undefined,
        authToken: cfg.redis.backend === "cloud" && cfg.redis.cloud.auth === "token" ? pw("redis-auth-token", "redisAuthToken") : undefined,
        tls: certs && { caCertPem: certs.caCertPem, server: certs.servers.redis },
        network: network?.name,
      },
      { parent: this },
    );

    this.mongo = new Mongo(
      `${name}-mongo`,
      {
        config: cfg,
        adminPassword: mongoAdminPassword,
        passwords: { app: pw("mongo-app", "mongoAppPassword"), analytics: pw("mongo-analytics", "mongoAnalyticsPassword") },
        tls: certs && { caCertPem: certs.caCertPem, server: certs.servers.mongo },
        network: network?.name,
        // Its first check loads the Mongo engine into the provider process and plans against the
        // server (≈ 1 s), and the engine registers nothing else meanwhile: after the other stores'
        // containers, it overlaps their servers' start instead of holding the containers back.
        dependsOn: [...(cfg.postgres.backend === "docker" ? this.postgres.serverReady : []), ...(cfg.redis.backend === "docker" ? this.redis.serverReady : [])],
      },
      { parent: this },
    );

    // The spec's dev profile: admin tools on the stack's network, each wired to its store when the
    // containers can reach it: a store's container, or (Mongo) a server beyond this machine's loopback.
    if (cfg.docker.devTools && network && certs) {
      const mongoForTools = devToolsMongo(cfg, mongoAdminPassword, certs.caCertPem);
      const missing = [
        cfg.postgres.backend !== "docker" && "pgAdmin (PostgreSQL is not in a container)",
        !mongoForTools && "Mongo Express (Mongo is neither in a container nor reachable from one)",
        cfg.redis.backend !== "docker" && "Redis Commander (Redis is not in a container)",
      ].filter(Boolean);
      if (missing.length > 0) pulumi.log.info(`nexus-db:docker.devTools: left out: ${missing.join("; ")}`, this);
      this.devTools = new DevTools(
        `${name}-devtools`,
        {
          config: cfg,
          network: network.name,
          caCertPem: certs.caCertPem,
          postgresAdminPassword: cfg.postgres.backend === "docker" ? postgresAdminPassword : undefined,
          mongo: mongoForTools,
          redisAdmin: cfg.redis.backend === "docker" ? { user: this.redis.settings.acl.users.admin.name, password: redisAdminPassword } : undefined,
        },
        { parent: this, dependsOn: [this.postgres, this.mongo, this.redis] },
      );
    } else if (cfg.docker.devTools) {
      pulumi.log.warn("nexus-db:docker.devTools: the admin tools need a docker store and TLS (tls.mode generate or provided); not created", this);
    }

    // Daily backups of the docker stores, by the project's own engine in a container on the stack's
    // network: each store as its admin-level user, by its container name (the certificates name it).
    if (cfg.backups.enabled) {
      const backupKey = secretConfigValue("backupKey");
      if (backupKey === undefined) throw new Error("nexus-db:backupKey: required when backups.enabled");
      if (!network || !certs) throw new Error("nexus-db:backups.enabled needs a docker store and TLS (tls.mode generate or provided)");
      const stores: ScheduledBackupStores = {};
      if (cfg.postgres.backend === "docker") {
        stores.postgres = pulumi.secret(this.postgres.connections.owner.apply((c) => postgresUrl({ ...c, host: `${cfg.stack}-postgres`, port: 5432, sslMode: "verify-full" })));
      }
      if (cfg.mongo.backend === "docker" && mongoAdminPassword !== undefined) {
        stores.mongo = pulumi.secret(
          pulumi.interpolate`mongodb://${MONGO_ROOT_USER}:${pulumi.output(mongoAdminPassword).apply(encodeURIComponent)}@${cfg.stack}-mongo:27017/${cfg.mongo.settings.database}?tls=true&authSource=admin`,
        );
      }
      if (cfg.redis.backend === "docker") {
        stores.redis = pulumi.secret(pulumi.interpolate`rediss://${encodeURIComponent(this.redis.settings.acl.users.admin.name)}:${redisAdminPassword.apply(encodeURIComponent)}@${cfg.stack}-redis:6379`);
      }
      this.backups = new ScheduledBackups(
        `${name}-backup`,
        { config: cfg, network: network.name, caCertPem: certs.caCertPem, backupKey: pulumi.secret(backupKey), stores },
        { parent: this, dependsOn: [...this.postgres.ready, this.mongo, this.redis] },
      );
    }

    // The cache warmup reads PostgreSQL as the read-only role and writes as the warmup ACL user,
    // after the schema, grants and seeds are in place and Redis is configured.
    if (cfg.redis.warmup.enabled) {
      this.warmup = new RedisWarmup(
        `${name}-redis-warmup`,
        {
          connections: pulumi
            .all([this.postgres.connections.readonly, this.redis.endpoint, this.redis.passwords.warmup])
            .apply(([pg, r, warmPassword]) => ({
              database: pg,
              redis: {
                host: r.host,
                port: r.port,
                username: this.redis.settings.acl.users.warmup.name,
                password: warmPassword,
                ...(r.tls ? { tls: r.caPem ? { ca: r.caPem } : {} } : {}),
              },
            })),
          keyspace: { cluster: this.redis.settings.cluster, keyPrefix: this.redis.settings.keyPrefix },
        },
        { parent: this, dependsOn: [...this.postgres.ready, ...this.redis.serverReady] },
      );
    }

    const pgUrl = (c: pulumi.Output<PgConnection>) => pulumi.secret(c.apply((x) => postgresUrl(x)));
    this.env = {
      DATABASE_URL: pgUrl(this.postgres.connections.app),
      DATABASE_MAX_CONNECTIONS: cfg.postgres.poolMaxConnections,
      MONGODB_URL: this.mongo.urls.app,
      REDIS_URL: this.redis.urls.app,
    };
    const caPem = pulumi
      .all([this.caCertPem, this.postgres.connections.app, this.redis.endpoint])
      .apply(([generated, pg, r]) => generated ?? pg.caPem ?? r.caPem);
    this.backend = pulumi.secret(
      pulumi
        .all([this.env.DATABASE_URL, this.env.MONGODB_URL, this.env.REDIS_URL, jwtSigningSecret(`${name}-jwt-secret`, cfg.jwtSecretVersion, this), caPem])
        .apply(([databaseUrl, mongoUrl, redisUrl, jwtSecret, ca]) => backendHandoff(cfg, { databaseUrl, mongoUrl, redisUrl, jwtSecret, ...(ca ? { caCertPem: ca } : {}) })),
    );
    this.urls = {
      postgresOwner: pgUrl(this.postgres.connections.owner),
      postgresApp: pgUrl(this.postgres.connections.app),
      postgresReadonly: pgUrl(this.postgres.connections.readonly),
      mongoApp: this.mongo.urls.app,
      mongoAnalytics: this.mongo.urls.analytics,
      redisApp: this.redis.urls.app,
      redisReadonly: this.redis.urls.readonly,
      redisWarmup: this.redis.urls.warmup,
    };
    this.registerOutputs({ env: this.env, backend: this.backend });
  }
}

/** Mongo Express's server: the stack's container, or an external server the containers can reach (not loopback). */
function devToolsMongo(cfg: StackConfig, adminPassword: pulumi.Input<string> | undefined, caCertPem: pulumi.Input<string>): DevToolsMongo | undefined {
  if (cfg.mongo.backend === "docker") {
    return adminPassword === undefined ? undefined : { host: `${cfg.stack}-mongo`, port: 27017, user: MONGO_ROOT_USER, password: adminPassword, authSource: "admin", tls: true, caPem: caCertPem };
  }
  const x = cfg.mongo.external;
  if (cfg.mongo.backend !== "external" || isLoopback(x.host)) return undefined;
  const tls = cfg.mongo.settings.tls;
  return {
    host: x.host,
    port: x.port,
    ...(x.adminUser ? { user: x.adminUser, password: adminPassword, authSource: x.authSource } : {}),
    tls: tls.enabled,
    ...(tls.enabled && tls.caFile ? { caPem: readFileSync(tls.caFile, "utf8") } : {}),
  };
}
