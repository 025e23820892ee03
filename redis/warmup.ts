// The cache warmup, as data: which keys are loaded from which PostgreSQL query, into which logical
// database. The warmup engine (engines/redis/warmup.ts) runs it; the ACL renderer gives the warmup
// user exactly these key prefixes; the spec's hash is part of the warmup version, so changing a
// query or a prefix here re-warms on the next `pulumi up`.
//
// Each query returns two text columns: `key` (appended to the set's key prefix) and `value`
// (stored with SET, JSON built in SQL so the value format is visible here), and optionally
// `expires_at` (timestamptz: the entry expires then). Rows must be unique by key. Every key gets
// its logical database's TTL (see redis/layout.ts), or its own `expires_at` if that comes sooner.
//
// `changes.keys` (optional) lets a re-warm read only the rows that may have changed since the last
// complete warm instead of hashing every row: the keys of rows written since (`age(<alias>.xmin)
// <= $1`), one condition per table the query reads. Deleted rows have no version: a deleted row
// of the set shows in its row count, but a deleted row that changes another key's value (the
// right side of a LEFT JOIN) must be listed in `changes.deletable`, and a set whose rows change
// in ways neither can see (an aggregate over many rows) declares none. Large sets want an index
// on their key expression: the changed rows are looked up by key.
import type { WarmupSet as GenericSet, WarmupSpec as GenericSpec } from "../engines/redis/warmup-spec";
import type { LogicalDatabaseName } from "./layout";

export type WarmupSet = GenericSet<LogicalDatabaseName>;
export type WarmupSpec = GenericSpec<LogicalDatabaseName>;

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
      // A deleted reputation_scores row would empty an engine's standing without a new row
      // version: deletable, so such a re-warm (and one after any score update) compares every row.
      changes: {
        keys: `
          SELECT e.id::text AS key FROM engines e WHERE age(e.xmin) <= $1
          UNION ALL
          SELECT rs.engine_id::text FROM reputation_scores rs WHERE rs.engine_id IS NOT NULL AND age(rs.xmin) <= $1`,
        deletable: ["reputation_scores"],
      },
    },
    {
      // Active engines, best first: the candidate list bounty matching walks. No change tracking:
      // its one key aggregates every active engine, so a deleted engine changes it without a new
      // row version or a change in the set's row count.
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
      changes: { keys: `SELECT t.code AS key FROM api_rate_limit_tiers t WHERE age(t.xmin) <= $1` },
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
      // The view reads api_keys, their tier and their user (an engine only through a LEFT JOIN
      // that filters nothing). Keys that expire leave the view without a row version: the count
      // sees them, and that re-warm compares every row.
      changes: {
        keys: `
          SELECT k.key_hash AS key
            FROM api_keys k
            JOIN api_rate_limit_tiers t ON t.code = k.tier_code
            JOIN users u ON u.id = k.user_id
           WHERE age(k.xmin) <= $1 OR age(t.xmin) <= $1 OR age(u.xmin) <= $1`,
      },
    },
    {
      // Verdicts reached in the last 24 h, by the SHA-256 of the file (or of the normalized URL):
      // a resubmitted sample is answered from the cache. Each entry expires 24 h after its consensus.
      // No change tracking: a key's value is the latest of several verdicts, so a deleted one can
      // change it without a new row version or a change in the set's row count.
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
