// The cache warmup engine: reads the source of truth from PostgreSQL with the queries of
// redis/warmup.ts, and writes it to Redis in pipelined batches, each key with its database's TTL.
//
// Versioned: the version is a hash of the warmup spec (queries, prefixes, TTLs, layout) and of the
// source data. Every warmed logical database holds a marker key with that version, written last;
// a run whose markers match (and whose sampled keys still exist) writes nothing. A run that dies
// half way (Redis restarted, connection lost) leaves no marker, so the next run warms again.
import { createHash } from "node:crypto";
import type { Client as PgClient, ClientConfig as PgClientConfig } from "pg";
import type Redis from "ioredis";
import type { RedisOptions } from "ioredis";
import { keyspaceLayout, type KeyspaceLayout, type KeyspaceOptions, type LogicalDatabaseName } from "../../redis/layout";
import { WARMUP_MARKER, WARMUP_SPEC, warmupSetPrefix, type WarmupSet, type WarmupSpec } from "../../redis/warmup";
import { BulkWriter } from "./bulk";

/** One key to write. */
export interface WarmupEntry {
  key: string;
  value: string;
  /** Absolute expiry (ms since epoch) from the row's `expires_at`, before the database TTL caps it. */
  expiresAtMs?: number;
}

/** The source data of one warmup set, read from PostgreSQL. */
export interface WarmupSetData {
  set: WarmupSet;
  database: LogicalDatabaseName;
  db: number;
  /** The key prefix the set owns (full, e.g. `nexus:engine:`). */
  prefix: string;
  ttlSeconds: number | undefined;
  entries: WarmupEntry[];
}

/** Everything a warmup would write, and its version. */
export interface WarmupData {
  sets: WarmupSetData[];
  specHash: string;
  dataHash: string;
  /** specHash and dataHash together: what the markers record. */
  version: string;
  layout: KeyspaceLayout;
}

/** What the marker key of one logical database records. */
export interface WarmupMarker {
  version: string;
  specHash: string;
  dataHash: string;
  keys: number;
  warmedAt: string;
}

export interface WarmupPlan {
  /** True when a warmup would write (or delete) anything. */
  needed: boolean;
  /** Why, in words a reviewer reads in `pulumi preview --diff`; empty when up to date. */
  reasons: string[];
  version: string;
  /** Source rows per warmup set. */
  counts: Record<string, number>;
}

export interface WarmupResult extends WarmupPlan {
  /** Whether this run wrote. */
  warmed: boolean;
  /** Keys written (SET), per logical database. */
  written: Partial<Record<LogicalDatabaseName, number>>;
  /** Stale keys removed from the warmup's own prefixes (rows gone from the source). */
  deleted: number;
  /** Things the server did not allow and that were skipped (e.g. INFO on a managed service). */
  notes: string[];
  durationMs: number;
}

/** A warmup that could not finish. No marker was written: the next run warms again. */
export class WarmupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WarmupError";
  }
}

const sha256 = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

/** The hash of the spec and layout: changes when a query, a prefix, a TTL or the mode changes. */
export function warmupSpecHash(spec: WarmupSpec, layout: KeyspaceLayout): string {
  const sets = spec.sets.map((s) => ({
    name: s.name,
    database: s.database,
    db: layout.database(s.database).db,
    prefix: warmupSetPrefix(s, layout),
    ttlSeconds: layout.database(s.database).ttlSeconds ?? null,
    // Whitespace in a query is layout, not meaning.
    query: s.query.replace(/\s+/g, " ").trim(),
  }));
  return sha256(JSON.stringify({ revision: spec.revision, cluster: layout.cluster, sets }));
}

function checkSpec(spec: WarmupSpec, layout: KeyspaceLayout): void {
  const names = new Set<string>();
  const prefixes: { prefix: string; db: number; name: string }[] = [];
  for (const s of spec.sets) {
    if (names.has(s.name)) throw new Error(`warmup spec: two sets are named "${s.name}"`);
    names.add(s.name);
    const prefix = warmupSetPrefix(s, layout);
    const db = layout.database(s.database).db;
    const marker = layout.database(s.database).key(WARMUP_MARKER);
    if (marker.startsWith(prefix)) throw new Error(`warmup spec: set "${s.name}" prefix ${prefix} would cover the marker key ${marker}`);
    // Overlapping prefixes in one database would make one set delete the other's keys as stale.
    for (const p of prefixes) {
      if (p.db === db && (p.prefix.startsWith(prefix) || prefix.startsWith(p.prefix))) {
        throw new Error(`warmup spec: sets "${p.name}" and "${s.name}" overlap (${p.prefix}, ${prefix}) in DB ${db}`);
      }
    }
    prefixes.push({ prefix, db, name: s.name });
  }
}

/** Runs the spec's queries and builds the entries and version. Read-only on PostgreSQL. */
export async function readWarmupData(pg: PgClient, options: { spec?: WarmupSpec; layout?: KeyspaceLayout } = {}): Promise<WarmupData> {
  const spec = options.spec ?? WARMUP_SPEC;
  const layout = options.layout ?? keyspaceLayout();
  checkSpec(spec, layout);
  const specHash = warmupSpecHash(spec, layout);
  const data = createHash("sha256");
  const sets: WarmupSetData[] = [];
  // One snapshot for all queries, so the sets agree with each other.
  await pg.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    for (const set of spec.sets) {
      let rows: { key: unknown; value: unknown; expires_at?: unknown }[];
      try {
        rows = (await pg.query(set.query)).rows;
      } catch (e) {
        throw new WarmupError(`warmup set "${set.name}": its query failed on PostgreSQL: ${(e as Error).message} (see redis/warmup.ts)`, { cause: e });
      }
      const ldb = layout.database(set.database);
      const prefix = warmupSetPrefix(set, layout);
      const seen = new Set<string>();
      const entries: WarmupEntry[] = new Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i];
        if (typeof r.key !== "string" || r.key === "" || typeof r.value !== "string") {
          throw new WarmupError(
            `warmup set "${set.name}": row ${i + 1} has key ${JSON.stringify(r.key)} and value of type ${typeof r.value}; the query must return text columns key (non-empty) and value`,
          );
        }
        if (seen.has(r.key)) throw new WarmupError(`warmup set "${set.name}": key "${r.key}" comes twice; the query must return one row per key`);
        seen.add(r.key);
        const entry: WarmupEntry = { key: prefix + r.key, value: r.value };
        if (r.expires_at instanceof Date) entry.expiresAtMs = r.expires_at.getTime();
        entries[i] = entry;
      }
      // The hash must not depend on the order PostgreSQL happens to return rows in.
      entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      data.update(`${set.name}\u0000${entries.length}\u0000`);
      for (const e of entries) data.update(`${e.key}\u0000${e.value}\u0000${e.expiresAtMs ?? ""}\u0000`);
      sets.push({ set, database: set.database, db: ldb.db, prefix, ttlSeconds: ldb.ttlSeconds, entries });
    }
  } finally {
    await pg.query("ROLLBACK");
  }
  const dataHash = data.digest("hex");
  return { sets, specHash, dataHash, version: sha256(`${specHash}:${dataHash}`).slice(0, 32), layout };
}

/** The marker key of a logical database. */
export function markerKey(layout: KeyspaceLayout, database: LogicalDatabaseName): string {
  return layout.database(database).key(WARMUP_MARKER);
}

function countsOf(data: WarmupData): Record<string, number> {
  return Object.fromEntries(data.sets.map((s) => [s.set.name, s.entries.length]));
}

/** The logical databases the data writes to, with their sets. */
function byDatabase(data: WarmupData): { database: LogicalDatabaseName; db: number; ttlSeconds: number | undefined; sets: WarmupSetData[] }[] {
  const names = [...new Set(data.sets.map((s) => s.database))];
  return names.map((database) => {
    const sets = data.sets.filter((s) => s.database === database);
    return { database, db: sets[0].db, ttlSeconds: sets[0].ttlSeconds, sets };
  });
}

/** How many keys per database the plan samples to notice eviction or deletion under a valid marker. */
const SAMPLE_KEYS = 32;

/** The expiry in ms to give an entry now: the sooner of its row's expiry and the database TTL. */
function expiryOf(entry: WarmupEntry, ttlSeconds: number | undefined, now: number): number | undefined {
  const byTtl = ttlSeconds === undefined ? undefined : now + ttlSeconds * 1000;
  if (entry.expiresAtMs === undefined) return byTtl;
  return byTtl === undefined ? entry.expiresAtMs : Math.min(byTtl, entry.expiresAtMs);
}

/**
 * Does Redis need a warmup for this data? Checks each database's marker (absent: never warmed,
 * flushed, expired or evicted; other version: data or spec changed) and samples keys that should
 * still exist. `connect(db)` returns a connection to that database number.
 */
export async function planWarmup(connect: (db: number) => Promise<Redis>, data: WarmupData): Promise<WarmupPlan> {
  const reasons: string[] = [];
  const now = Date.now();
  for (const group of byDatabase(data)) {
    const r = await connect(group.db);
    const where = data.layout.cluster ? `logical DB ${group.database}` : `DB ${group.db} (${group.database})`;
    const raw = await r.get(markerKey(data.layout, group.database));
    if (raw === null) {
      reasons.push(`${where}: no warmup marker (never warmed, flushed, expired or evicted)`);
      continue;
    }
    let marker: WarmupMarker;
    try {
      marker = JSON.parse(raw) as WarmupMarker;
    } catch {
      reasons.push(`${where}: unreadable warmup marker`);
      continue;
    }
    if (marker.version !== data.version) {
      const what = [marker.specHash !== data.specHash && "warmup spec", marker.dataHash !== data.dataHash && "source data"].filter(Boolean).join(" and ");
      reasons.push(`${where}: ${what || "version"} changed since the last warmup (${marker.warmedAt})`);
      continue;
    }
    // Keys can go while the marker stays (allkeys-lru eviction, a DEL): sample what must be there.
    const live = group.sets.flatMap((s) => s.entries).filter((e) => {
      const exp = expiryOf(e, undefined, now);
      return exp === undefined || exp > now + 60_000;
    });
    const step = Math.max(1, Math.floor(live.length / SAMPLE_KEYS));
    const sample = live.filter((_, i) => i % step === 0).slice(0, SAMPLE_KEYS);
    if (sample.length > 0) {
      // One key per command: in cluster mode the keys live in different hash slots.
      const replies = (await sample.reduce((p, e) => p.exists(e.key), r.pipeline()).exec()) ?? [];
      const present = replies.filter(([err, n]) => !err && n === 1).length;
      if (present < sample.length) reasons.push(`${where}: ${sample.length - present} of ${sample.length} sampled warmed keys are missing (evicted or deleted)`);
    }
  }
  return { needed: reasons.length > 0, reasons, version: data.version, counts: countsOf(data) };
}

export interface WarmupRunOptions {
  /** Keys per pipeline (one round trip each). Default 1000. */
  batchSize?: number;
  /** Warm even if the markers say the data is current. Default false. */
  force?: boolean;
  /** Called after each batch was sent (a few batches stay in flight); tests use it to restart Redis mid-warmup. */
  onBatch?: (p: { database: LogicalDatabaseName; written: number; total: number }) => void | Promise<void>;
}

async function serverRunId(r: Redis): Promise<string | undefined> {
  try {
    const info = await r.info("server");
    return /run_id:(\w+)/.exec(info)?.[1];
  } catch (e) {
    if (/NOPERM|unknown command/i.test((e as Error).message)) return undefined;
    throw e;
  }
}

function describeRedisFailure(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return /Connection is closed|ECONNRESET|ECONNREFUSED|EPIPE|socket|Stream isn't writeable|closed/i.test(m) ? `the connection to Redis was lost (${m})` : m;
}

/**
 * Writes the data: per database, the old marker goes first, then every key in batches, then stale
 * keys under the sets' prefixes are removed, then — only if the server is still the one it started
 * on — the new marker. Throws WarmupError on any failure; no marker is left behind then.
 */
export async function runWarmup(
  connect: (db: number) => Promise<Redis>,
  data: WarmupData,
  options: WarmupRunOptions = {},
): Promise<WarmupResult> {
  const started = Date.now();
  const plan = await planWarmup(connect, data);
  const base = { ...plan, written: {}, deleted: 0, notes: [] as string[] };
  if (!plan.needed && !options.force) return { ...base, warmed: false, durationMs: Date.now() - started };
  const reasons = plan.needed ? plan.reasons : ["forced"];
  const batchSize = options.batchSize ?? 1000;
  const written: Partial<Record<LogicalDatabaseName, number>> = {};
  let deleted = 0;
  const notes: string[] = [];

  for (const group of byDatabase(data)) {
    const r = await connect(group.db);
    const where = data.layout.cluster ? `logical DB ${group.database}` : `DB ${group.db} (${group.database})`;
    const marker = markerKey(data.layout, group.database);
    const entries = group.sets.flatMap((s) => s.entries);
    let done = 0;
    const bulk = await BulkWriter.from(r);
    try {
      const runId = await serverRunId(r);
      if (runId === undefined && !notes.some((n) => n.startsWith("INFO"))) {
        notes.push("INFO is not allowed for this user: a Redis restart between batches is detected only through the lost connection");
      }
      await r.del(marker);
      // An empty database (first warmup, FLUSHDB) cannot hold stale keys: the scan below is skipped.
      const emptyBefore = (await r.dbsize().catch(() => -1)) === 0;
      const now = Date.now();
      const expiry = (e: WarmupEntry) => expiryOf(e, group.ttlSeconds, now);
      for (let i = 0; i < entries.length; i += batchSize) {
        const end = Math.min(i + batchSize, entries.length);
        await bulk.set(entries, i, end, expiry);
        done = end;
        if (options.onBatch) await options.onBatch({ database: group.database, written: done, total: entries.length });
      }
      await bulk.flush();
      written[group.database] = done;
      // Rows that left the source: their keys go, but only under the sets' own prefixes.
      const wanted = emptyBefore ? new Set<string>() : new Set(entries.map((e) => e.key));
      for (const s of emptyBefore ? [] : group.sets) {
        let cursor = "0";
        do {
          const [next, keys] = await r.scan(cursor, "MATCH", `${s.prefix}*`, "COUNT", 10_000);
          cursor = next;
          const stale = keys.filter((k) => k.startsWith(s.prefix) && !wanted.has(k));
          if (stale.length > 0) {
            const replies = (await stale.reduce((p, k) => p.unlink(k), r.pipeline()).exec()) ?? [];
            for (const [err, n] of replies) {
              if (err) throw err;
              deleted += Number(n);
            }
          }
        } while (cursor !== "0");
      }
      if (runId !== undefined && (await serverRunId(r)) !== runId) {
        throw new Error("Redis restarted during the warmup (its run_id changed); keys written before the restart may be gone");
      }
      const value: WarmupMarker = { version: data.version, specHash: data.specHash, dataHash: data.dataHash, keys: entries.length, warmedAt: new Date().toISOString() };
      if (group.ttlSeconds !== undefined) await r.set(marker, JSON.stringify(value), "EX", group.ttlSeconds);
      else await r.set(marker, JSON.stringify(value));
    } catch (e) {
      throw new WarmupError(
        `warmup of ${where} stopped after sending ${done} of ${entries.length} keys: ${describeRedisFailure(e)}. ` +
          `No warmup marker was written, so the next run (pulumi up, or nexus-db redis warm) warms again.`,
        { cause: e },
      );
    } finally {
      bulk.close();
    }
  }
  return { ...base, needed: true, reasons, warmed: true, written, deleted, notes, durationMs: Date.now() - started };
}

/** Where the warmup reads and writes. */
export interface WarmupConnections {
  /** PostgreSQL: a connection string or pg client config. */
  database: string | PgClientConfig;
  /** Redis: a URL or ioredis options (username/password of the warmup user). */
  redis: string | RedisOptions;
  /** The keyspace mode. Default standalone, prefix `nexus:`. */
  keyspace?: KeyspaceOptions;
}

/** A connection factory per database number, closed together. Reconnects are off on purpose. */
export async function redisConnector(target: string | RedisOptions): Promise<{ connect: (db: number) => Promise<Redis>; close: () => void }> {
  const { default: IORedis } = await import("ioredis");
  const clients = new Map<number, Redis>();
  const opts: RedisOptions = {
    lazyConnect: true,
    // A silent reconnect could land on a restarted, empty server and let a warmup finish on half
    // its data: every connection loss must surface as an error instead.
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    connectTimeout: 5000,
  };
  return {
    connect: async (db) => {
      let c = clients.get(db);
      if (!c) {
        c = typeof target === "string" ? new IORedis(target, { ...opts, db }) : new IORedis({ ...target, ...opts, db });
        let lastError: Error | undefined;
        // Errors reach the awaiting command; the first one is kept: a refused AUTH is followed by NOAUTH errors.
        c.on("error", (e: Error) => (lastError ??= e));
        clients.set(db, c);
        try {
          await c.connect();
          await c.ping(); // connect() can resolve before AUTH was answered
        } catch (e) {
          await new Promise((r) => setTimeout(r, 20)); // the AUTH error event may trail the failed command
          const o = c.options;
          const who = o.username ? ` as ${o.username}` : "";
          // ioredis reports a refused AUTH as "Connection is closed."; the error event has the reason.
          throw new WarmupError(`cannot connect to Redis at ${o.host}:${o.port} (DB ${db})${who}: ${(lastError ?? (e as Error)).message}`, { cause: e });
        }
      }
      return c;
    },
    close: () => {
      for (const c of clients.values()) c.disconnect();
      clients.clear();
    },
  };
}

async function withSources<T>(conn: WarmupConnections, spec: WarmupSpec, fn: (data: WarmupData, connect: (db: number) => Promise<Redis>) => Promise<T>): Promise<T> {
  const { Client } = await import("pg");
  const pg = new Client(typeof conn.database === "string" ? { connectionString: conn.database } : conn.database);
  await pg.connect();
  let data: WarmupData;
  try {
    data = await readWarmupData(pg, { spec, layout: keyspaceLayout(conn.keyspace) });
  } finally {
    await pg.end();
  }
  const redis = await redisConnector(conn.redis);
  try {
    return await fn(data, redis.connect);
  } finally {
    redis.close();
  }
}

/** Reads PostgreSQL and says whether Redis needs a warmup, and why. Writes nothing. */
export function warmupStatus(conn: WarmupConnections, spec: WarmupSpec = WARMUP_SPEC): Promise<WarmupPlan> {
  return withSources(conn, spec, (data, connect) => planWarmup(connect, data));
}

/** Reads PostgreSQL and warms Redis if needed (or forced). */
export function warmRedis(conn: WarmupConnections, options: WarmupRunOptions & { spec?: WarmupSpec } = {}): Promise<WarmupResult> {
  return withSources(conn, options.spec ?? WARMUP_SPEC, (data, connect) => runWarmup(connect, data, options));
}

