// The cache warmup, as data: which keys are loaded from which PostgreSQL query, into which logical
// database. The warmup engine (engines/redis/warmup.ts) runs it; the ACL renderer gives the warmup
// user exactly these key prefixes; the spec's hash is part of the warmup version, so changing a
// query or a prefix here re-warms on the next `pulumi up`.
//
// Each query returns two text columns: `key` (appended to the set's key prefix) and `value`
// (stored with SET, JSON built in SQL so the value format is visible here), and optionally
// `expires_at` (timestamptz: the entry expires then). Rows must be unique by key. Every key gets
// its logical database's TTL (see redis/layout.ts), or its own `expires_at` if that comes sooner.
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
      // Bounty matching and the engine pages read an engine's standing without a PostgreSQL hit.
      // engines.reputation_score is the copy of reputation_scores that the reputation trigger keeps.
      name: "engine-reputation",
      database: "reputationCache",
      keyPrefix: "engine:",
      query: `
        SELECT e.id::text AS key,
               json_build_object(
                 'id', e.id, 'slug', e.slug, 'name', e.name, 'type', e.engine_type, 'status', e.status,
                 'reputationScore', e.reputation_score, 'reputationTier', rs.tier_code, 'accuracy', rs.accuracy,
                 'analysesResolved', rs.analyses_resolved, 'analysesCorrect', rs.analyses_correct,
                 'maxConcurrentAnalyses', e.max_concurrent_analyses
               )::text AS value
          FROM engines e
          LEFT JOIN reputation_scores rs ON rs.engine_id = e.id
         WHERE e.status <> 'retired'`,
    },
    {
      // Active engines, best first: the candidate list bounty matching walks.
      name: "engine-ranking",
      database: "reputationCache",
      keyPrefix: "ranking:",
      query: `
        SELECT 'active' AS key,
               COALESCE(json_agg(json_build_object('id', e.id, 'score', e.reputation_score)
                                 ORDER BY e.reputation_score DESC, e.id), '[]')::text AS value
          FROM engines e
         WHERE e.status = 'active'`,
    },
    {
      name: "rate-limit-tiers",
      database: "rateLimit",
      keyPrefix: "tier:",
      query: `
        SELECT t.code AS key,
               json_build_object(
                 'name', t.name, 'requestsPerMinute', t.requests_per_minute, 'requestsPerHour', t.requests_per_hour,
                 'requestsPerDay', t.requests_per_day, 'burstSize', t.burst_size,
                 'maxConcurrentSubmissions', t.max_concurrent_submissions, 'maxFileSizeBytes', t.max_file_size_bytes,
                 'monthlySubmissionQuota', t.monthly_submission_quota, 'isDefault', t.is_default
               )::text AS value
          FROM api_rate_limit_tiers t`,
    },
    {
      // The gateway hashes the presented key and looks its limits up here; a key's cache entry
      // expires with the key itself (expires_at), so an expired key is not served from Redis.
      name: "api-key-quotas",
      database: "rateLimit",
      keyPrefix: "apikey:",
      query: `
        SELECT k.key_hash AS key,
               json_build_object(
                 'apiKeyId', k.api_key_id, 'userId', k.user_id, 'engineId', k.engine_id, 'tier', k.tier_code,
                 'requestsPerMinute', k.requests_per_minute, 'requestsPerHour', k.requests_per_hour,
                 'requestsPerDay', k.requests_per_day, 'burstSize', k.burst_size,
                 'maxConcurrentSubmissions', k.max_concurrent_submissions, 'maxFileSizeBytes', k.max_file_size_bytes,
                 'monthlySubmissionQuota', k.monthly_submission_quota, 'scopes', k.scopes
               )::text AS value,
               k.expires_at
          FROM api_key_rate_limits k`,
    },
    {
      // Verdicts reached in the last 24 h, by the SHA-256 of the file (or of the normalized URL):
      // a resubmitted sample is answered from the cache. Each entry expires 24 h after its consensus.
      name: "analysis-verdicts",
      database: "analysisCache",
      keyPrefix: "verdict:",
      query: `
        SELECT DISTINCT ON (COALESCE(f.sha256, s.url_sha256))
               COALESCE(f.sha256, s.url_sha256) AS key,
               json_build_object(
                 'bountyId', b.id, 'submissionId', s.id, 'verdict', c.final_verdict, 'confidence', c.confidence,
                 'agreementRatio', c.agreement_ratio, 'engines', c.participating_engines, 'reachedAt', c.reached_at
               )::text AS value,
               c.reached_at + interval '24 hours' AS expires_at
          FROM consensus_results c
          JOIN bounties b ON b.id = c.bounty_id
          JOIN submissions s ON s.id = b.submission_id
          LEFT JOIN file_artifacts f ON f.id = s.file_artifact_id
         WHERE c.reached_at > now() - interval '24 hours'
         ORDER BY COALESCE(f.sha256, s.url_sha256), c.reached_at DESC`,
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
