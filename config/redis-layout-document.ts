// The keyspace layout as data, for services in any language: `nexus-db redis layout --json` and
// the stack output `redisLayout` print this document; redis/keyspace-layout.schema.json is its
// JSON Schema. Built from redis/layout.ts (databases, prefixes, TTLs, channels) and
// redis/warmup.ts (the keys the warmup owns), so it cannot say anything they do not.
import { buildKeyspaceLayout, type KeyspaceOptions } from "../engines/redis/keyspace";
import { warmupKeyFamilies } from "../engines/redis/warmup-spec";
import { CHANNEL_DESCRIPTIONS, CHANNELS, KEYSPACE, LOGICAL_DATABASE_NAMES, LOGICAL_DATABASES, type ChannelName, type KeyspaceLayout, type LogicalDatabaseName } from "../redis/layout";
import { WARMUP_SPEC, type WarmupSpec } from "../redis/warmup";

/** The platform's keyspace layout (standalone unless `cluster`). */
export function keyspaceLayout(options: KeyspaceOptions = {}): KeyspaceLayout {
  return buildKeyspaceLayout(KEYSPACE, options);
}

/** Bumped when the document's shape changes incompatibly (the schema's `formatVersion` const). */
export const LAYOUT_FORMAT_VERSION = 1;
export const LAYOUT_SCHEMA_FILE = "redis/keyspace-layout.schema.json";

export interface LayoutKey {
  /** The full key, with `{…}` standing for the variable part. */
  pattern: string;
  description: string;
}

export interface LayoutDatabase {
  name: LogicalDatabaseName;
  description: string;
  /** The database to SELECT (0 for every logical database in cluster mode). */
  db: number;
  /** Every key of this logical database starts with this. */
  keyPrefix: string;
  /** The glob covering its keys (the ACL pattern). */
  keyPattern: string;
  /** The TTL every entry gets, or null when entries live until evicted. */
  ttlSeconds: number | null;
  /** Its number in standalone mode, and its key prefix in cluster mode (whichever mode this document is in). */
  standaloneDb: number;
  clusterKeyPrefix: string;
  /** Keys the layer itself writes here (the cache warmup); the services own the rest of the prefix. */
  keys: LayoutKey[];
}

export interface LayoutDocument {
  formatVersion: typeof LAYOUT_FORMAT_VERSION;
  mode: "standalone" | "cluster";
  keyPrefix: string;
  /** The smallest `databases` setting the layout needs. */
  requiredDatabases: number;
  databases: LayoutDatabase[];
  /** Pub/sub channels; their names carry no key prefix. */
  channels: { name: ChannelName; channel: string; description: string }[];
}

export function layoutDocument(layout: KeyspaceLayout, warmup: WarmupSpec = WARMUP_SPEC): LayoutDocument {
  const cluster = keyspaceLayout({ cluster: true, keyPrefix: layout.keyPrefix });
  return {
    formatVersion: LAYOUT_FORMAT_VERSION,
    mode: layout.cluster ? "cluster" : "standalone",
    keyPrefix: layout.keyPrefix,
    requiredDatabases: layout.requiredDatabases,
    databases: LOGICAL_DATABASE_NAMES.map((name) => {
      const d = layout.database(name);
      // The same families the warmup user's ACL patterns come from (warmupKeyPatterns).
      const keys: LayoutKey[] = warmupKeyFamilies(warmup, layout)
        .filter((f) => f.database === name)
        .map((f) => ({
          pattern: `${f.prefix}{key}`,
          description: f.set
            ? `cache warmup set "${f.set.name}", loaded from PostgreSQL by \`pulumi up\` (owned by the layer)`
            : "the warmup's version marker, lock and row digests (owned by the layer)",
        }));
      return {
        name,
        description: LOGICAL_DATABASES[name].description,
        db: d.db,
        keyPrefix: d.keyPrefix,
        keyPattern: d.aclKeyPattern,
        ttlSeconds: d.ttlSeconds ?? null,
        standaloneDb: LOGICAL_DATABASES[name].index,
        clusterKeyPrefix: cluster.database(name).keyPrefix,
        keys,
      };
    }),
    channels: (Object.keys(CHANNELS) as ChannelName[]).map((name) => ({ name, channel: CHANNELS[name], description: CHANNEL_DESCRIPTIONS[name] })),
  };
}
