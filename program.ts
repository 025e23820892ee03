// The nexus-db program proper: reads the typed stack config and builds the database layer. Its
// exports are the stack outputs. index.ts loads it once the provider head starts are under way.
import * as pulumi from "@pulumi/pulumi";
import { LAYER_NAME } from "./config/names";
import { readStackConfig } from "./config/read";
import { DatabaseLayer } from "./components/database-layer";
import { keyspaceLayout, layoutDocument } from "./config/redis-layout-document";

const config = readStackConfig();
const layer = new DatabaseLayer(LAYER_NAME, { config }, { protect: false });

// The backend's variables (the spec's .env) — secrets: they carry passwords. `npm run env` writes them to .env.
export const DATABASE_URL = layer.env.DATABASE_URL;
export const DATABASE_MAX_CONNECTIONS = layer.env.DATABASE_MAX_CONNECTIONS;
export const MONGODB_URL = layer.env.MONGODB_URL;
export const REDIS_URL = layer.env.REDIS_URL;
/** Everything the backend receives — URLs, pools, timeouts, key prefix, TTLs, CA, JWT secret (secret): what `npm run env` renders as .env and config.toml. */
export const backend = layer.backend;
/** The Redis keyspace layout as data (redis/keyspace-layout.schema.json; `nexus-db redis layout --json`). */
export const redisLayout = layoutDocument(keyspaceLayout({ cluster: layer.redis.settings.cluster, keyPrefix: layer.redis.settings.keyPrefix }));
/** URLs per role, for operators and analytics (secrets). */
export const urls = layer.urls;
/** The CA certificate clients verify the stores with. */
export const caCertPem = layer.caCertPem ?? null;

export const postgres = {
  host: layer.postgres.host,
  port: layer.postgres.port,
  database: layer.postgres.database,
  tls: layer.postgres.tls,
  schemaVersion: layer.postgres.schema.currentVersion,
  appliedMigrations: layer.postgres.schema.appliedVersions,
};
export const mongo = {
  host: layer.mongo.host,
  port: layer.mongo.port,
  database: layer.mongo.database,
  tls: layer.mongo.tls,
  collections: layer.mongo.schema.managedCollections,
  indexes: layer.mongo.schema.managedIndexes,
  unsupportedByServer: layer.mongo.schema.unsupported,
};
export const redis = {
  endpoint: layer.redis.endpoint.apply(({ caPem: _ca, ...e }) => e),
  notApplied: layer.redis.notApplied ?? pulumi.output([] as string[]),
  /** Source rows per warmup set, and the data+spec version the cache holds. */
  warmup: layer.warmup ? { counts: layer.warmup.counts, version: layer.warmup.version } : undefined,
};
/** The admin tools of a dev stack: where they answer, their logins, their password (secret). */
// Outputs a stack does not have are null, not undefined (Pulumi warns about an undefined output on every preview).
export const devTools = layer.devTools ? { urls: layer.devTools.urls, logins: layer.devTools.logins, password: layer.devTools.password } : null;
/** Restores the cloud stack config asked for: the RDS point-in-time instance's endpoint, the Atlas restore job. */
export const restores =
  layer.postgres.restoredHost || layer.mongo.restoreJobId ? { postgres: layer.postgres.restoredHost ?? null, mongo: layer.mongo.restoreJobId ?? null } : null;
/** The daily backups of a docker stack: where the archives are, when, and how many are kept. */
export const backups = !layer.backups ? null : { destination: layer.backups.destination, dailyAt: config.backups.dailyAt, keepDaily: config.backups.keepDaily, keepWeekly: config.backups.keepWeekly };
export const environment = config.environment;
