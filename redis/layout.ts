// The Redis keyspace of the platform, as the spec lays it out: six logical databases, one key
// prefix, five pub/sub channels. This is the one module the platform's code imports to find a
// key; the config renderer, the ACL users and the cache warmup derive their patterns from it.
//
// Standalone Redis keeps the spec's numbered databases, every key under `nexus:`. Redis Cluster
// (and ElastiCache in cluster mode) has only database 0, so there each logical database becomes a
// key namespace of its own, `nexus:<namespace>:`, on DB 0 — behind the same API.

/** The logical databases, by name, in the spec's order (the index is the standalone DB number). */
export const LOGICAL_DATABASES = {
  /** DB 0: session storage (the server-wide allkeys-lru policy applies). */
  sessions: { index: 0, namespace: "session", ttlSeconds: undefined, description: "Session storage" },
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

export interface LogicalDatabaseSpec {
  /** The database number in standalone mode. */
  index: number;
  /** The key namespace that stands in for the database number in cluster mode. */
  namespace: string;
  /** The TTL every entry of this database gets, or undefined when entries live until evicted. */
  ttlSeconds: number | undefined;
  description: string;
}

export type LogicalDatabaseName = keyof typeof LOGICAL_DATABASES;

export const LOGICAL_DATABASE_NAMES = Object.keys(LOGICAL_DATABASES) as LogicalDatabaseName[];

/** The platform's key prefix (config.toml `key_prefix`). */
export const DEFAULT_KEY_PREFIX = "nexus:";

/** The pub/sub channels of the platform. Channel names carry no key prefix (the spec's names). */
export const CHANNELS = {
  analysisStarted: "analysis:started",
  analysisCompleted: "analysis:completed",
  consensusReached: "consensus:reached",
  paymentProcessed: "payment:processed",
  reputationUpdated: "reputation:updated",
} as const;

export type ChannelName = keyof typeof CHANNELS;

/** The highest database number the layout uses in standalone mode. */
export const HIGHEST_DATABASE_INDEX = Math.max(...LOGICAL_DATABASE_NAMES.map((n) => LOGICAL_DATABASES[n].index));

export interface KeyspaceOptions {
  /** Redis Cluster (the backend's `enable_cluster`): one database, a namespace per logical DB. Default false. */
  cluster?: boolean;
  /** The platform key prefix. Default `nexus:`. */
  keyPrefix?: string;
}

/** Where one logical database lives: which DB to SELECT and what every key starts with. */
export interface LogicalDatabase {
  name: LogicalDatabaseName;
  /** The database number to SELECT (always 0 in cluster mode). */
  db: number;
  /** Every key of this logical database starts with this. */
  keyPrefix: string;
  /** The TTL of every entry, or undefined. */
  ttlSeconds: number | undefined;
  /** The full key for the given parts, joined with `:`, e.g. `key("engine", 7)`. */
  key(...parts: (string | number)[]): string;
  /** The ACL key pattern that covers this logical database, e.g. `nexus:*`. */
  aclKeyPattern: string;
}

export interface KeyspaceLayout {
  cluster: boolean;
  keyPrefix: string;
  databases: Record<LogicalDatabaseName, LogicalDatabase>;
  /** One logical database by name. */
  database(name: LogicalDatabaseName): LogicalDatabase;
  channels: typeof CHANNELS;
  /** The ACL key patterns (without `~`) that cover the given logical databases, deduplicated. */
  aclKeyPatterns(names?: readonly LogicalDatabaseName[]): string[];
  /** The ACL channel patterns (without `&`) of the platform's channels. */
  aclChannelPatterns(): string[];
  /** The smallest `databases` setting this layout needs. */
  requiredDatabases: number;
}

const PREFIX_SHAPE = /^[A-Za-z0-9_.-]+:$/;

/** The keyspace layout for standalone or cluster mode. */
export function keyspaceLayout(options: KeyspaceOptions = {}): KeyspaceLayout {
  const cluster = options.cluster ?? false;
  const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (!PREFIX_SHAPE.test(keyPrefix)) {
    // Glob characters would widen the ACL patterns; an empty prefix would cover every key.
    throw new Error(`redis key prefix ${JSON.stringify(keyPrefix)} must be letters, digits, '_', '.', '-' and end with ':' (e.g. "nexus:")`);
  }
  const databases = {} as Record<LogicalDatabaseName, LogicalDatabase>;
  for (const name of LOGICAL_DATABASE_NAMES) {
    const spec: LogicalDatabaseSpec = LOGICAL_DATABASES[name];
    const prefix = cluster ? `${keyPrefix}${spec.namespace}:` : keyPrefix;
    databases[name] = {
      name,
      db: cluster ? 0 : spec.index,
      keyPrefix: prefix,
      ttlSeconds: spec.ttlSeconds,
      key: (...parts) => prefix + parts.map(String).join(":"),
      aclKeyPattern: `${prefix}*`,
    };
  }
  return {
    cluster,
    keyPrefix,
    databases,
    database: (name) => {
      const d = databases[name];
      if (!d) throw new Error(`unknown logical Redis database "${String(name)}" (known: ${LOGICAL_DATABASE_NAMES.join(", ")})`);
      return d;
    },
    channels: CHANNELS,
    aclKeyPatterns: (names = LOGICAL_DATABASE_NAMES) => [...new Set(names.map((n) => databases[n].aclKeyPattern))],
    aclChannelPatterns: () => Object.values(CHANNELS),
    requiredDatabases: cluster ? 1 : HIGHEST_DATABASE_INDEX + 1,
  };
}
