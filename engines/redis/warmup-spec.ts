// What a cache warmup is given, and the keys it keeps beside the data it loads. The platform's
// own spec lives in redis/warmup.ts and is passed in by the callers.
import type { KeyspaceLayout } from "./keyspace";

export interface WarmupSet<N extends string = string> {
  /** Stable name of the set, e.g. "engine-reputation"; shows up in counts and errors. */
  name: string;
  /** The logical database the keys go to. */
  database: N;
  /** The sub-prefix inside the database's key prefix; the warmup owns every key under it. */
  keyPrefix: string;
  /** SQL returning `key text, value text` (and optionally `expires_at timestamptz`), one row per key. */
  query: string;
  /** How a re-warm finds the keys whose rows may have changed, instead of comparing every row (changes.ts). Default: none. */
  changes?: ChangeTracking;
}

/**
 * The keys of a set whose rows may have changed since its last complete warm, found through
 * PostgreSQL's row versions: a row inserted or updated since has `age(<table>.xmin) <= $1`, $1
 * being the age of the horizon that warm recorded (engines/redis/changes.ts).
 */
export interface ChangeTracking {
  /**
   * SQL returning one text column `key`: at least every key whose row may have been inserted or
   * updated since — one `age(<alias>.xmin) <= $1` condition per table the set's query reads (more
   * keys cost time, never correctness). Deleted rows have no version to find: a deleted row of the
   * set shows in the set's row count, which the re-warm checks.
   */
  keys: string;
  /**
   * Other tables whose deleted rows change a value while its key stays (e.g. the right side of a
   * LEFT JOIN): a re-warm compares every row when one of them lost (or changed) a row written
   * before the last complete warm. Default none.
   */
  deletable?: string[];
}

export interface WarmupSpec<N extends string = string> {
  /** Bump to force a re-warm everywhere without a data change. */
  revision: number;
  sets: WarmupSet<N>[];
}

/**
 * The warmup's own keys live under `warmup:` inside each warmed logical database: the marker
 * (written last), the per-set row digests (for incremental re-warms), and the lock (in the first
 * database of the spec).
 */
export const WARMUP_KEYS = { marker: "warmup:marker", lock: "warmup:lock", digests: "warmup:digests:" } as const;
/** The marker key's name inside each warmed logical database. */
export const WARMUP_MARKER = WARMUP_KEYS.marker;

const SUB_PREFIX = /^[A-Za-z0-9_.-]+:$/;

/** The key prefix a warmup set owns, in the given layout. */
export function warmupSetPrefix<N extends string>(set: WarmupSet<N>, layout: KeyspaceLayout<N>): string {
  if (!SUB_PREFIX.test(set.keyPrefix)) {
    // Glob characters would widen the warmup user's ACL pattern and the stale-key scan.
    throw new Error(`warmup set "${set.name}": keyPrefix ${JSON.stringify(set.keyPrefix)} must be letters, digits, '_', '.', '-' ending with ':'`);
  }
  if (set.keyPrefix === "warmup:") throw new Error(`warmup set "${set.name}": keyPrefix "warmup:" is where the warmup keeps its marker, lock and digests`);
  return layout.database(set.database).keyPrefix + set.keyPrefix;
}

/** The logical databases a warmup spec writes to, each once, in spec order. */
export function warmupDatabases<N extends string>(spec: WarmupSpec<N>): N[] {
  return [...new Set(spec.sets.map((s) => s.database))];
}

/** Where the warmup keeps its own keys in one logical database (`<db prefix>warmup:`). */
export function warmupStatePrefix<N extends string>(layout: KeyspaceLayout<N>, database: N): string {
  return layout.database(database).key("warmup") + ":";
}

/** The marker key of a logical database. */
export function markerKey<N extends string>(layout: KeyspaceLayout<N>, database: N): string {
  return layout.database(database).key(WARMUP_KEYS.marker);
}

/** The lock key of a warmup: one per target (server or cluster) and key prefix. */
export function lockKey<N extends string>(spec: WarmupSpec<N>, layout: KeyspaceLayout<N>): string {
  const first = warmupDatabases(spec)[0];
  if (first === undefined) throw new Error("warmup spec: no sets");
  return layout.database(first).key(WARMUP_KEYS.lock);
}

/** Where a set's row digests live: `<db prefix>warmup:digests:<set>:` then `<slot>:<bucket>` (digests.ts). */
export function digestPrefix<N extends string>(set: WarmupSet<N>, layout: KeyspaceLayout<N>): string {
  return layout.database(set.database).key(`${WARMUP_KEYS.digests}${set.name}:`);
}

/** The key of one bucket of a set's row digests. */
export function digestKey<N extends string>(set: WarmupSet<N>, layout: KeyspaceLayout<N>, slot: string, bucket: number): string {
  return `${digestPrefix(set, layout)}${slot}:${bucket}`;
}

/** A family of keys the warmup owns: a set's keys, or (no `set`) a database's state keys — marker, lock, digests. */
export interface WarmupKeyFamily<N extends string> {
  database: N;
  /** Every key of the family starts with it. */
  prefix: string;
  set?: WarmupSet<N>;
}

/** Every key the warmup writes, by family: each set's, then the state keys of each database it writes to. */
export function warmupKeyFamilies<N extends string>(spec: WarmupSpec<N>, layout: KeyspaceLayout<N>): WarmupKeyFamily<N>[] {
  const families: WarmupKeyFamily<N>[] = spec.sets.map((s) => ({ database: s.database, prefix: warmupSetPrefix(s, layout), set: s }));
  for (const db of warmupDatabases(spec)) families.push({ database: db, prefix: warmupStatePrefix(layout, db) });
  return families;
}

/** ACL key patterns (without `~`) covering the warmup's keys, marker, digests and lock — and nothing else. */
export function warmupKeyPatterns<N extends string>(spec: WarmupSpec<N>, layout: KeyspaceLayout<N>): string[] {
  return [...new Set(warmupKeyFamilies(spec, layout).map((f) => `${f.prefix}*`))];
}
