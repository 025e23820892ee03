// The cache warmup, as data: which keys are loaded from which PostgreSQL query, into which logical
// database. The warmup engine (engines/redis/warmup.ts) runs it; the ACL renderer gives the warmup
// user exactly these key prefixes; the spec's hash is part of the warmup version, so changing a
// query or a prefix here re-warms on the next `pulumi up`.
//
// Each query returns two text columns: `key` (appended to the set's key prefix) and `value`
// (stored with SET, JSON built in SQL so the value format is visible here). Rows must be unique by
// key. Every key gets its logical database's TTL (see redis/layout.ts).
import type { KeyspaceLayout, LogicalDatabaseName } from "./layout";

export interface WarmupSet {
  /** Stable name of the set, e.g. "engine-reputation"; shows up in counts and errors. */
  name: string;
  /** The logical database the keys go to. */
  database: LogicalDatabaseName;
  /** The sub-prefix inside the database's key prefix; the warmup owns every key under it. */
  keyPrefix: string;
  /** SQL returning `key text, value text`, one row per key. */
  query: string;
}

export interface WarmupSpec {
  /** Bump to force a re-warm everywhere without a data change. */
  revision: number;
  sets: WarmupSet[];
}

/** The marker key's name inside each warmed logical database. Written last, after all keys. */
export const WARMUP_MARKER = "warmup:marker";

export const WARMUP_SPEC: WarmupSpec = {
  revision: 1,
  sets: [
    {
      name: "engine-reputation",
      database: "reputationCache",
      keyPrefix: "engine:",
      query: `
        SELECT e.id::text AS key,
               json_build_object(
                 'id', e.id, 'name', e.name, 'type', e.engine_type, 'status', e.status,
                 'reputation', rs.overall_score, 'accuracy', rs.accuracy_score,
                 'updatedAt', rs.updated_at
               )::text AS value
          FROM engines e
          LEFT JOIN reputation_scores rs ON rs.engine_id = e.id
         ORDER BY e.id`,
    },
    {
      name: "rate-limit-tiers",
      database: "rateLimit",
      keyPrefix: "tier:",
      query: `
        SELECT t.name AS key,
               json_build_object('requestsPerMinute', t.requests_per_minute, 'requestsPerDay', t.requests_per_day)::text AS value
          FROM rate_limit_tiers t
         ORDER BY t.name`,
    },
    {
      name: "api-key-quotas",
      database: "rateLimit",
      keyPrefix: "apikey:",
      query: `
        SELECT k.id::text AS key,
               json_build_object('userId', k.user_id, 'tier', k.rate_limit_tier)::text AS value
          FROM api_keys k
         WHERE k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
         ORDER BY k.id`,
    },
  ],
};

/** The key prefix a warmup set owns, in the given layout. */
export function warmupSetPrefix(set: WarmupSet, layout: KeyspaceLayout): string {
  if (!/^[A-Za-z0-9_.-]+:$/.test(set.keyPrefix)) {
    // Glob characters would widen the warmup user's ACL pattern and the stale-key scan.
    throw new Error(`warmup set "${set.name}": keyPrefix ${JSON.stringify(set.keyPrefix)} must be letters, digits, '_', '.', '-' ending with ':'`);
  }
  return layout.database(set.database).keyPrefix + set.keyPrefix;
}

/** The logical databases a warmup spec writes to, each once, in spec order. */
export function warmupDatabases(spec: WarmupSpec): LogicalDatabaseName[] {
  return [...new Set(spec.sets.map((s) => s.database))];
}

/** ACL key patterns (without `~`) covering the warmup's keys and markers — and nothing else. */
export function warmupKeyPatterns(spec: WarmupSpec, layout: KeyspaceLayout): string[] {
  const patterns = spec.sets.map((s) => `${warmupSetPrefix(s, layout)}*`);
  for (const db of warmupDatabases(spec)) patterns.push(layout.database(db).key(WARMUP_MARKER));
  return [...new Set(patterns)];
}
