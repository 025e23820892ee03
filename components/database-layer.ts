// `nexus:db:DatabaseLayer`: the whole database layer of one stack — TLS, passwords, the docker
// network (dev), PostgreSQL, MongoDB, Redis, the cache warmup — and the backend's variables.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import { Mongo } from "./mongo";
import { Postgres, postgresUrl, type PgConnection } from "./postgres";
import { Redis } from "./redis";
import { secretConfigValue, stackPassword } from "./secrets";
import { Certificates } from "./tls";
import { RedisWarmup } from "../providers/redis-warmup";
import { DevTools } from "./dev-tools";

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
  /** The cache warmup (absent when `redis.warmup.enabled` is false). */
  readonly warmup?: RedisWarmup;
  /** Per-role URLs (secrets). */
  readonly urls: Record<string, pulumi.Output<string>>;
  /** pgAdmin, Mongo Express, Redis Commander (when `docker.devTools` is on). */
  readonly devTools?: DevTools;

  constructor(name: string, args: DatabaseLayerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("nexus:db:DatabaseLayer", name, {}, opts);
    const cfg = args.config;
    const usesDocker = [cfg.postgres.backend, cfg.mongo.backend, cfg.redis.backend].includes("docker");
    // Generated passwords need @pulumi/random; a stack of servers that exist supplies its own.
    const generate = usesDocker || [cfg.postgres.backend, cfg.mongo.backend, cfg.redis.backend].includes("cloud");
    const pw = (suffix: string, key: Parameters<typeof stackPassword>[1]) =>
      stackPassword(`${name}-${suffix}-password`, key, { environment: cfg.environment, generate, parent: this });
    const optional = (key: Parameters<typeof stackPassword>[1]) =>
      secretConfigValue(key) === undefined ? undefined : pw(key, key);

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

    let network: docker.Network | undefined;
    if (usesDocker) {
      network = new docker.Network(
        `${name}-network`,
        { name: cfg.docker.networkName, driver: "bridge", internal: false, labels: [{ label: "nexus-db.stack", value: cfg.stack }] },
        { parent: this },
      );
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

    this.mongo = new Mongo(
      `${name}-mongo`,
      {
        config: cfg,
        adminPassword: mongoAdminPassword,
        passwords: { app: pw("mongo-app", "mongoAppPassword"), analytics: pw("mongo-analytics", "mongoAnalyticsPassword") },
        tls: certs && { caCertPem: certs.caCertPem, server: certs.servers.mongo },
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

    // The spec's dev profile: admin tools wired to the three containers (dev stacks only).
    const allDocker = [cfg.postgres.backend, cfg.mongo.backend, cfg.redis.backend].every((b) => b === "docker");
    if (cfg.docker.devTools && !(allDocker && network && certs && mongoAdminPassword)) {
      pulumi.log.warn("nexus-db:docker.devTools: the admin tools need the docker backend for postgres, mongo and redis with TLS; not created", this);
    } else if (cfg.docker.devTools && network && certs && mongoAdminPassword) {
      this.devTools = new DevTools(
        `${name}-devtools`,
        {
          config: cfg,
          network: network.name,
          caCertPem: certs.caCertPem,
          postgresAdminPassword,
          mongoAdmin: { user: "nexus_admin", password: mongoAdminPassword },
          redisAdmin: { user: this.redis.settings.acl.users.admin.name, password: redisAdminPassword },
        },
        { parent: this, dependsOn: [this.postgres, this.mongo, this.redis] },
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
        { parent: this, dependsOn: [this.postgres.ready, ...this.redis.ready] },
      );
    }

    const pgUrl = (c: pulumi.Output<PgConnection>) => pulumi.secret(c.apply((x) => postgresUrl(x)));
    this.env = {
      DATABASE_URL: pgUrl(this.postgres.connections.app),
      DATABASE_MAX_CONNECTIONS: cfg.postgres.poolMaxConnections,
      MONGODB_URL: this.mongo.urls.app,
      REDIS_URL: this.redis.urls.app,
    };
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
    this.registerOutputs({ env: this.env });
  }
}
