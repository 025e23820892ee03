// The nexus-db program proper: builds the database layer of the stack config index.ts has read, and
// returns the stack outputs. index.ts loads it once the provider head starts are under way.
import * as pulumi from "@pulumi/pulumi";
import { LAYER_NAME } from "./config/names";
import type { StackConfig } from "./config/schema";
import { DatabaseLayer } from "./components/database-layer";
import { keyspaceLayout, layoutDocument } from "./config/redis-layout-document";

/** The database layer of `config`; the properties of what it returns are the stack outputs. */
export function databaseLayerProgram(config: StackConfig) {
  const layer = new DatabaseLayer(LAYER_NAME, { config }, { protect: false });
  return {
    // The backend's variables (the spec's .env) — secrets: they carry passwords. `npm run env` writes them to .env.
    DATABASE_URL: layer.env.DATABASE_URL,
    DATABASE_MAX_CONNECTIONS: layer.env.DATABASE_MAX_CONNECTIONS,
    MONGODB_URL: layer.env.MONGODB_URL,
    REDIS_URL: layer.env.REDIS_URL,
    /** Everything the backend receives — URLs, pools, timeouts, key prefix, TTLs, CA, JWT secret (secret): what `npm run env` renders as .env and config.toml. */
    backend: layer.backend,
    /** The Redis keyspace layout as data (redis/keyspace-layout.schema.json; `nexus-db redis layout --json`). */
    redisLayout: layoutDocument(keyspaceLayout({ cluster: layer.redis.settings.cluster, keyPrefix: layer.redis.settings.keyPrefix })),
    /** URLs per role, for operators and analytics (secrets). */
    urls: layer.urls,
    /** The CA certificate clients verify the stores with. */
    caCertPem: layer.caCertPem ?? null,
    postgres: {
      host: layer.postgres.host,
      port: layer.postgres.port,
      database: layer.postgres.database,
      tls: layer.postgres.tls,
      schemaVersion: layer.postgres.schema.currentVersion,
      appliedMigrations: layer.postgres.schema.appliedVersions,
    },
    mongo: {
      host: layer.mongo.host,
      port: layer.mongo.port,
      database: layer.mongo.database,
      tls: layer.mongo.tls,
      collections: layer.mongo.schema.managedCollections,
      indexes: layer.mongo.schema.managedIndexes,
      unsupportedByServer: layer.mongo.schema.unsupported,
    },
    redis: {
      endpoint: layer.redis.endpoint.apply(({ caPem: _ca, ...e }) => e),
      notApplied: layer.redis.notApplied ?? pulumi.output([] as string[]),
      /** Source rows per warmup set, and the data+spec version the cache holds. */
      warmup: layer.warmup ? { counts: layer.warmup.counts, version: layer.warmup.version } : undefined,
    },
    // Outputs a stack does not have are null, not undefined (Pulumi warns about an undefined output on every preview).
    /** The admin tools of a dev stack: where they answer, their logins, their password (secret). */
    devTools: layer.devTools ? { urls: layer.devTools.urls, logins: layer.devTools.logins, password: layer.devTools.password } : null,
    /** Restores the cloud stack config asked for: the RDS point-in-time instance's endpoint, the Atlas restore job. */
    restores: layer.postgres.restoredHost || layer.mongo.restoreJobId ? { postgres: layer.postgres.restoredHost ?? null, mongo: layer.mongo.restoreJobId ?? null } : null,
    /** The daily backups of a docker stack: where the archives are, when, and how many are kept. */
    backups: !layer.backups
      ? null
      : { destination: layer.backups.destination, dailyAt: config.backups.dailyAt, keepDaily: config.backups.keepDaily, keepWeekly: config.backups.keepWeekly },
    environment: config.environment,
  };
}
