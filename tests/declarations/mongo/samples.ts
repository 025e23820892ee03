// Good and bad documents per collection, as the platform's services write them through the Node
// driver. Each bad one breaks exactly one rule, named in its label.
import { Decimal128, Long, ObjectId } from "mongodb";
import type { CollectionName } from "../../../mongo/collections";

const sha = (c: string) => c.repeat(64).slice(0, 64);
const t = new Date("2025-03-01T12:00:00Z");

export interface Sample {
  label: string;
  doc: Record<string, unknown>;
  /** A bad sample that breaks one declared rule only: its name as the plan gives it (see engines/mongo/dialect.ts). */
  rule?: string;
}

const analysis = {
  submission_id: "3f2c1a9e-6d1b-4c55-9a0e-2b7a1c9d8e01",
  sha256: sha("a"),
  engine_id: "engine-yara-01",
  verdict: "malicious",
  confidence: 0.93,
  timestamp: t,
};
const file = { sha256: sha("b"), file_type: "application/x-dosexec", file_size: 73_728, upload_timestamp: t };
const stats = { engine_id: "engine-yara-01", ts: t, total_analyses: 1200, accuracy_rate: 0.97 };
const consensus = { submission_id: analysis.submission_id, sha256: sha("a"), final_verdict: "malicious", confidence_score: 0.88, timestamp: t };
const indicator = { indicator_type: "domain", indicator_value: "evil.example", threat_level: "high", first_seen: t };
const sandbox = { submission_id: analysis.submission_id, sha256: sha("a"), execution_time: 120, report_timestamp: t };

const without = (o: Record<string, unknown>, k: string) => Object.fromEntries(Object.entries(o).filter(([x]) => x !== k));

export const GOOD: Record<CollectionName, Sample[]> = {
  analysis_results: [
    { label: "minimal", doc: analysis },
    { label: "integral confidence 1 (sent as int32)", doc: { ...analysis, confidence: 1 } },
    {
      label: "full, with ObjectId, stake and free-form details",
      doc: {
        _id: new ObjectId(),
        ...analysis,
        verdict: "suspicious",
        engine_version: "4.2.1",
        stake_amount: Decimal128.fromString("12.50"),
        duration_ms: 5400,
        details: { summary: "Drops a scheduled task", malware_family: "AgentTesla", signatures: ["T1053"], anything: { nested: [1, 2] } },
      },
    },
  ],
  file_metadata: [
    { label: "minimal", doc: file },
    { label: "size above 2 GiB as a Long", doc: { ...file, file_size: Long.fromNumber(5_000_000_000) } },
    {
      label: "PE with hashes, sections and imports",
      doc: {
        ...file,
        md5: "d41d8cd98f00b204e9800998ecf8427e",
        sha1: "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        file_names: ["invoice.exe"],
        pe_info: { imphash: "f34d5f2d4577ed6d9ceec516c1f5a744", machine: "AMD64", compile_time: t, sections: [{ name: ".text", entropy: 6.1 }] },
        imports: ["kernel32.dll!CreateFileW"],
        strings: ["http://evil.example/gate.php"],
      },
    },
  ],
  engine_stats: [
    { label: "minimal", doc: stats },
    { label: "with reputation and earnings", doc: { ...stats, engine_type: "ml", reputation_score: 87.5, correct_analyses: 1164, total_earnings: 14.2, avg_latency_ms: 830 } },
    { label: "perfect accuracy as int 1", doc: { ...stats, accuracy_rate: 1 } },
  ],
  consensus_results: [
    { label: "minimal", doc: consensus },
    { label: "with votes", doc: { ...consensus, participating_engines: ["e1", "e2", "e3"], vote_distribution: { malicious: 2, benign: 1 } } },
    { label: "unknown verdict from bounty", doc: { ...consensus, final_verdict: "unknown", confidence_score: 0, bounty_id: "b-77" } },
  ],
  threat_indicators: [
    { label: "minimal", doc: indicator },
    { label: "hash with validity and tags", doc: { ...indicator, indicator_type: "hash", indicator_value: sha("c"), valid_until: t, tags: ["Emotet"], related_sha256: [sha("c")] } },
    { label: "registry key, info level", doc: { ...indicator, indicator_type: "registry_key", indicator_value: "HKCU\\Run\\x", threat_level: "info", source: "sandbox" } },
  ],
  sandbox_reports: [
    { label: "minimal", doc: sandbox },
    {
      label: "with network activity and process tree",
      doc: { ...sandbox, sandbox: "cape-win10", network_activity: [{ protocol: "tcp", domain: "evil.example", ip: "203.0.113.7", port: 443 }], process_tree: { pid: 1, children: [] } },
    },
    { label: "empty activity lists", doc: { ...sandbox, file_operations: [], registry_operations: [], screenshots: [] } },
  ],
};

export const BAD: Record<CollectionName, Sample[]> = {
  analysis_results: [
    { label: "missing verdict", doc: without(analysis, "verdict") },
    { label: "verdict outside the enum", doc: { ...analysis, verdict: "evil" } },
    { label: "confidence above 1", doc: { ...analysis, confidence: 1.5 } },
    { label: "timestamp as an ISO string, not a date", doc: { ...analysis, timestamp: t.toISOString() } },
    { label: "upper-case sha256", doc: { ...analysis, sha256: sha("A") } },
    { label: "details not an object", doc: { ...analysis, details: "see log" } },
  ],
  file_metadata: [
    { label: "missing sha256", doc: without(file, "sha256") },
    { label: "size above 2 GiB as a plain JS number (stored as double)", doc: { ...file, file_size: 5_000_000_000 } },
    { label: "negative size", doc: { ...file, file_size: -1 } },
    { label: "md5 of the wrong length", doc: { ...file, md5: "abc" } },
    { label: "PE section without a name", doc: { ...file, pe_info: { sections: [{ entropy: 3 }] } } },
  ],
  engine_stats: [
    { label: "missing ts", doc: without(stats, "ts") },
    { label: "accuracy as a percentage", doc: { ...stats, accuracy_rate: 97 } },
    { label: "fractional analysis count", doc: { ...stats, total_analyses: 12.5 } },
    { label: "unknown engine type", doc: { ...stats, engine_type: "oracle" } },
    { label: "reputation above 100", doc: { ...stats, reputation_score: 101 } },
  ],
  consensus_results: [
    { label: "missing final verdict", doc: without(consensus, "final_verdict") },
    { label: "no participating engines", doc: { ...consensus, participating_engines: [] } },
    { label: "negative vote count", doc: { ...consensus, vote_distribution: { malicious: -1 } }, rule: "consensus_results.vote_distribution.additionalProperties" },
    { label: "confidence as a string", doc: { ...consensus, confidence_score: "0.9" } },
  ],
  threat_indicators: [
    { label: "missing indicator value", doc: without(indicator, "indicator_value") },
    { label: "unknown indicator type", doc: { ...indicator, indicator_type: "asn" } },
    { label: "empty value", doc: { ...indicator, indicator_value: "" } },
    { label: "tags as a comma string", doc: { ...indicator, tags: "Emotet,Trickbot" } },
    { label: "valid_until as epoch millis", doc: { ...indicator, valid_until: t.getTime() } },
  ],
  sandbox_reports: [
    { label: "missing report timestamp", doc: without(sandbox, "report_timestamp") },
    { label: "execution time as a double", doc: { ...sandbox, execution_time: 12.7 } },
    { label: "port out of range", doc: { ...sandbox, network_activity: [{ port: 70000 }] } },
    { label: "screenshots not an array", doc: { ...sandbox, screenshots: "s3://x" } },
  ],
};
