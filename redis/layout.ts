// The Redis keyspace of the platform, as the spec lays it out: six logical databases, one key
// prefix, five pub/sub channels. This is the one module the platform's code imports to find a
// key; the config renderer, the ACL users and the cache warmup derive their patterns from it.
//
// Each logical database is a namespace under the platform prefix, `nexus:<namespace>:`, in both
// modes, so ACL key patterns can keep a user out of one (the read-only user cannot read sessions:
// Redis ACLs know keys, not database numbers). Standalone Redis also keeps the spec's numbered
// databases; Redis Cluster (and ElastiCache in cluster mode) has only database 0. The layout
// itself (which DB, which prefix, the ACL patterns) is built by engines/redis/keyspace.ts:
// `buildKeyspaceLayout(KEYSPACE, { cluster, keyPrefix })`.
// Data only: the engines' types, never their code (the lint rule keeps it so).
import type { KeyspaceDeclaration, KeyspaceLayout as GenericLayout, KeyspaceOptions, LogicalDatabase as GenericDatabase, LogicalDatabaseSpec } from "../engines/redis/keyspace";

export type { KeyspaceOptions, LogicalDatabaseSpec };

/** The platform's key prefix (config.toml `key_prefix`). */
export const DEFAULT_KEY_PREFIX = "nexus:";

/** The logical databases, by name, in the spec's order (the index is the standalone DB number). */
export const LOGICAL_DATABASES = {
  /** DB 0: session storage (the server-wide allkeys-lru policy applies); the read-only user cannot read it. */
  sessions: { index: 0, namespace: "session", ttlSeconds: undefined, description: "Session storage", private: true },
  /** DB 1: API rate limiting (counters, tiers, API key quotas). */
  rateLimit: { index: 1, namespace: "ratelimit", ttlSeconds: undefined, description: "API rate limiting" },
  /** DB 2: analysis results cache, entries live 24 h. */
  analysisCache: { index: 2, namespace: "analysis", ttlSeconds: 24 * 3600, description: "Analysis results cache" },
  /** DB 3: engine reputation cache. */
  reputationCache: { index: 3, namespace: "reputation", ttlSeconds: undefined, description: "Engine reputation cache" },
  /** DB 4: temporary file processing state, entries live 1 h. */
  tempFiles: { index: 4, namespace: "tmpfile", ttlSeconds: 3600, description: "Temporary file processing" },
  /** DB 5: WebSocket connection tracking. */
  websockets: { index: 5, namespace: "ws", ttlSeconds: undefined, description: "WebSocket connection tracking" },
} as const satisfies Record<string, LogicalDatabaseSpec>;

export type LogicalDatabaseName = keyof typeof LOGICAL_DATABASES;

export const LOGICAL_DATABASE_NAMES = Object.keys(LOGICAL_DATABASES) as LogicalDatabaseName[];

/** The pub/sub channels of the platform. Channel names carry no key prefix (the spec's names). */
export const CHANNELS = {
  analysisStarted: "analysis:started",
  analysisCompleted: "analysis:completed",
  consensusReached: "consensus:reached",
  paymentProcessed: "payment:processed",
  reputationUpdated: "reputation:updated",
} as const;

export type ChannelName = keyof typeof CHANNELS;

/** The platform's keyspace, as the engines take it. */
export const KEYSPACE: KeyspaceDeclaration<LogicalDatabaseName> = { defaultKeyPrefix: DEFAULT_KEY_PREFIX, databases: LOGICAL_DATABASES, channels: CHANNELS };

/** What each channel announces (the spec's words). */
export const CHANNEL_DESCRIPTIONS: Record<ChannelName, string> = {
  analysisStarted: "Analysis start notifications",
  analysisCompleted: "Analysis completion notifications",
  consensusReached: "Consensus achieved notifications",
  paymentProcessed: "Payment transaction notifications",
  reputationUpdated: "Reputation score updates",
};

/** The highest database number the layout uses in standalone mode. */
export const HIGHEST_DATABASE_INDEX = Math.max(...LOGICAL_DATABASE_NAMES.map((n) => LOGICAL_DATABASES[n].index));

export type KeyspaceLayout = GenericLayout<LogicalDatabaseName>;
export type LogicalDatabase = GenericDatabase<LogicalDatabaseName>;
