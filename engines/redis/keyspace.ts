// The keyspace layout, generic over its declaration: logical databases (a number in standalone
// mode, a namespace in both), channels, a key prefix. The platform's own declaration lives in
// redis/layout.ts and is passed in by the callers; this module knows none of its names.
//
// Every key of a logical database starts with `<prefix><namespace>:` in both modes, so ACL key
// patterns can tell the databases apart (Redis ACLs know keys, not database numbers). Standalone
// Redis also keeps each logical database in its own numbered DB; Redis Cluster (and ElastiCache in
// cluster mode) has only DB 0.

/** One logical database of a declaration. */
export interface LogicalDatabaseSpec {
  /** The database number in standalone mode. */
  index: number;
  /** The key namespace of this logical database: its keys start with `<prefix><namespace>:`. */
  namespace: string;
  /** The TTL every entry of this database gets, or undefined when entries live until evicted. */
  ttlSeconds: number | undefined;
  description: string;
  /** Holds what support staff must not read (sessions): the read-only user gets no pattern for it. Default false. */
  private?: boolean;
}

/** What a keyspace is made of: the logical databases by name, and the pub/sub channels. */
export interface KeyspaceDeclaration<N extends string = string> {
  /** The key prefix when the options give none (e.g. `nexus:`). */
  defaultKeyPrefix: string;
  databases: Record<N, LogicalDatabaseSpec>;
  /** Channel names by role; they carry no key prefix. */
  channels: Record<string, string>;
}

export interface KeyspaceOptions {
  /** Redis Cluster (the backend's `enable_cluster`): DB 0 only. Default false. */
  cluster?: boolean;
  /** The platform key prefix. Default: the declaration's `defaultKeyPrefix`. */
  keyPrefix?: string;
}

/** Where one logical database lives: which DB to SELECT and what every key starts with. */
export interface LogicalDatabase<N extends string = string> {
  name: N;
  /** The database number to SELECT (always 0 in cluster mode). */
  db: number;
  /** Every key of this logical database starts with this. */
  keyPrefix: string;
  /** The TTL of every entry, or undefined. */
  ttlSeconds: number | undefined;
  /** Whether the read-only user is kept out. */
  private: boolean;
  /** The full key for the given parts, joined with `:`, e.g. `key("engine", 7)`. */
  key(...parts: (string | number)[]): string;
  /** The ACL key pattern that covers this logical database, e.g. `nexus:session:*`. */
  aclKeyPattern: string;
}

export interface KeyspaceLayout<N extends string = string> {
  cluster: boolean;
  keyPrefix: string;
  databases: Record<N, LogicalDatabase<N>>;
  /** The logical database names, in declaration order. */
  names: N[];
  /** One logical database by name. */
  database(name: N): LogicalDatabase<N>;
  channels: Record<string, string>;
  /** The ACL key patterns (without `~`) that cover the given logical databases, deduplicated. */
  aclKeyPatterns(names?: readonly N[]): string[];
  /** The ACL channel patterns (without `&`) of the channels. */
  aclChannelPatterns(): string[];
  /** The smallest `databases` setting this layout needs. */
  requiredDatabases: number;
}

const PREFIX_SHAPE = /^[A-Za-z0-9_.-]+:$/;
const NAMESPACE_SHAPE = /^[A-Za-z0-9_.-]+$/;

/** The highest standalone database number a declaration uses. */
export function highestDatabaseIndex(decl: KeyspaceDeclaration): number {
  return Math.max(...Object.values(decl.databases).map((d) => d.index));
}

/** The keyspace layout of a declaration, for standalone or cluster mode. */
export function buildKeyspaceLayout<N extends string>(decl: KeyspaceDeclaration<N>, options: KeyspaceOptions = {}): KeyspaceLayout<N> {
  const cluster = options.cluster ?? false;
  const keyPrefix = options.keyPrefix ?? decl.defaultKeyPrefix;
  if (!PREFIX_SHAPE.test(keyPrefix)) {
    // Glob characters would widen the ACL patterns; an empty prefix would cover every key.
    throw new Error(`redis key prefix ${JSON.stringify(keyPrefix)} must be letters, digits, '_', '.', '-' and end with ':' (e.g. "nexus:")`);
  }
  const names = Object.keys(decl.databases) as N[];
  const databases = {} as Record<N, LogicalDatabase<N>>;
  const seen = new Map<string, string>();
  for (const name of names) {
    const spec: LogicalDatabaseSpec = decl.databases[name];
    if (!NAMESPACE_SHAPE.test(spec.namespace)) throw new Error(`logical Redis database "${name}": namespace ${JSON.stringify(spec.namespace)} must be letters, digits, '_', '.', '-'`);
    const other = seen.get(spec.namespace);
    if (other) throw new Error(`logical Redis databases "${other}" and "${name}" share the namespace "${spec.namespace}"`);
    seen.set(spec.namespace, name);
    const prefix = `${keyPrefix}${spec.namespace}:`;
    databases[name] = {
      name,
      db: cluster ? 0 : spec.index,
      keyPrefix: prefix,
      ttlSeconds: spec.ttlSeconds,
      private: spec.private ?? false,
      key: (...parts) => prefix + parts.map(String).join(":"),
      aclKeyPattern: `${prefix}*`,
    };
  }
  return {
    cluster,
    keyPrefix,
    databases,
    names,
    database(name) {
      const d = databases[name];
      if (!d) throw new Error(`unknown logical Redis database "${String(name)}" (known: ${names.join(", ")})`);
      return d;
    },
    channels: decl.channels,
    aclKeyPatterns: (which = names) => [...new Set(which.map((n) => databases[n].aclKeyPattern))],
    aclChannelPatterns: () => Object.values(decl.channels),
    requiredDatabases: cluster ? 1 : highestDatabaseIndex(decl) + 1,
  };
}
