// The platform's MongoDB collections: validators (mongo/schemas/*.json), validation levels and the
// indexes, each next to the query it serves. Add an index here and nothing else; the reconciler
// (engines/mongo) works out what to send. TTL periods come from the stack's settings.
import type { CollectionDeclaration, CollectionValidator } from "../engines/mongo/declarations";
import analysisResults from "./schemas/analysis-results.json";
import consensusResults from "./schemas/consensus-results.json";
import engineStats from "./schemas/engine-stats.json";
import fileMetadata from "./schemas/file-metadata.json";
import sandboxReports from "./schemas/sandbox-reports.json";
import threatIndicators from "./schemas/threat-indicators.json";

/** How long expiring data is kept, in seconds. Set per stack (./settings.ts). */
export interface MongoTtlPeriods {
  /** engine_stats samples, counted from `ts`. */
  engineStatsSeconds: number;
  /** sandbox_reports, counted from `report_timestamp`. */
  sandboxReportsSeconds: number;
  /** threat_indicators, counted from `valid_until` (0: gone as soon as the validity ends). */
  threatIndicatorsAfterValiditySeconds: number;
}

export const DEFAULT_TTL_PERIODS: Readonly<MongoTtlPeriods> = {
  engineStatsSeconds: 30 * 24 * 3600,
  sandboxReportsSeconds: 90 * 24 * 3600,
  threatIndicatorsAfterValiditySeconds: 0,
};

export const COLLECTION_NAMES = [
  "analysis_results",
  "file_metadata",
  "engine_stats",
  "consensus_results",
  "threat_indicators",
  "sandbox_reports",
] as const;
export type CollectionName = (typeof COLLECTION_NAMES)[number];

/** The validator documents, by collection (also used by the offline schema tests). */
export const VALIDATORS: Record<CollectionName, CollectionValidator> = {
  analysis_results: analysisResults as CollectionValidator,
  file_metadata: fileMetadata as CollectionValidator,
  engine_stats: engineStats as CollectionValidator,
  consensus_results: consensusResults as CollectionValidator,
  threat_indicators: threatIndicators as CollectionValidator,
  sandbox_reports: sandboxReports as CollectionValidator,
};

/** The six collections with their validators and indexes, TTLs from `ttl` (defaults above). */
export function nexusCollections(ttl: Partial<MongoTtlPeriods> = {}): CollectionDeclaration[] {
  const t: MongoTtlPeriods = { ...DEFAULT_TTL_PERIODS, ...ttl };
  return [
    {
      name: "analysis_results",
      validator: VALIDATORS.analysis_results,
      validationLevel: "strict",
      validationAction: "error",
      indexes: [
        {
          serves: "one engine's result on one submission (an engine answers once per submission)",
          key: { submission_id: 1, engine_id: 1 },
          unique: true,
        },
        { serves: "all analyses of a file by hash, newest first", key: { sha256: 1, timestamp: -1 } },
        { serves: "an engine's analyses over time (engine history, reputation recalculation)", key: { engine_id: 1, timestamp: -1 } },
        {
          serves: "the most confident malicious verdicts (triage queue)",
          key: { confidence: -1, timestamp: -1 },
          name: "malicious_by_confidence",
          partialFilterExpression: { verdict: "malicious" },
        },
        {
          serves: "full-text search over analysis summaries and malware family names",
          key: { "details.summary": "text", "details.malware_family": "text" },
          name: "analysis_text",
          weights: { "details.malware_family": 5, "details.summary": 1 },
        },
      ],
    },
    {
      name: "file_metadata",
      validator: VALIDATORS.file_metadata,
      // Files recorded before the validator existed can still be updated.
      validationLevel: "moderate",
      validationAction: "error",
      indexes: [
        { serves: "a file by SHA-256 (its identity: one document per file)", key: { sha256: 1 }, unique: true },
        { serves: "a file by SHA-1 (feeds that only carry SHA-1)", key: { sha1: 1 } },
        { serves: "a file by MD5 (legacy feeds)", key: { md5: 1 } },
        { serves: "recent uploads of one file type", key: { file_type: 1, upload_timestamp: -1 } },
        {
          serves: "PE files sharing an import hash (clustering of a family's builds)",
          key: { "pe_info.imphash": 1 },
          partialFilterExpression: { "pe_info.imphash": { $exists: true } },
        },
      ],
    },
    {
      name: "engine_stats",
      validator: VALIDATORS.engine_stats,
      validationLevel: "strict",
      // A sample that misses the schema is logged, not lost: the stats feed must not stall.
      validationAction: "warn",
      indexes: [
        { serves: "an engine's stats history, newest first", key: { engine_id: 1, ts: -1 } },
        {
          serves: "expire samples after the retention period; samples in a time range",
          key: { ts: 1 },
          expireAfterSeconds: t.engineStatsSeconds,
        },
        { serves: "engine leaderboard by reputation", key: { reputation_score: -1 } },
      ],
    },
    {
      name: "consensus_results",
      validator: VALIDATORS.consensus_results,
      validationLevel: "strict",
      validationAction: "error",
      indexes: [
        { serves: "the consensus on a submission (one per submission)", key: { submission_id: 1 }, unique: true },
        { serves: "consensus verdicts on a file by hash, newest first", key: { sha256: 1, timestamp: -1 } },
        { serves: "recent verdicts of one kind (dashboard by verdict)", key: { final_verdict: 1, timestamp: -1 } },
      ],
    },
    {
      name: "threat_indicators",
      validator: VALIDATORS.threat_indicators,
      validationLevel: "strict",
      validationAction: "error",
      indexes: [
        {
          serves: "an indicator by type and value (its identity)",
          key: { indicator_type: 1, indicator_value: 1 },
          unique: true,
        },
        { serves: "an indicator by value, whatever its type (IOC search box)", key: { indicator_value: 1 } },
        { serves: "indicators of a malware family or campaign, by threat level", key: { tags: 1, threat_level: 1 } },
        { serves: "the newest critical and high indicators (feed export)", key: { threat_level: 1, last_seen: -1 } },
        {
          serves: "expire indicators past their validity",
          key: { valid_until: 1 },
          expireAfterSeconds: t.threatIndicatorsAfterValiditySeconds,
        },
      ],
    },
    {
      name: "sandbox_reports",
      validator: VALIDATORS.sandbox_reports,
      validationLevel: "strict",
      validationAction: "error",
      indexes: [
        { serves: "the sandbox reports of a submission", key: { submission_id: 1 } },
        { serves: "sandbox runs of a file by hash, newest first", key: { sha256: 1, report_timestamp: -1 } },
        { serves: "reports whose sample contacted a domain (pivot from a network IOC)", key: { "network_activity.domain": 1 } },
        {
          serves: "expire reports after the retention period",
          key: { report_timestamp: 1 },
          expireAfterSeconds: t.sandboxReportsSeconds,
        },
      ],
    },
  ];
}
