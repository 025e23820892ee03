// `nexus-db stats`: sizes, index use, bloat estimate, hit ratios and slow statements of the stores;
// human tables by default, --json for machines. Reads only.
import * as path from "node:path";
import { collectStats, type Stats } from "../engines/ops/stats";
import { parseOptions } from "./args";
import { fail, humanBytes, resolveTargets, table, TARGET_OPTIONS, TARGET_USAGE, UsageError } from "./targets";

const PROJECT = path.resolve(__dirname, "..");

const USAGE = `usage: nexus-db stats (--stack S | --env | --url URL…) [--top N] [--json]
  PostgreSQL: table and index sizes, unused and duplicate indexes, dead-tuple bloat estimate,
  cache hit ratios, the slowest statements (when pg_stat_statements is installed).
  MongoDB: db.stats() and each collection's stats. Redis: INFO memory, keyspace per database, hit rate.
${TARGET_USAGE}
options:
  --top N                   slowest statements shown (default 10)
  --json                    print everything as JSON`;

export async function runStats(args: string[]): Promise<number> {
  const parsed = parseOptions("stats", args, { ...TARGET_OPTIONS, top: { type: "string" } }, USAGE);
  if ("exit" in parsed) return parsed.exit;
  const o = parsed.values;
  let resolved;
  try {
    if (o.top !== undefined && !/^\d+$/.test(o.top)) throw new UsageError(`--top takes a whole number, not "${o.top}"`);
    resolved = resolveTargets(o, PROJECT);
    const t = resolved.targets;
    if (!t.postgres && !t.mongo && !t.redis) throw new UsageError(`no store given\n${USAGE}`);
    const stats = await collectStats({
      postgres: t.postgres && { url: t.postgres.url, top: o.top === undefined ? undefined : Number(o.top) },
      mongo: t.mongo,
      redis: t.redis && { url: t.redis.url, options: t.redis.options },
    });
    if (o.json) console.log(JSON.stringify(stats, null, 2));
    else printStats(stats);
    return 0;
  } catch (err) {
    return fail("stats", err);
  } finally {
    resolved?.cleanup();
  }
}

const pct = (r: number | null) => (r === null ? "n/a" : `${(r * 100).toFixed(1)}%`);
const indent = (s: string) => s.replace(/^/gm, "  ");

export function printStats(s: Stats): void {
  if (s.postgres) {
    const p = s.postgres;
    console.log(`PostgreSQL ${p.database}: ${humanBytes(p.databaseBytes)}, cache hit ratio ${pct(p.cacheHitRatio)} (indexes ${pct(p.indexCacheHitRatio)})`);
    console.log(indent(table(["table", "total", "table", "indexes", "live rows", "dead rows", "bloat est."], p.tables.map((t) => [t.table, humanBytes(t.totalBytes), humanBytes(t.tableBytes), humanBytes(t.indexBytes), String(t.liveRows), String(t.deadRows), pct(t.deadRatio)]))));
    console.log("  largest indexes:");
    console.log(indent(indent(table(["index", "table", "size", "scans"], p.indexes.slice(0, 15).map((i) => [i.index, i.table, humanBytes(i.bytes), String(i.scans)])))));
    const unused = p.unusedIndexes.slice(0, 10).map((i) => `${i.index} (${humanBytes(i.bytes)})`);
    if (p.unusedIndexes.length > 10) unused.push(`… ${p.unusedIndexes.length - 10} more (--json lists them)`);
    console.log(unused.length ? `  unused indexes (no scan since the statistics were reset; unique ones left out), largest first: ${unused.join(", ")}` : "  unused indexes: none");
    console.log(p.duplicateIndexes.length ? `  duplicate indexes: ${p.duplicateIndexes.map((d) => `${d.indexes.join(" = ")} on ${d.table}`).join("; ")}` : "  duplicate indexes: none");
    if (p.slowestStatements) {
      console.log("  slowest statements (pg_stat_statements, by total time):");
      console.log(indent(indent(table(["total ms", "calls", "mean ms", "rows", "query"], p.slowestStatements.map((q) => [q.totalMs.toFixed(1), String(q.calls), q.meanMs.toFixed(2), String(q.rows), q.query])))));
    }
    for (const n of p.notes) console.log(`  note: ${n}`);
  }
  if (s.mongo) {
    const m = s.mongo;
    const b = (n?: number) => (n === undefined ? "n/a" : humanBytes(n));
    console.log(`MongoDB ${m.database}: data ${b(m.dataBytes)}, storage ${b(m.storageBytes)}, indexes ${b(m.indexBytes)}`);
    console.log(indent(table(["collection", "documents", "data", "storage", "indexes", "index size"], m.collections.map((c) => [c.name, String(c.documents ?? "n/a"), b(c.dataBytes), b(c.storageBytes), String(c.indexes ?? "n/a"), b(c.indexBytes)]))));
    for (const n of m.notes) console.log(`  note: ${n}`);
  }
  if (s.redis) {
    const r = s.redis;
    console.log(
      `Redis ${r.version}: ${humanBytes(r.usedMemoryBytes)} used (peak ${humanBytes(r.peakMemoryBytes)}), maxmemory ${r.maxMemoryBytes ? humanBytes(r.maxMemoryBytes) : "none"} (${r.policy}), fragmentation ${r.fragmentationRatio ?? "n/a"}`,
    );
    console.log(`  hit rate ${pct(r.hitRate)} (${r.hits} hits, ${r.misses} misses), ${r.evictedKeys} evicted, ${r.expiredKeys} expired, ${r.connectedClients} clients, ${r.opsPerSecond} ops/s`);
    console.log(indent(table(["db", "keys", "with TTL", "avg TTL"], r.databases.map((d) => [String(d.db), String(d.keys), String(d.expires), d.avgTtlMs ? `${Math.round(d.avgTtlMs / 1000)} s` : "-"]))));
  }
}
