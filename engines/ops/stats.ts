// `nexus-db stats`: the specification's monitoring queries as one read-only report — table and
// index sizes, unused and duplicate indexes, a bloat estimate, cache hit ratios and the slowest
// statements (PostgreSQL); db.stats and per-collection stats (MongoDB); INFO memory, keyspace and
// hit rate (Redis).
import type { MongoClient } from "mongodb";
import { connect as pgConnect } from "../postgres";
import { connectMongo, type MongoTlsSettings } from "../mongo/connection";
import { redisClient, redisInfo } from "../backup";
import type { RedisOptions } from "ioredis";

export interface PostgresStats {
  database: string;
  databaseBytes: number;
  tables: { table: string; totalBytes: number; tableBytes: number; indexBytes: number; liveRows: number; deadRows: number; deadRatio: number; lastAutovacuum: string | null }[];
  indexes: { index: string; table: string; bytes: number; scans: number; unique: boolean }[];
  unusedIndexes: { index: string; table: string; bytes: number }[];
  duplicateIndexes: { table: string; indexes: string[]; bytes: number }[];
  cacheHitRatio: number | null;
  indexCacheHitRatio: number | null;
  /** The slowest statements by total time, when pg_stat_statements is installed in the database. */
  slowestStatements?: { query: string; calls: number; totalMs: number; meanMs: number; rows: number }[];
  notes: string[];
}

export interface MongoStats {
  database: string;
  dataBytes?: number;
  storageBytes?: number;
  indexBytes?: number;
  collections: { name: string; documents?: number; dataBytes?: number; storageBytes?: number; indexes?: number; indexBytes?: number }[];
  notes: string[];
}

export interface RedisStats {
  version: string;
  usedMemoryBytes: number;
  peakMemoryBytes: number;
  maxMemoryBytes: number;
  policy: string;
  fragmentationRatio: number | null;
  databases: { db: number; keys: number; expires: number; avgTtlMs: number }[];
  hits: number;
  misses: number;
  hitRate: number | null;
  evictedKeys: number;
  expiredKeys: number;
  connectedClients: number;
  opsPerSecond: number;
}

export interface Stats {
  postgres?: PostgresStats;
  mongo?: MongoStats;
  redis?: RedisStats;
}

export interface StatsInput {
  postgres?: { url: string; top?: number };
  mongo?: { url: string; database: string; tls?: Partial<MongoTlsSettings> };
  redis?: { url: string; options?: RedisOptions };
}

export async function collectStats(input: StatsInput): Promise<Stats> {
  const out: Stats = {};
  if (input.postgres) out.postgres = await postgresStats(input.postgres.url, input.postgres.top ?? 10);
  if (input.mongo) out.mongo = await mongoStats(input.mongo);
  if (input.redis) out.redis = await redisStats(input.redis);
  return out;
}

const ratio = (hit: number, read: number) => (hit + read > 0 ? hit / (hit + read) : null);

async function postgresStats(url: string, top: number): Promise<PostgresStats> {
  const c = await pgConnect(url, "stats");
  try {
    const db = (await c.query<{ d: string; b: string }>("SELECT current_database() AS d, pg_database_size(current_database()) AS b")).rows[0];
    const tables = (await c.query<{ t: string; total: string; tbl: string; idx: string; live: string; dead: string; vac: Date | null }>(`
      SELECT format('%I.%I', schemaname, relname) AS t, pg_total_relation_size(relid) AS total, pg_table_size(relid) AS tbl,
             pg_indexes_size(relid) AS idx, n_live_tup AS live, n_dead_tup AS dead, greatest(last_autovacuum, last_vacuum) AS vac
        FROM pg_stat_user_tables ORDER BY pg_total_relation_size(relid) DESC`)).rows.map((r) => {
      const live = Number(r.live);
      const dead = Number(r.dead);
      return { table: r.t, totalBytes: Number(r.total), tableBytes: Number(r.tbl), indexBytes: Number(r.idx), liveRows: live, deadRows: dead, deadRatio: live + dead ? dead / (live + dead) : 0, lastAutovacuum: r.vac ? r.vac.toISOString() : null };
    });
    const indexes = (await c.query<{ i: string; t: string; b: string; scans: string; uniq: boolean }>(`
      SELECT format('%I.%I', s.schemaname, s.indexrelname) AS i, format('%I.%I', s.schemaname, s.relname) AS t, pg_relation_size(s.indexrelid) AS b,
             s.idx_scan AS scans, (x.indisunique OR x.indisprimary) AS uniq
        FROM pg_stat_user_indexes s JOIN pg_index x ON x.indexrelid = s.indexrelid
       ORDER BY pg_relation_size(s.indexrelid) DESC`)).rows.map((r) => ({ index: r.i, table: r.t, bytes: Number(r.b), scans: Number(r.scans), unique: r.uniq }));
    // Unique and primary-key indexes enforce something even when no query reads them.
    const unusedIndexes = indexes.filter((i) => i.scans === 0 && !i.unique).map(({ index, table, bytes }) => ({ index, table, bytes }));
    const duplicateIndexes = (await c.query<{ t: string; names: string[]; b: string }>(`
      SELECT format('%I.%I', n.nspname, t.relname) AS t, array_agg(format('%I.%I', n.nspname, i.relname) ORDER BY i.relname) AS names, sum(pg_relation_size(i.oid)) AS b
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
       WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
       GROUP BY n.nspname, t.relname, x.indrelid, x.indkey::text, x.indclass::text, coalesce(pg_get_expr(x.indexprs, x.indrelid), ''), coalesce(pg_get_expr(x.indpred, x.indrelid), ''), i.relam
      HAVING count(*) > 1`)).rows.map((r) => ({ table: r.t, indexes: r.names, bytes: Number(r.b) }));
    const hit = (await c.query<{ h: string; r: string; ih: string | null; ir: string | null }>(`
      SELECT blks_hit AS h, blks_read AS r,
             (SELECT sum(idx_blks_hit) FROM pg_statio_user_indexes) AS ih, (SELECT sum(idx_blks_read) FROM pg_statio_user_indexes) AS ir
        FROM pg_stat_database WHERE datname = current_database()`)).rows[0];
    const notes: string[] = [];
    let slowestStatements: PostgresStats["slowestStatements"];
    const pss = (await c.query("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")).rowCount;
    if (pss) {
      try {
        slowestStatements = (await c.query<{ q: string; calls: string; total: number; mean: number; rows: string }>(`
          SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 120) AS q, calls, total_exec_time AS total, mean_exec_time AS mean, rows
            FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
           ORDER BY total_exec_time DESC LIMIT $1`, [top])).rows.map((r) => ({ query: r.q, calls: Number(r.calls), totalMs: Number(r.total), meanMs: Number(r.mean), rows: Number(r.rows) }));
      } catch (e) {
        notes.push(`pg_stat_statements is installed but cannot be read: ${(e as Error).message} (load it with shared_preload_libraries, or grant pg_read_all_stats)`);
      }
    } else {
      notes.push("slowest statements: pg_stat_statements is not installed in this database (shared_preload_libraries = 'pg_stat_statements', then CREATE EXTENSION pg_stat_statements)");
    }
    return {
      database: db.d,
      databaseBytes: Number(db.b),
      tables,
      indexes,
      unusedIndexes,
      duplicateIndexes,
      cacheHitRatio: ratio(Number(hit?.h ?? 0), Number(hit?.r ?? 0)),
      indexCacheHitRatio: ratio(Number(hit?.ih ?? 0), Number(hit?.ir ?? 0)),
      slowestStatements,
      notes,
    };
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function mongoStats(m: NonNullable<StatsInput["mongo"]>): Promise<MongoStats> {
  const client: MongoClient = await connectMongo(m.url, m.tls);
  try {
    const db = client.db(m.database);
    const notes: string[] = [];
    const s = (await db.command({ dbStats: 1 }).catch((e: Error) => {
      notes.push(`dbStats refused: ${e.message.split("\n")[0]}`);
      return {};
    })) as { dataSize?: number; storageSize?: number; indexSize?: number };
    const collections: MongoStats["collections"] = [];
    const names = (await db.listCollections({}, { nameOnly: false }).toArray()).filter((c) => c.type !== "view" && !c.name.startsWith("system.")).map((c) => c.name).sort();
    for (const name of names) {
      try {
        const cs = (await db.command({ collStats: name })) as { count?: number; size?: number; storageSize?: number; nindexes?: number; totalIndexSize?: number };
        collections.push({ name, documents: cs.count, dataBytes: cs.size, storageBytes: cs.storageSize, indexes: cs.nindexes, indexBytes: cs.totalIndexSize });
      } catch (e) {
        collections.push({ name, documents: await db.collection(name).estimatedDocumentCount() });
        notes.push(`collStats ${name}: ${(e as Error).message.split("\n")[0]}`);
      }
    }
    return { database: m.database, dataBytes: s.dataSize, storageBytes: s.storageSize, indexBytes: s.indexSize, collections, notes };
  } finally {
    await client.close().catch(() => undefined);
  }
}

async function redisStats(rd: NonNullable<StatsInput["redis"]>): Promise<RedisStats> {
  const r = await redisClient(rd);
  try {
    const info = await redisInfo(r);
    const n = (k: string) => Number(info.get(k) ?? 0);
    const databases: RedisStats["databases"] = [];
    for (const [k, v] of info) {
      const m = /^db(\d+)$/.exec(k);
      if (!m) continue;
      const f = Object.fromEntries(v.split(",").map((p) => p.split("=") as [string, string]));
      databases.push({ db: Number(m[1]), keys: Number(f.keys), expires: Number(f.expires), avgTtlMs: Number(f.avg_ttl) });
    }
    const hits = n("keyspace_hits");
    const misses = n("keyspace_misses");
    return {
      version: info.get("redis_version") ?? "unknown",
      usedMemoryBytes: n("used_memory"),
      peakMemoryBytes: n("used_memory_peak"),
      maxMemoryBytes: n("maxmemory"),
      policy: info.get("maxmemory_policy") ?? "unknown",
      fragmentationRatio: info.has("mem_fragmentation_ratio") ? n("mem_fragmentation_ratio") : null,
      databases: databases.sort((a, b) => a.db - b.db),
      hits,
      misses,
      hitRate: ratio(hits, misses),
      evictedKeys: n("evicted_keys"),
      expiredKeys: n("expired_keys"),
      connectedClients: n("connected_clients"),
      opsPerSecond: n("instantaneous_ops_per_sec"),
    };
  } finally {
    r.disconnect();
  }
}
