// The cache warmup engine: streams the source of truth from PostgreSQL (COPY, one snapshot for
// every set) and writes it to Redis in pipelined batches — per database on a standalone server,
// per master in parallel on a Redis Cluster — each key with its database's TTL. It is given the
// keyspace and the warmup spec (redis/declarations.ts); it knows neither.
//
// Versioned and incremental: every warmed logical database holds a marker (the version: a hash of
// the spec and of that database's rows), and every set its per-row digests in buckets (digests.ts).
// An incremental run is two phases per set: PostgreSQL computes each row's digest and bucket in the
// COPY and sends key + digest (no values), spilled by bucket to temporary files; each bucket is
// then compared with its stored table, keys of rows that are gone are removed, and the changed
// rows' values are read by key in the same snapshot and written. Nothing changed: nothing is written
// (but a marker's horizon, when many keys named by change tracking all proved unchanged).
// A set that declares change tracking (changes.ts) skips the first phase when it can: the keys
// its rows' versions name since the marker's horizon are read by key, compared with their stored
// digests and written; their digest records are edited in place; a count of the set proves no
// other row went. Without trusted digests
// (first run, flushed or evicted cache, changed spec, `force`) a run writes every key from one
// unordered COPY, writes the digests as the rows go by, and sweeps stale keys under the prefixes.
// Memory does not grow with the rows: one bucket (or one partition of spilled rows) at a time.
//
// Never a stale marker: a database's marker is deleted (and, on a cluster, the deletion waited
// for on the replicas) before its first key is written, and set again last — after every write
// was acknowledged, the replicas caught up (WAIT, on a cluster) and the warmup's lock (lock.ts)
// was confirmed still its own. A run that dies half way leaves no marker, so the next run warms
// that database fully.
import { createHash, randomBytes } from "node:crypto";
import type { Client as PgClient, ClientConfig as PgClientConfig } from "pg";
import type { Cluster, Redis, RedisOptions } from "ioredis";
import { checkChangeTracking, exportSnapshot, horizonAge, importSnapshot, keptRows, snapshotHorizon, sourceIdentity, type SourceHorizon } from "./changes";
import {
  accumulate,
  BucketWriter,
  bucketCount,
  bucketGeneration,
  DigestTable,
  digestOut,
  digestPatch,
  editBucket,
  keyHash,
  locateRecords,
  mergeBucket,
  recordDigest,
  reheader,
  rowDigest,
  unaccumulate,
  writeRecord,
  recordSize,
} from "./digests";
import { buildKeyspaceLayout, type KeyspaceDeclaration, type KeyspaceLayout, type KeyspaceOptions } from "./keyspace";
import { WarmupLock, WarmupLockedError, type LockOptions } from "./lock";
import { WriteRouter, type ClusterSlotsReply } from "./route";
import { BucketSpill } from "./spill";
import { describeQuery, isNullField, SourceError, streamRows, type Field } from "./source";
import { digestKey, digestPrefix, lockKey, markerKey, warmupDatabases, warmupSetPrefix, type WarmupSet, type WarmupSpec } from "./warmup-spec";

export { markerKey, WarmupLockedError };

/** What the warmup is given: the keyspace and the spec (the platform's: redis/declarations.ts). */
export interface WarmupDeclarations<N extends string = string> {
  keyspace: KeyspaceDeclaration<N>;
  warmup: WarmupSpec<N>;
}

/** What the marker key of one logical database records. */
export interface WarmupMarker {
  /** Hash of the spec and of this database's rows. */
  version: string;
  specHash: string;
  dataHash: string;
  keys: number;
  warmedAt: string;
  /** When the last full warm of this database started. */
  fullAt: string;
  /** Expiry of the marker (databases with a TTL): the last full warm's start plus the TTL. */
  expiresAtMs?: number;
  /** Each set's digest generation (its id, a/b slot and bucket count) written with this marker. */
  digests: Record<string, DigestRef>;
  /** The PostgreSQL snapshot the data is as of (changes.ts): where change-tracked re-warms start from. */
  horizon?: SourceHorizon;
}

/** Per logical database: what a warmup writes or wrote. */
export interface DatabaseChanges {
  /** Keys written (rows new or changed; every row on a full warm). */
  write: number;
  /** Keys removed (rows gone from the source; on a full warm, stale keys found by the sweep). */
  delete: number;
  /** Rows whose key is already current. */
  unchanged: number;
  /** A full warm (no trusted digests), else incremental. */
  full: boolean;
}

export interface WarmupPlan {
  /** True when a warmup would write (or delete) anything. */
  needed: boolean;
  /** Why, in words a reviewer reads in `pulumi preview --diff`; empty when up to date. */
  reasons: string[];
  /** Hash of every database's version. */
  version: string;
  /** Source rows per warmup set. */
  counts: Record<string, number>;
  /** Per logical database that needs work: how many keys change. */
  changes: Record<string, DatabaseChanges>;
  /**
   * Per set that declares change tracking and was compared incrementally: "tracked" when its
   * changed keys came from the row versions, else why every row was compared.
   */
  tracking: Record<string, string>;
}

export interface WarmupResult extends WarmupPlan {
  /** Whether this run wrote. */
  warmed: boolean;
  /** Keys written (SET), per logical database. */
  written: Record<string, number>;
  /** Keys removed (rows gone from the source, stale keys). */
  deleted: number;
  /** Things the server did not allow and that were skipped (e.g. INFO on a managed service). */
  notes: string[];
  durationMs: number;
}

/** A warmup that could not finish. No marker was written for what it touched: the next run warms again. */
export class WarmupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WarmupError";
  }
}

const sha256 = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

function checkSpec<N extends string>(spec: WarmupSpec<N>, layout: KeyspaceLayout<N>): void {
  const names = new Set<string>();
  const prefixes: { prefix: string; db: number; name: string }[] = [];
  if (spec.sets.length === 0) throw new Error("warmup spec: no sets");
  for (const s of spec.sets) {
    if (names.has(s.name)) throw new Error(`warmup spec: two sets are named "${s.name}"`);
    if (!/^[A-Za-z0-9_.-]+$/.test(s.name)) throw new Error(`warmup spec: set name ${JSON.stringify(s.name)} must be letters, digits, '_', '.', '-'`);
    names.add(s.name);
    const prefix = warmupSetPrefix(s, layout);
    const db = layout.database(s.database).db;
    // Overlapping prefixes in one database would make one set delete the other's keys as stale.
    for (const p of prefixes) {
      if (p.db === db && (p.prefix.startsWith(prefix) || prefix.startsWith(p.prefix))) {
        throw new Error(`warmup spec: sets "${p.name}" and "${s.name}" overlap (${p.prefix}, ${prefix}) in DB ${db}`);
      }
    }
    prefixes.push({ prefix, db, name: s.name });
    if (s.changes) checkChangeTracking(s, s.changes);
  }
}

/** The hash of the spec and layout: changes when a query, a prefix, a TTL or the mode changes. */
export function warmupSpecHash<N extends string>(spec: WarmupSpec<N>, layout: KeyspaceLayout<N>): string {
  const sets = spec.sets.map((s) => ({
    name: s.name,
    database: s.database,
    db: layout.database(s.database).db,
    prefix: warmupSetPrefix(s, layout),
    ttlSeconds: layout.database(s.database).ttlSeconds ?? null,
    // Whitespace in a query is layout, not meaning.
    query: s.query.replace(/\s+/g, " ").trim(),
    // A set without change tracking hashes as before it existed; a new or edited one warms fully once.
    ...(s.changes ? { changes: { keys: s.changes.keys.replace(/\s+/g, " ").trim(), deletable: s.changes.deletable ?? [] } } : {}),
  }));
  return sha256(JSON.stringify({ revision: spec.revision, cluster: layout.cluster, sets }));
}

/** Where the warmup reads and writes. */
export interface WarmupConnections {
  /** PostgreSQL: a connection string or pg client config. */
  database: string | PgClientConfig;
  /** Redis: a URL or ioredis options (the warmup user); on a cluster, any node. */
  redis: string | RedisOptions;
  /** The keyspace mode (cluster or not, key prefix). Default standalone, prefix `nexus:`. */
  keyspace?: KeyspaceOptions;
}

export interface WarmupRunOptions {
  /** Keys per pipeline batch. Default 1000. */
  batchSize?: number;
  /** Rewrite every key (a full warm) even if the digests say most are current. Default false. */
  force?: boolean;
  /** The lock: how long to wait for another warmup, its expiry. Defaults in lock.ts. */
  lock?: LockOptions;
  /** Where rows are spilled while they are compared (temporary files, removed after). Default: the OS temp directory. */
  spillDir?: string;
  /** Changed rows an incremental run fetches by key; past it, it rewrites every key of the set. Default 50,000. */
  changedKeysLimit?: number;
  /** How long replicas may take to catch up before the markers (cluster). Default 10 s. */
  replicaTimeoutMs?: number;
  /**
   * How long to wait for a Redis that is still starting (connection refused, LOADING its data) —
   * a container created in the same `up`, which is not waited for until healthy. Default 0.
   */
  serverStartWaitMs?: number;
  /** Called after each chunk of source rows was queued; tests use it to fail over or restart Redis mid-warm. */
  onProgress?: (p: { set: string; rows: number; sent: number }) => void | Promise<void>;
}

/** ioredis options from a URL or options (no reconnects: a lost connection must surface). */
export function redisOptionsOf(target: string | RedisOptions): RedisOptions {
  if (typeof target !== "string") return { ...target };
  const u = new URL(target);
  if (!/^rediss?:$/.test(u.protocol)) throw new WarmupError(`Redis URL must start with redis:// or rediss:// (got ${u.protocol}//…)`);
  return {
    host: u.hostname || "127.0.0.1",
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === "rediss:" ? { tls: {} } : {}),
  };
}

const STRICT: RedisOptions = {
  lazyConnect: true,
  // A silent reconnect could land on a restarted, empty server and let a warmup finish on half
  // its data: every connection loss must surface as an error instead.
  retryStrategy: () => null,
  maxRetriesPerRequest: 0,
  enableOfflineQueue: false,
  enableReadyCheck: false,
  connectTimeout: 5000,
};

function who(o: RedisOptions): string {
  return `${o.host ?? "127.0.0.1"}:${o.port ?? 6379}${o.username ? ` as ${o.username}` : ""}`;
}

/** Errors of a Redis that is not answering yet: its port not listening, closed at once, loading its data. */
function isStartingRedis(e: unknown): boolean {
  const m = (e as Error)?.message ?? "";
  return /ECONNREFUSED|ECONNRESET|Connection is closed|^LOADING/.test(m);
}

/**
 * Waits, up to `ms`, while the server is starting: a PING answered (whatever it answers — a refused
 * login is the warmup's own error to report) ends the wait. Other errors, and the last one after
 * `ms`, are left to the connection that follows.
 */
export async function waitUntilRedisAnswers(opts: RedisOptions, ms: number): Promise<void> {
  const { default: IORedis } = await import("ioredis");
  const deadline = Date.now() + ms;
  for (;;) {
    const r = new IORedis({ ...opts, ...STRICT });
    r.on("error", () => undefined);
    try {
      await r.connect();
      await r.ping();
      return;
    } catch (e) {
      if (!isStartingRedis(e) || Date.now() >= deadline) return;
    } finally {
      r.disconnect();
    }
    await new Promise((res) => setTimeout(res, 250));
  }
}

const CLUSTER_READY_MS = 15_000;

class ClusterNotReady extends Error {}

/**
 * Every master answers CLUSTER INFO with cluster_state:ok — a node that was just restarted or
 * re-joined says fail for a few seconds, and the warmup must not start writing into that. Waits
 * until the deadline, then names the nodes that were not ok and what they said.
 */
async function clusterReady(c: Cluster, deadline: number): Promise<void> {
  for (;;) {
    const states = await Promise.all(
      c.nodes("master").map(async (n) => {
        const at = `${n.options.host ?? "?"}:${n.options.port ?? "?"}`;
        try {
          const state = /^cluster_state:(\w+)/m.exec(String(await n.call("CLUSTER", "INFO")))?.[1] ?? "unknown";
          return { at, ok: state === "ok", said: `cluster_state:${state}` };
        } catch (e) {
          return { at, ok: false, said: (e as Error).message };
        }
      }),
    );
    const bad = states.filter((s) => !s.ok);
    if (states.length > 0 && bad.length === 0) return;
    if (Date.now() + 250 > deadline) {
      const what = states.length === 0 ? "no master node is known" : bad.map((s) => `${s.at} says ${s.said}`).join("; ");
      throw new ClusterNotReady(`the cluster is not ready after ${CLUSTER_READY_MS / 1000} s: ${what}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Control connections: one per database number (standalone), or one cluster client. */
interface Control {
  cluster: boolean;
  at(db: number): Promise<Redis | Cluster>;
  /** Connections to every master (cluster) or to the database (standalone), for SCAN and DBSIZE. */
  nodes(db: number): Promise<Redis[]>;
  slots(): Promise<ClusterSlotsReply>;
  close(): void;
}

async function openControl(opts: RedisOptions, cluster: boolean): Promise<Control> {
  const { default: IORedis, Cluster: IOCluster } = await import("ioredis");
  if (cluster) {
    const host = opts.host ?? "127.0.0.1";
    const port = opts.port ?? 6379;
    const c = new IOCluster([{ host, port }], {
      lazyConnect: true,
      // ioredis' own ready check never settles connect() when a node says cluster_state:fail (it
      // reconnects in the background and the first promise is forgotten): ours, below, says which node.
      enableReadyCheck: false,
      redisOptions: { username: opts.username, password: opts.password, tls: opts.tls, connectTimeout: 5000, maxRetriesPerRequest: 2 },
      // A failover or a resharding during the warmup: follow MOVED/ASK, wait out CLUSTERDOWN.
      maxRedirections: 16,
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      clusterRetryStrategy: (times) => (times > 3 ? null : 200),
    });
    let lastError: Error | undefined;
    c.on("error", (e: Error) => (lastError ??= e));
    c.on("node error", (e: Error) => (lastError ??= e));
    const deadline = Date.now() + CLUSTER_READY_MS;
    try {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        c.connect(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${CLUSTER_READY_MS / 1000} s`)), CLUSTER_READY_MS))),
      ]).finally(() => clearTimeout(timer));
      await clusterReady(c, deadline);
    } catch (e) {
      c.disconnect();
      const reason = e instanceof ClusterNotReady ? e.message : (lastError ?? (e as Error)).message;
      throw new WarmupError(`cannot connect to the Redis Cluster at ${who(opts)}: ${reason}`, { cause: e });
    }
    return {
      cluster: true,
      at: async () => c,
      nodes: async () => c.nodes("master"),
      slots: async () => {
        const reply = (await c.call("CLUSTER", "SLOTS")) as ClusterSlotsReply;
        for (const [, , ...nodes] of reply) for (const n of nodes) if (!n[0]) n[0] = host;
        return reply;
      },
      close: () => c.disconnect(),
    };
  }
  const clients = new Map<number, Redis>();
  const at = async (db: number) => {
    let r = clients.get(db);
    if (!r) {
      r = new IORedis({ ...opts, ...STRICT, db });
      let lastError: Error | undefined;
      // Errors reach the awaiting command; the first one is kept: a refused AUTH is followed by NOAUTH errors.
      r.on("error", (e: Error) => (lastError ??= e));
      clients.set(db, r);
      try {
        await r.connect();
        await r.ping(); // connect() can resolve before AUTH was answered
      } catch (e) {
        await new Promise((res) => setTimeout(res, 20)); // the AUTH error event may trail the failed command
        const as = opts.username ? ` as ${opts.username}` : "";
        throw new WarmupError(`cannot connect to Redis at ${opts.host ?? "127.0.0.1"}:${opts.port ?? 6379} (DB ${db})${as}: ${(lastError ?? (e as Error)).message}`, { cause: e });
      }
    }
    return r;
  };
  return {
    cluster: false,
    at,
    nodes: async (db) => [await at(db)],
    slots: async () => [],
    close: () => {
      for (const r of clients.values()) r.disconnect();
      clients.clear();
    },
  };
}

async function serverRunId(r: Redis | Cluster): Promise<string | undefined> {
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

/** How many warmed keys per database the plan checks to notice eviction or deletion under a valid marker. */
const SAMPLE_KEYS = 32;
/** Changed rows whose keys an incremental run collects to fetch their values alone; past it, it rewrites every key. */
const CHANGED_LIMIT = 50_000;
/**
 * Partitions of a full warm's stale-key sweep (rows' keys and keys found, spilled by key hash):
 * each set's spill keeps a file open per partition until the sweep, so few (≈ rows / 32 keys in
 * memory per partition).
 */
const KEY_PARTS = 32;

/** A set's digest generation, as the marker records it (digests.ts). */
export interface DigestRef {
  id: string;
  slot: "a" | "b";
  buckets: number;
  /** The set's rows and digest accumulators as of the marker (a change-tracked re-warm starts from them). */
  rows?: number;
  acc?: number[];
  /** Per `changes.deletable` table: its rows written before the marker's horizon (absent: none to trust). */
  kept?: Record<string, number>;
}

/** A trusted set's stored digests turned out missing or foreign half way: the pass starts over with that database fully warmed. */
class DigestsLost extends Error {
  constructor(readonly database: string, message: string) {
    super(message);
  }
}

interface SetState<N extends string> {
  set: WarmupSet<N>;
  prefix: Buffer;
  /** The generation the marker names (trusted or not). */
  previous?: DigestRef;
  /** The generation compared against (incremental). */
  old?: DigestRef;
  /** The generation this run writes; undefined while (or when) the set has no change. */
  next?: DigestRef;
  /** Buckets below it were unchanged when the set first changed: copied into the new generation after the scan. */
  carryBelow: number;
  /** Keys of changed rows (incremental), up to CHANGED_LIMIT, with their digests. */
  changed: string[];
  changedDigests: number[];
  rewriteAll: boolean;
  rows: number;
  /** Keys this run wrote (SET). */
  written: number;
  /** Order-independent accumulators of the row digests. */
  acc: Uint32Array;
  /** Full warm over a non-empty database: every row key, spilled by key hash, for the stale-key sweep. */
  keys?: BucketSpill;
  /** Per `changes.deletable` table: its rows before this pass's horizon, when all of them are (recorded in the marker). */
  kept?: Record<string, number>;
}

interface GroupState<N extends string> {
  database: N;
  db: number;
  ttlSeconds: number | undefined;
  where: string;
  marker?: WarmupMarker;
  full: boolean;
  /** Why this database needs work, if it does (besides changed rows). */
  reasons: string[];
  sets: SetState<N>[];
  changes: DatabaseChanges;
  markerDeleted: boolean;
  emptyBefore: boolean;
  /** Expiry of the marker and digests written by this run (databases with a TTL). */
  expiresAtMs?: number;
  version?: string;
  dataHash?: string;
  /** The age of the marker's horizon in this pass's snapshot, or why it cannot be used (changes.ts). */
  age?: number | string;
  /** Keys the change-tracked sets named (changes.keys). */
  named: number;
  /** Nothing changed though many keys were named: the marker takes this pass's horizon (warm only). */
  refresh: boolean;
}

type PassMode = { write: false } | { write: true; router: WriteRouter; options: WarmupRunOptions; notes: string[] };

// The SQL around a set's query. Keys and values are hashed as bytes (collation "C").
const KEY = "q.key::text";
const HASH = `to_hex(hashtextextended(q.value::text COLLATE "C", 0))`;
const bucketOf = (buckets: number) => `(hashtext(q.key::text COLLATE "C") & ${buckets - 1})`;
const EXPIRY = "(extract(epoch FROM q.expires_at) * 1000)::bigint";
/**
 * The SELECT around a set's query. Fenced (OFFSET 0): the query is not merged into it, so a value
 * that is both sent and hashed is computed once (merged, PostgreSQL would build it twice). The
 * lookup by key is not fenced, so its condition reaches the query's tables.
 */
const sqlOf = (query: string, cols: string[], hasExpiry: boolean, { fenced = true, where = "" } = {}) =>
  `SELECT ${[...cols, ...(hasExpiry ? [EXPIRY] : [])].join(", ")} FROM ${fenced ? `(SELECT * FROM (${query}) q0 OFFSET 0)` : `(${query})`} q${where}`;

function intField(f: Field): number {
  let n = 0;
  for (let i = f.start; i < f.end; i++) n = n * 10 + f.buf[i] - 48;
  return n;
}

const expiryField = (f: Field | undefined): number | undefined => (f === undefined || isNullField(f) ? undefined : Number(f.buf.toString("latin1", f.start, f.end)));

function refOf(raw: unknown): DigestRef | undefined {
  const r = raw as Partial<DigestRef> | undefined;
  return r && typeof r === "object" && typeof r.id === "string" && (r.slot === "a" || r.slot === "b") && Number.isInteger(r.buckets) ? (r as DigestRef) : undefined;
}

async function estimateRows(pg: PgClient, query: string): Promise<number> {
  try {
    const { rows } = await pg.query<{ "QUERY PLAN": { Plan: { "Plan Rows": number } }[] }>(`EXPLAIN (FORMAT JSON) SELECT * FROM (${query}) q`);
    return rows[0]["QUERY PLAN"][0].Plan["Plan Rows"];
  } catch {
    return 0;
  }
}

/** One pass over the source: the plan (`write` false) or the warm. `untrusted`: databases to warm fully whatever their marker says. */
async function pass<N extends string>(
  pg: PgClient,
  control: Control,
  layout: KeyspaceLayout<N>,
  spec: WarmupSpec<N>,
  mode: PassMode,
  untrusted: Set<string>,
  /** Temporary files of this pass (removed by the caller, `passWithRetry`). */
  spills: BucketSpill[],
  /** Opens another connection to the same PostgreSQL (a second reader of the pass's snapshot). */
  connectPg?: () => Promise<PgClient>,
): Promise<{ groups: GroupState<N>[]; counts: Record<string, number>; version: string; horizon: SourceHorizon; tracking: Record<string, string> }> {
  checkSpec(spec, layout);
  const specHash = warmupSpecHash(spec, layout);
  const force = mode.write && (mode.options.force ?? false);
  const started = Date.now();
  const groups: GroupState<N>[] = warmupDatabases(spec).map((database) => {
    const ldb = layout.database(database);
    return {
      database,
      db: ldb.db,
      ttlSeconds: ldb.ttlSeconds,
      where: layout.cluster ? `logical DB ${database}` : `DB ${ldb.db} (${database})`,
      full: true,
      reasons: [],
      sets: [],
      changes: { write: 0, delete: 0, unchanged: 0, full: true },
      markerDeleted: false,
      emptyBefore: false,
      named: 0,
      refresh: false,
    };
  });

  // What Redis holds: markers, the digests' generations, a sample of keys that must be there.
  for (const g of groups) {
    const r = await control.at(g.db);
    const raw = await r.get(markerKey(layout, g.database));
    const sets = spec.sets.filter((s) => s.database === g.database);
    let marker: WarmupMarker | undefined;
    if (raw === null) g.reasons.push("no warmup marker (never warmed, flushed, expired or evicted)");
    else {
      try {
        marker = JSON.parse(raw) as WarmupMarker;
      } catch {
        g.reasons.push("unreadable warmup marker");
      }
    }
    if (marker && marker.specHash !== specHash) g.reasons.push(`the warmup spec changed since the last warmup (${marker.warmedAt})`);
    else if (marker && (!marker.digests || sets.some((s) => !refOf(marker!.digests[s.name])))) g.reasons.push("warmed by a version without bucketed row digests");
    if (untrusted.has(g.database)) g.reasons.push("stored row digests went missing during the comparison");
    let trusted = marker !== undefined && g.reasons.length === 0 && !force;
    const sample: string[] = [];
    for (const set of sets) {
      const st: SetState<N> = {
        set,
        prefix: Buffer.from(warmupSetPrefix(set, layout)),
        previous: refOf(marker?.digests?.[set.name]),
        carryBelow: 0,
        changed: [],
        changedDigests: [],
        rewriteAll: false,
        rows: 0,
        written: 0,
        acc: new Uint32Array(4),
      };
      g.sets.push(st);
      if (!trusted) continue;
      // A few buckets: their generation must be the marker's, and their keys must be in Redis.
      const ref = st.previous!;
      const picks = [...new Set([0, ref.buckets >> 2, ref.buckets >> 1, (3 * ref.buckets) >> 2])].filter((b) => b < ref.buckets);
      const blobs = await Promise.all(picks.map((b) => r.getBuffer(digestKey(set, layout, ref.slot, b))));
      const now = Date.now();
      for (const blob of blobs) {
        const parsed = DigestTable.parse(blob);
        if (!parsed || parsed.id !== ref.id) {
          g.reasons.push(`the row digests of set "${set.name}" are missing or do not match the marker`);
          trusted = false;
          break;
        }
        const t = parsed.table;
        const per = Math.ceil(SAMPLE_KEYS / picks.length);
        const step = Math.max(1, Math.floor(t.count / per));
        for (let o = 0, n = 0; o < t.count && n < per; o += step, n++) {
          const exp = t.expiryAt(o);
          if (exp === undefined || exp > now + 60_000) sample.push(st.prefix.toString() + t.keyAt(o).toString());
        }
      }
      if (trusted) st.old = ref;
    }
    if (trusted && sample.length > 0) {
      // Keys can go while the marker stays (allkeys-lru eviction, a DEL). One key per command: in
      // cluster mode the keys live in different hash slots.
      const replies = await Promise.all(sample.map((k) => r.exists(k)));
      const missing = replies.filter((n) => n !== 1).length;
      if (missing > 0) {
        g.reasons.push(`${missing} of ${sample.length} sampled warmed keys are missing (evicted or deleted)`);
        trusted = false;
      }
    }
    g.marker = marker;
    g.full = !trusted;
    g.changes.full = g.full;
    if (g.full) for (const st of g.sets) delete st.old;
    if (force) g.reasons.push("forced");
    if (g.ttlSeconds !== undefined) g.expiresAtMs = g.full ? started + g.ttlSeconds * 1000 : (marker?.expiresAtMs ?? started + g.ttlSeconds * 1000);
  }

  const router = mode.write ? mode.router : undefined;
  const deleteMarker = async (g: GroupState<N>) => {
    if (g.markerDeleted || !mode.write) return;
    const key = markerKey(layout, g.database);
    await mode.router.sendDurably(g.db, Buffer.from(key), ["DEL", key], mode.options.replicaTimeoutMs ?? 10_000);
    g.markerDeleted = true;
  };
  if (mode.write) {
    // Full warms write every key: their markers go first. An empty database (first warm, FLUSHDB)
    // cannot hold stale keys, so its sweep is skipped.
    const lockDatabase = warmupDatabases(spec)[0];
    for (const g of groups.filter((x) => x.full)) {
      await deleteMarker(g);
      const sizes = await Promise.all((await control.nodes(g.db)).map((n) => n.dbsize().catch(() => -1)));
      // The warmup's own lock is the one key an empty database holds.
      g.emptyBefore = sizes.every((n) => n >= 0) && sizes.reduce((a, b) => a + b, 0) <= (g.database === lockDatabase ? 1 : 0);
    }
  }

  let sent = 0;
  const progress = async (set: string, rows: number) => {
    if (!mode.write) return;
    await mode.router.room();
    if (mode.options.onProgress && mode.router.sent !== sent) {
      sent = mode.router.sent;
      await mode.options.onProgress({ set, rows, sent });
    }
  };
  const pxatOf = (g: GroupState<N>, exp: number | undefined) => {
    const byTtl = g.ttlSeconds === undefined ? undefined : started + g.ttlSeconds * 1000;
    return exp === undefined ? byTtl : byTtl === undefined ? exp : Math.min(byTtl, exp);
  };
  const changedLimit = (mode.write ? mode.options.changedKeysLimit : undefined) ?? CHANGED_LIMIT;
  const spillDir = mode.write ? mode.options.spillDir : undefined;
  const newRef = (st: SetState<N>, buckets: number): DigestRef => ({ id: randomBytes(16).toString("hex"), slot: st.previous?.slot === "a" ? "b" : "a", buckets });

  /** A full warm of one set: every row written; its digests into a new generation. */
  const fullSet = async (g: GroupState<N>, st: SetState<N>, hasExpiry: boolean) => {
    const name = st.set.name;
    if (!router) {
      // The plan: how many rows, and the version they make.
      st.rows = await streamRows(pg, name, sqlOf(st.set.query, [KEY, HASH], hasExpiry), hasExpiry ? 3 : 2, (f) => {
        rowDigest(f[1].buf, f[1].start, f[1].end, expiryField(f[2]));
        accumulate(st.acc, keyHash(f[0].buf, f[0].start, f[0].end), digestOut[0], digestOut[1]);
        g.changes.write++;
      }, async () => undefined);
      return;
    }
    const next = (st.next = newRef(st, bucketCount(await estimateRows(pg, st.set.query))));
    router.unlink(g.db, Buffer.from(digestPrefix(st.set, layout).slice(0, -1))); // the single table of versions before buckets
    const writer = new BucketWriter(next.buckets, next.id, (b, bytes, first) => {
      const key = Buffer.from(digestKey(st.set, layout, next.slot, b));
      if (first) router.setBlob(g.db, key, bytes, g.expiresAtMs);
      else router.append(g.db, key, bytes);
    });
    if (!g.emptyBefore) spills.push((st.keys = new BucketSpill(KEY_PARTS, spillDir)));
    const sql = sqlOf(st.set.query, [KEY, "q.value", HASH, bucketOf(next.buckets)], hasExpiry);
    st.rows = await streamRows(
      pg,
      name,
      sql,
      hasExpiry ? 5 : 4,
      (f, row) => {
        const [key, value, hash, bucket] = f;
        if (isNullField(value)) throw new SourceError(`warmup set "${name}": row ${row} (key "${key.buf.toString("utf8", key.start, key.end)}") has a NULL value`);
        const exp = expiryField(f[4]);
        const kh = keyHash(key.buf, key.start, key.end);
        rowDigest(hash.buf, hash.start, hash.end, exp);
        const d1 = digestOut[0];
        const d2 = digestOut[1];
        st.keys?.add(kh & (KEY_PARTS - 1), key.buf, key.start, key.end, 0, 0, undefined);
        accumulate(st.acc, kh, d1, d2);
        writer.add(intField(bucket), key.buf, key.start, key.end, d1, d2, exp);
        router.set(g.db, st.prefix, key, value, pxatOf(g, exp));
        st.written++;
        g.changes.write++;
      },
      async () => {
        writer.flushReady();
        await progress(name, g.changes.write);
      },
    );
    writer.finish();
  };

  /**
   * An incremental run of one set: keys and value digests in bucket order, compared bucket by
   * bucket with the stored generation; then the values of the changed rows alone.
   */
  const incrementalSet = async (g: GroupState<N>, st: SetState<N>, hasExpiry: boolean) => {
    const name = st.set.name;
    const old = st.old!;
    const r = await control.at(g.db);
    const prefetch = new Map<number, Promise<Buffer | null>>();
    const fetchFrom = (b: number) => {
      for (let i = b; i < Math.min(old.buckets, b + 8); i++) if (!prefetch.has(i)) prefetch.set(i, r.getBuffer(digestKey(st.set, layout, old.slot, i)));
    };
    let cur = -1;
    let oldT: DigestTable | undefined;
    let oldBlob: Buffer = Buffer.alloc(0);
    /** Per row of the old table: 0 not (yet) in the source, 1 unchanged, 2 changed. */
    let seen = new Uint8Array(0);
    /** The bucket's new and changed rows. */
    let delta = DigestTable.empty(16);
    let bucketChanged = false;
    const markChanged = async () => {
      bucketChanged = true;
      if (!router || st.next) return;
      st.next = { ...newRef(st, old.buckets) };
      st.carryBelow = cur;
      await deleteMarker(g); // before the first key of this database changes
    };
    const open = async (b: number) => {
      fetchFrom(b);
      const blob = await prefetch.get(b)!;
      prefetch.delete(b);
      const parsed = DigestTable.parse(blob);
      if (!parsed || parsed.id !== old.id) throw new DigestsLost(g.database, `bucket ${b} of set "${name}"`);
      cur = b;
      oldT = parsed.table;
      oldBlob = blob!;
      seen = new Uint8Array(oldT.count);
      delta = DigestTable.empty(64);
      bucketChanged = false;
    };
    const close = async () => {
      const t = oldT!;
      for (let o = 0; o < t.count; o++) {
        if (seen[o] !== 0) continue;
        g.changes.delete++;
        if (router) {
          await markChanged();
          router.unlink(g.db, Buffer.concat([st.prefix, t.keyAt(o)]));
        } else bucketChanged = true;
      }
      if (router && st.next) {
        const blob = bucketChanged ? mergeBucket(st.next.id, t, seen, delta) : reheader(oldBlob, st.next.id);
        router.setBlob(g.db, Buffer.from(digestKey(st.set, layout, st.next.slot, cur)), blob, g.expiresAtMs);
      }
      await progress(name, st.rows);
    };
    /** Closes the current bucket and the empty ones up to `b` (exclusive); opens `b` unless it is past the last. */
    const advance = async (b: number) => {
      if (b < cur || b > old.buckets) throw new SourceError(`warmup set "${name}": rows out of bucket order`);
      if (cur >= 0) await close();
      for (let e = cur + 1; e < b; e++) {
        await open(e);
        await close();
      }
      if (b < old.buckets) await open(b);
    };
    const compare = (key: Field, kh: number, d1: number, d2: number, exp: number | undefined): void | Promise<void> => {
      const o = oldT!.find(key.buf, kh, key.start, key.end);
      if (o >= 0 && seen[o] === 0 && oldT!.same(o, d1, d2)) {
        seen[o] = 1;
        g.changes.unchanged++;
        return;
      }
      if ((o >= 0 && seen[o] !== 0) || (o < 0 && delta.find(key.buf, kh, key.start, key.end) >= 0)) {
        throw new SourceError(`warmup set "${name}": key "${key.buf.toString("utf8", key.start, key.end)}" comes twice; the query must return one row per key`);
      }
      if (o >= 0) seen[o] = 2;
      delta.add(key.buf, kh, d1, d2, exp, key.start, key.end);
      g.changes.write++;
      if (!router) return bucketChanged ? undefined : markChanged();
      if (st.changed.length < changedLimit) {
        st.changed.push(key.buf.toString("utf8", key.start, key.end));
        st.changedDigests.push(d1, d2);
      } else st.rewriteAll = true;
      if (!bucketChanged) return markChanged();
    };
    // Phase 1: key, digest and bucket of every row, in PostgreSQL's order, spilled by bucket;
    // then compared bucket by bucket.
    const spill = new BucketSpill(old.buckets, spillDir);
    spills.push(spill);
    {
      st.rows = await streamRows(
        pg,
        name,
        sqlOf(st.set.query, [KEY, HASH, bucketOf(old.buckets)], hasExpiry),
        hasExpiry ? 4 : 3,
        (f) => {
          const [key, hash, bucket] = f;
          const exp = expiryField(f[3]);
          rowDigest(hash.buf, hash.start, hash.end, exp);
          spill.add(intField(bucket), key.buf, key.start, key.end, digestOut[0], digestOut[1], exp);
        },
        async () => progress(name, 0),
      );
      const key: Field = { buf: Buffer.alloc(0), start: 0, end: 0 };
      for (const { bucket, buf, offsets } of spill.byBucket()) {
        await advance(bucket);
        key.buf = buf;
        for (const at of offsets) {
          key.start = at + 2;
          key.end = key.start + buf.readUInt16LE(at);
          const d1 = buf.readUInt32LE(key.end);
          const d2 = buf.readUInt32LE(key.end + 4);
          const s = buf.readUInt32LE(key.end + 8);
          const kh = keyHash(buf, key.start, key.end);
          accumulate(st.acc, kh, d1, d2);
          const wait = compare(key, kh, d1, d2, s === 0 ? undefined : s * 1000);
          if (wait) await wait;
        }
      }
    }
    spill.remove();
    await advance(old.buckets); // closes the last bucket and the empty ones after it (their rows are gone)
    prefetch.clear();
    if (!router || !st.next) return;
    const next = st.next;
    // Buckets before the first change are unchanged: the new generation takes them as they were.
    for (let b = 0; b < st.carryBelow; b += 16) {
      const ids = Array.from({ length: Math.min(16, st.carryBelow - b) }, (_, i) => b + i);
      const blobs = await Promise.all(ids.map((i) => r.getBuffer(digestKey(st.set, layout, old.slot, i))));
      blobs.forEach((blob, i) => {
        if (!blob || DigestTable.parse(blob)?.id !== old.id) throw new DigestsLost(g.database, `bucket ${ids[i]} of set "${name}"`);
        router.setBlob(g.db, Buffer.from(digestKey(st.set, layout, next.slot, ids[i])), reheader(blob, next.id), g.expiresAtMs);
      });
      await progress(name, st.rows);
    }
    if (st.rewriteAll) {
      // Too many changes to list: every key is written again, from the same snapshot.
      await streamRows(
        pg,
        name,
        sqlOf(st.set.query, [KEY, "q.value"], hasExpiry),
        hasExpiry ? 3 : 2,
        (f, row) => {
          if (isNullField(f[1])) throw new SourceError(`warmup set "${name}": row ${row} has a NULL value`);
          router.set(g.db, st.prefix, f[0], f[1], pxatOf(g, expiryField(f[2])));
          st.written++;
        },
        async () => progress(name, st.rows),
      );
      return;
    }
    // The changed rows' values, asked again in the same snapshot.
    const { rows } = await pg.query<string[]>({ text: sqlOf(st.set.query, [KEY, "q.value", HASH], hasExpiry, { fenced: false, where: ` WHERE ${KEY} = ANY($1::text[])` }), values: [st.changed], rowMode: "array" });
    const index = new Map(st.changed.map((k, i) => [k, i]));
    for (let i = 0; i < rows.length; i++) {
      const [k, v, h, e] = rows[i];
      const at = index.get(k);
      if (v === null) throw new SourceError(`warmup set "${name}": key "${k}" has a NULL value`);
      const exp = e === undefined || e === null ? undefined : Number(e);
      const hb = Buffer.from(h, "latin1");
      rowDigest(hb, 0, hb.length, exp);
      if (at === undefined || digestOut[0] !== st.changedDigests[2 * at] || digestOut[1] !== st.changedDigests[2 * at + 1]) {
        throw new SourceError(`warmup set "${name}": key "${k}" came back different when read again in the same snapshot; the query must be deterministic (no volatile functions)`);
      }
      index.delete(k);
      const kb = Buffer.from(k);
      const vb = Buffer.from(v);
      router.set(g.db, st.prefix, { buf: kb, start: 0, end: kb.length }, { buf: vb, start: 0, end: vb.length }, pxatOf(g, exp));
      st.written++;
      if ((i & 1023) === 1023) await progress(name, st.rows);
    }
    if (index.size > 0) throw new SourceError(`warmup set "${name}": ${index.size} changed key(s) were not returned when read again in the same snapshot; the query must be deterministic`);
    await progress(name, st.rows);
  };

  /**
   * A second connection reading the pass's snapshot (exported, then imported: changes.ts): a
   * tracked set's count of rows runs there while this one reads the changed keys. Undefined when
   * it cannot be had (no connection left, a role or server that refuses): the count then runs here.
   */
  let side: Promise<PgClient | undefined> | undefined;
  const sideConnection = (): Promise<PgClient | undefined> =>
    (side ??= (async () => {
      if (!connectPg) return undefined;
      const snapshot = await exportSnapshot(pg);
      if (snapshot === undefined) return undefined;
      return await importSnapshot(connectPg, snapshot);
    })());

  /**
   * A change-tracked re-warm of one set (changes.ts): the keys its `changes.keys` SQL names, their
   * rows read from the set's query restricted to them, compared with their stored digests; a count
   * of the set's rows proves no other row went. Returns why not (having written nothing) when it
   * cannot be trusted: the set is then compared row by row.
   */
  const trackedSet = async (g: GroupState<N>, st: SetState<N>, hasExpiry: boolean): Promise<string | undefined> => {
    // A few rows out of large tables: compiling the expressions (JIT) would cost more than it saves.
    const { rows: jit } = await pg.query<{ jit: string }>("SELECT current_setting('jit') AS jit, set_config('jit', 'off', true)");
    try {
      return await trackedRows(g, st, hasExpiry);
    } finally {
      await pg.query("SELECT set_config('jit', $1, true)", [jit[0].jit]).catch(() => undefined);
    }
  };
  const trackedRows = async (g: GroupState<N>, st: SetState<N>, hasExpiry: boolean): Promise<string | undefined> => {
    const name = st.set.name;
    const old = st.old!;
    const changes = st.set.changes!;
    g.age ??= await horizonAge(pg, g.marker?.horizon, horizon);
    const age = g.age;
    if (typeof age === "string") return age;
    if (old.rows === undefined || !Array.isArray(old.acc) || old.acc.length !== 4) return "the marker holds no row count for it";
    for (const table of changes.deletable ?? []) {
      const before = old.kept?.[table];
      if (before === undefined) return `${table} had rows newer than the last complete warm's horizon`;
      const now = await keptRows(pg, table, age).catch((e: Error) => {
        throw new SourceError(`warmup set "${name}": counting the rows of changes.deletable table ${table} failed: ${e.message}`, { cause: e });
      });
      if (now.kept !== before) return `${table} lost or changed ${before - now.kept} row(s) written before the last complete warm`;
    }
    // The changed keys, then the rows of those the query still returns, by key (a filter on the
    // query's tables: no row's value is built but theirs).
    const failed = (e: Error) => {
      throw new SourceError(`warmup set "${name}": its changes.keys query (or the set's query restricted to those keys) failed on PostgreSQL: ${e.message}`, { cause: e });
    };
    const countRows = async (on: PgClient) => Number((await on.query<{ n: string }>(`SELECT count(*) AS n FROM (${st.set.query}) q`)).rows[0].n);
    // Started before the changed keys are read; if too many are, it is left to finish unread.
    const countedAside = sideConnection().then((other) => (other ? countRows(other) : undefined));
    countedAside.catch(() => undefined);
    // Not DISTINCT (a sorted index path would be planned for it): a key named twice is dropped here.
    const cap = 2 * changedLimit + 1;
    const { rows: keyRows } = await pg
      .query<[string, number]>({
        text: `SELECT k.key::text, (hashtext(k.key::text COLLATE "C") & ${old.buckets - 1})::int FROM (${changes.keys}) k LIMIT ${cap}`,
        values: [age],
        rowMode: "array",
      })
      .catch(failed);
    const changedKeys = [...new Map(keyRows).entries()];
    g.named += changedKeys.length;
    if (changedKeys.length > changedLimit || keyRows.length === cap) return `more than ${changedLimit} keys may have changed`;
    // PostgreSQL reads the rows of those keys while their digest buckets are fetched and searched,
    // then counts the set's rows while the changes are written. The lookup by key: an index on the
    // key expression, if there is one, beats a scan (cached pages, whatever the planner's cost of
    // random reads says), and a few rows do not repay starting parallel workers.
    const reading = (async () => {
      const { rows: saved } = await pg.query<{ seq: string; par: string }>(
        "SELECT current_setting('enable_seqscan') AS seq, current_setting('max_parallel_workers_per_gather') AS par, set_config('enable_seqscan', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)",
      );
      const found = await pg
        .query<(string | null)[]>({ text: sqlOf(st.set.query, [KEY, "q.value", HASH], hasExpiry, { fenced: false, where: ` WHERE ${KEY} = ANY($1::text[])` }), values: [changedKeys.map((k) => k[0])], rowMode: "array" })
        .catch(failed);
      await pg.query("SELECT set_config('enable_seqscan', $1, true), set_config('max_parallel_workers_per_gather', $2, true)", [saved[0].seq, saved[0].par]);
      return found.rows;
    })();
    // A row gone that no changed key names (a hard DELETE) shows only in the count: on the second
    // connection from the start, or here once the rows are read.
    const counting = countedAside.then((n) => n ?? reading.then(() => countRows(pg)));
    counting.catch(() => undefined); // awaited below, unless something failed first
    /** Waits until the connection is free again, whatever happened. */
    const settled = () => Promise.allSettled([reading, counting]);
    const byBucket = new Map<number, Buffer[]>();
    for (const [key, b] of changedKeys) {
      const list = byBucket.get(b);
      if (list) list.push(Buffer.from(key));
      else byBucket.set(b, [Buffer.from(key)]);
    }
    const r = await control.at(g.db);
    const located: { bucket: number; blob: Buffer; keys: Buffer[]; at: Int32Array }[] = [];
    const buckets = [...byBucket.keys()];
    const found = await (async () => {
      // All at once (pipelined; the blobs are kept until written anyway), each searched as it comes.
      await Promise.all(
        buckets.map(async (bucket) => {
          const blob = await r.getBuffer(digestKey(st.set, layout, old.slot, bucket));
          const keys = byBucket.get(bucket)!;
          const at = blob && bucketGeneration(blob) === old.id ? locateRecords(blob, keys) : undefined;
          if (!blob || !at) throw new DigestsLost(g.database, `bucket ${bucket} of set "${name}"`);
          located.push({ bucket, blob, keys, at });
        }),
      );
      return await reading;
    })().catch(async (e: unknown) => {
      await settled();
      throw e;
    });
    const acc = Uint32Array.from(old.acc);
    let inserted = 0;
    let removed = 0;
    let changedRows = 0;
    /** Per bucket edited: rewritten whole (a record removed), or its changed records patched and its new ones appended. */
    const edits: { bucket: number; blob?: Buffer; patches: { offset: number; bytes: Buffer }[]; added: Buffer }[] = [];
    const values: { key: Buffer; value: Buffer; exp?: number }[] = [];
    const gone: Buffer[] = [];
    // Until the count is in, a failure must wait for it: the connection is shared.
    try {
      /** Per changed key that the query still returns: [key, value, hash, expiry]. */
      const current = new Map<string, (string | null)[]>();
      for (const row of found) {
        const key = row[0]!;
        if (current.has(key)) throw new SourceError(`warmup set "${name}": key "${key}" comes twice; the query must return one row per key`);
        if (row[1] === null) throw new SourceError(`warmup set "${name}": key "${key}" has a NULL value`);
        current.set(key, row);
      }

      // Each changed key against its stored record: changed, new, gone (or neither there nor here).
      for (const { bucket, blob, keys, at } of located) {
        const changed = new Map<number, { d1: number; d2: number; expiresAtMs?: number }>();
        const drop = new Set<number>();
        const added: Buffer[] = [];
        for (let k = 0; k < keys.length; k++) {
          const row = current.get(keys[k].toString());
          const kh = keyHash(keys[k]);
          if (at[k] >= 0) {
            recordDigest(blob, at[k]);
            unaccumulate(acc, kh, digestOut[0], digestOut[1]); // added back below if the row is still there
          }
          if (!row) {
            if (at[k] < 0) continue;
            drop.add(at[k]);
            gone.push(keys[k]);
            removed++;
            continue;
          }
          const [o1, o2] = at[k] >= 0 ? [digestOut[0], digestOut[1]] : [0, 0];
          const exp = row[3] === undefined || row[3] === null ? undefined : Number(row[3]);
          const hash = Buffer.from(row[2]!, "latin1");
          rowDigest(hash, 0, hash.length, exp);
          const d1 = digestOut[0];
          const d2 = digestOut[1];
          accumulate(acc, kh, d1, d2);
          if (at[k] >= 0) {
            if (d1 === o1 && d2 === o2) continue; // a new row version, the same value
            changed.set(at[k], { d1, d2, expiresAtMs: exp });
            changedRows++;
          } else {
            const rec = Buffer.allocUnsafe(recordSize(keys[k].length));
            writeRecord(rec, 0, keys[k], 0, keys[k].length, d1, d2, exp);
            added.push(rec);
            inserted++;
          }
          values.push({ key: keys[k], value: Buffer.from(row[1]!), exp });
        }
        if (drop.size > 0) edits.push({ bucket, blob: editBucket(blob, changed, drop, Buffer.concat(added)), patches: [], added: Buffer.alloc(0) });
        else if (changed.size + added.length > 0) {
          const patches = [...changed].map(([at, d]) => digestPatch(blob, at, d.d1, d.d2, d.expiresAtMs));
          edits.push({ bucket, patches, added: Buffer.concat(added) });
        }
      }
    } catch (e) {
      await settled();
      throw e;
    }
    const expected = old.rows + inserted - removed;
    // The changes are written while PostgreSQL counts: the rows and digests written are the
    // snapshot's whatever the count says. The digests are edited in place (same generation): the
    // marker goes first, so a run that stops half way leaves none and the next one warms fully.
    const write = router !== undefined && edits.length > 0;
    try {
      if (write) {
        await deleteMarker(g);
        st.next = { id: old.id, slot: old.slot, buckets: old.buckets };
        for (const v of values) {
          router.set(g.db, st.prefix, { buf: v.key, start: 0, end: v.key.length }, { buf: v.value, start: 0, end: v.value.length }, pxatOf(g, v.exp));
          st.written++;
          if ((st.written & 1023) === 0) await progress(name, st.rows);
        }
        for (const k of gone) router.unlink(g.db, Buffer.concat([st.prefix, k]));
        for (const { bucket, blob, patches, added } of edits) {
          const key = Buffer.from(digestKey(st.set, layout, old.slot, bucket));
          if (blob) router.setBlob(g.db, key, blob, g.expiresAtMs);
          for (const p of patches) router.setRange(g.db, key, p.offset, p.bytes);
          if (added.length > 0) router.append(g.db, key, added);
          await progress(name, st.rows);
        }
      }
    } catch (e) {
      await settled();
      throw e;
    }
    const count = await counting;
    if (count !== expected) {
      if (write) {
        // The row-by-row comparison that follows finds what was just written current (acknowledged
        // first), writes a new generation of digests, and counts the rest.
        await router.flush();
        g.changes.write += changedRows + inserted;
        g.changes.delete += removed;
        g.changes.unchanged -= changedRows + inserted;
        st.next = undefined;
      }
      return `the set has ${count} rows where its changed keys account for ${expected}: rows were deleted`;
    }
    st.rows = expected;
    st.acc = acc;
    g.changes.write += changedRows + inserted;
    g.changes.delete += removed;
    g.changes.unchanged += expected - changedRows - inserted;
    return undefined;
  };

  // One snapshot for all sets, so they agree with each other; its horizon is the first statement.
  const counts: Record<string, number> = {};
  const tracking: Record<string, string> = {};
  const source = await sourceIdentity(pg);
  await pg.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  let horizon: SourceHorizon & { xmax: string };
  try {
    horizon = await snapshotHorizon(pg, source);
    for (const g of groups) {
      for (const st of g.sets) {
        const { hasExpiry } = await describeQuery(pg, st.set.name, st.set.query);
        if (g.full) await fullSet(g, st, hasExpiry);
        else {
          const why = st.set.changes ? await trackedSet(g, st, hasExpiry) : "";
          if (st.set.changes) tracking[st.set.name] = why === undefined ? "tracked" : why;
          if (why !== undefined) await incrementalSet(g, st, hasExpiry);
        }
        counts[st.set.name] = st.rows;
      }
    }
    // What the markers this run writes record for the `deletable` guards: each table's rows, if all
    // are older than the horizon (a newer one deleted later would go unseen).
    // A database where nothing changed though its tracked sets named many keys (rows rewritten with
    // the same values, say) is current as of this snapshot: its marker takes the new horizon, or the
    // named keys would pile up run after run.
    for (const g of groups) g.refresh = mode.write && !g.full && !g.markerDeleted && g.changes.write + g.changes.delete === 0 && g.named >= Math.max(1, Math.floor(changedLimit / 10));
    for (const g of groups) {
      if (!g.markerDeleted && !g.refresh) continue;
      let age: number | string | undefined;
      for (const st of g.sets) {
        if (!st.set.changes?.deletable?.length) continue;
        age ??= await horizonAge(pg, horizon, horizon);
        if (typeof age === "string") break;
        st.kept = {};
        for (const table of st.set.changes.deletable) {
          const n = await keptRows(pg, table, age);
          if (n.all === n.kept) st.kept[table] = n.kept;
        }
      }
    }
  } finally {
    await pg.query("ROLLBACK").catch(() => undefined);
    const other = await side?.catch(() => undefined);
    await other?.end().catch(() => undefined);
  }

  // Full warms over a non-empty database: stale keys (rows gone, another generation's digests) are swept.
  for (const g of groups) {
    for (const st of g.sets) {
      if (router && st.keys) {
        const next = st.next!;
        const sweep = async (match: string, stale: (k: Buffer) => boolean) => {
          for (const node of await control.nodes(g.db)) {
            let cursor = "0";
            do {
              const [c, keys] = await node.scanBuffer(cursor, "MATCH", match, "COUNT", 10_000);
              cursor = String(c);
              for (const k of keys) if (stale(k)) router.unlink(g.db, k);
              await router.room();
            } while (cursor !== "0");
          }
        };
        // The keys found under the prefix, spilled by key hash like the rows' keys; then compared
        // partition by partition (one partition of each in memory).
        const found = new BucketSpill(KEY_PARTS, spillDir);
        spills.push(found);
        await sweep(`${st.prefix.toString()}*`, (k) => {
          if (k.subarray(0, st.prefix.length).equals(st.prefix)) found.add(keyHash(k, st.prefix.length) & (KEY_PARTS - 1), k, st.prefix.length, k.length, 0, 0, undefined);
          return false;
        });
        const rows = st.keys.byBucket();
        let part = rows.next();
        for (const { bucket, buf, offsets } of found.byBucket()) {
          while (!part.done && part.value.bucket < bucket) part = rows.next();
          const table = DigestTable.empty(1024);
          if (!part.done && part.value.bucket === bucket) {
            const { buf: rb, offsets: ro } = part.value;
            for (const at of ro) {
              const end = at + 2 + rb.readUInt16LE(at);
              if (!table.add(rb, keyHash(rb, at + 2, end), 0, 0, undefined, at + 2, end)) {
                throw new SourceError(`warmup set "${st.set.name}": key "${rb.toString("utf8", at + 2, end)}" comes twice; the query must return one row per key`);
              }
            }
          }
          for (const at of offsets) {
            const end = at + 2 + buf.readUInt16LE(at);
            if (table.find(buf, keyHash(buf, at + 2, end), at + 2, end) >= 0) continue;
            g.changes.delete++;
            router.unlink(g.db, Buffer.concat([st.prefix, buf.subarray(at + 2, end)]));
          }
          await router.room();
        }
        const dp = digestPrefix(st.set, layout);
        const live = new RegExp(`^${next.slot}:(\\d+)$`);
        await sweep(`${dp}*`, (k) => {
          const m = live.exec(k.subarray(dp.length).toString("latin1"));
          return !m || Number(m[1]) >= next.buckets;
        });
        delete st.keys;
      }
    }
    const h = createHash("sha256").update(specHash);
    for (const st of g.sets) h.update(`\u0000${st.set.name}\u0000${st.rows}\u0000${Array.from(st.acc).join(",")}`);
    g.dataHash = h.digest("hex");
    g.version = sha256(`${specHash}:${g.dataHash}`).slice(0, 32);
    if (!g.full && g.marker && g.marker.version !== g.version && g.changes.write + g.changes.delete === 0) {
      g.reasons.push("the version changed without a changed row (a digest collision?): run a forced warm");
    }
  }
  const version = sha256(groups.map((g) => g.version).join(":")).slice(0, 32);
  return { groups, counts, version, horizon: { xmin: horizon.xmin, source: horizon.source }, tracking };
}

/** Runs a pass; a database whose stored digests went missing half way is compared again as a full warm. */
async function passWithRetry<N extends string>(pg: PgClient, control: Control, layout: KeyspaceLayout<N>, spec: WarmupSpec<N>, mode: PassMode, connectPg?: () => Promise<PgClient>) {
  const untrusted = new Set<string>();
  for (;;) {
    const spills: BucketSpill[] = [];
    try {
      return await pass(pg, control, layout, spec, mode, untrusted, spills, connectPg);
    } catch (e) {
      if (!(e instanceof DigestsLost) || untrusted.has(e.database)) throw e;
      untrusted.add(e.database);
    } finally {
      for (const s of spills) s.remove();
    }
  }
}

function planOf<N extends string>(groups: GroupState<N>[], counts: Record<string, number>, version: string, tracking: Record<string, string>): WarmupPlan {
  const reasons: string[] = [];
  const changes: Record<string, DatabaseChanges> = {};
  for (const g of groups) {
    const c = g.changes;
    if (!g.full && c.write + c.delete === 0) continue;
    changes[g.database] = { ...c };
    const why = g.reasons.length > 0 ? g.reasons.join("; ") : `source data changed since the last warmup (${g.marker?.warmedAt ?? "?"})`;
    const what = g.full
      ? `full warm: ${c.write} key(s) to write${c.delete > 0 ? `, ${c.delete} stale to delete` : ""}`
      : `${c.write} key(s) to write, ${c.delete} to delete, ${c.unchanged} unchanged`;
    reasons.push(`${g.where}: ${why}: ${what}`);
  }
  return { needed: reasons.length > 0, reasons, version, counts, changes, tracking };
}

async function openSources(conn: WarmupConnections): Promise<{ pg: PgClient; connectPg: () => Promise<PgClient>; control: Control; opts: RedisOptions; close: () => Promise<void> }> {
  const { Client } = await import("pg");
  const config = typeof conn.database === "string" ? { connectionString: conn.database } : conn.database;
  const pg = new Client(config);
  const connectPg = async () => {
    const other = new Client(config);
    try {
      await other.connect();
    } catch (e) {
      await other.end().catch(() => undefined);
      throw e;
    }
    return other;
  };
  try {
    await pg.connect();
  } catch (e) {
    throw new WarmupError(`cannot connect to PostgreSQL for the warmup: ${(e as Error).message}`, { cause: e });
  }
  const opts = redisOptionsOf(conn.redis);
  let control: Control;
  try {
    control = await openControl(opts, conn.keyspace?.cluster ?? false);
  } catch (e) {
    await pg.end().catch(() => undefined);
    throw e;
  }
  let ended = false;
  return {
    pg,
    connectPg,
    control,
    opts,
    close: async () => {
      control.close();
      if (!ended) {
        ended = true;
        await pg.end().catch(() => undefined);
      }
    },
  };
}

/** Reads PostgreSQL and says whether Redis needs a warmup, why, and how many keys would change. Writes nothing. */
export async function warmupStatus<N extends string>(conn: WarmupConnections, declarations: WarmupDeclarations<N>): Promise<WarmupPlan> {
  const layout = buildKeyspaceLayout(declarations.keyspace, conn.keyspace);
  const src = await openSources(conn);
  try {
    const { groups, counts, version, tracking } = await passWithRetry(src.pg, src.control, layout, declarations.warmup, { write: false }, src.connectPg);
    return planOf(groups, counts, version, tracking);
  } catch (e) {
    if (e instanceof SourceError) throw new WarmupError(`${e.message} (see the warmup spec)`, { cause: e });
    throw e;
  } finally {
    await src.close();
  }
}

/** Reads PostgreSQL and warms Redis where needed: incrementally, or fully (`force`, or no trusted digests). */
export async function warmRedis<N extends string>(
  conn: WarmupConnections,
  declarations: WarmupDeclarations<N>,
  options: WarmupRunOptions = {},
): Promise<WarmupResult> {
  const started = Date.now();
  const layout = buildKeyspaceLayout(declarations.keyspace, conn.keyspace);
  const spec = declarations.warmup;
  checkSpec(spec, layout);
  if (options.serverStartWaitMs && !conn.keyspace?.cluster) await waitUntilRedisAnswers(redisOptionsOf(conn.redis), options.serverStartWaitMs);
  const src = await openSources(conn);
  const notes: string[] = [];
  let lock: WarmupLock | undefined;
  let router: WriteRouter | undefined;
  try {
    const batchSize = options.batchSize ?? 1000;
    try {
      const lockAt = await src.control.at(layout.database(warmupDatabases(spec)[0]).db);
      lock = await WarmupLock.acquire(lockAt, lockKey(spec, layout), options.lock);
      router = src.control.cluster
        ? await WriteRouter.cluster({ redis: src.opts, batchSize }, await src.control.slots())
        : await WriteRouter.standalone({ redis: src.opts, batchSize }, warmupDatabases(spec).map((d) => layout.database(d).db));
    } catch (e) {
      if (e instanceof WarmupLockedError || e instanceof WarmupError) throw e;
      throw new WarmupError(`warmup could not start (taking its lock, connecting its writers): ${describeRedisFailure(e)}. Nothing was written.`, { cause: e });
    }
    const runIds = new Map<number, string | undefined>();
    if (!src.control.cluster) {
      const first = await src.control.at(layout.database(warmupDatabases(spec)[0]).db);
      runIds.set(0, await serverRunId(first));
      if (runIds.get(0) === undefined) notes.push("INFO is not allowed for this user: a Redis restart between batches is detected only through the lost connection");
    }
    let groups: GroupState<N>[];
    let counts: Record<string, number>;
    let version: string;
    let horizon: SourceHorizon;
    let tracking: Record<string, string>;
    try {
      ({ groups, counts, version, horizon, tracking } = await passWithRetry(src.pg, src.control, layout, spec, { write: true, router, options, notes }, src.connectPg));
      await router.flush();
    } catch (e) {
      if (e instanceof SourceError) throw new WarmupError(`${e.message} (see the warmup spec). No marker was written for a database it had started on.`, { cause: e });
      throw new WarmupError(
        `warmup stopped after sending ${router.sent} command(s): ${describeRedisFailure(e)}. ` +
          `No warmup marker was written for a database it had started on, so the next run (pulumi up, or nexus-db redis warm) warms it again.`,
        { cause: e },
      );
    }
    const plan = planOf(groups, counts, version, tracking);
    const digestsOf = (g: GroupState<N>): Record<string, DigestRef> =>
      Object.fromEntries(
        g.sets.map((st) => {
          const { id, slot, buckets } = (st.next ?? st.old)!;
          return [st.set.name, { id, slot, buckets, rows: st.rows, acc: Array.from(st.acc), ...(st.kept ? { kept: st.kept } : {}) }];
        }),
      );
    // Markers that only take the new horizon: the data under them did not change (same version).
    for (const g of groups.filter((x) => x.refresh && x.marker && x.version === x.marker.version)) {
      try {
        await lock.confirm();
        const value: WarmupMarker = { ...g.marker!, digests: digestsOf(g), horizon };
        const key = markerKey(layout, g.database);
        const r = await src.control.at(g.db);
        if (g.marker!.expiresAtMs !== undefined) await r.set(key, JSON.stringify(value), "PXAT", g.marker!.expiresAtMs);
        else await r.set(key, JSON.stringify(value));
      } catch (e) {
        notes.push(`the marker of ${g.where} kept its older horizon (${describeRedisFailure(e)}): the next re-warm looks further back`);
      }
    }
    const touched = groups.filter((g) => g.markerDeleted);
    if (touched.length === 0) {
      return { ...plan, needed: false, reasons: [], changes: {}, warmed: false, written: {}, deleted: 0, notes, durationMs: Date.now() - started };
    }
    try {
      // Every key and digest bucket was acknowledged; now (replicas caught up, server unchanged,
      // lock still ours) the markers.
      if (src.control.cluster) {
        await router.applySlots(await src.control.slots());
        await router.waitForReplicas(options.replicaTimeoutMs ?? 10_000);
      } else if (runIds.get(0) !== undefined) {
        const now = await serverRunId(await src.control.at(layout.database(warmupDatabases(spec)[0]).db));
        if (now !== runIds.get(0)) throw new Error("Redis restarted during the warmup (its run_id changed); keys written before the restart may be gone");
      }
      await lock.confirm();
      for (const g of touched) {
        const r = await src.control.at(g.db);
        const keys = g.sets.reduce((n, st) => n + st.rows, 0);
        const value: WarmupMarker = {
          version: g.version!,
          specHash: warmupSpecHash(spec, layout),
          dataHash: g.dataHash!,
          keys,
          warmedAt: new Date().toISOString(),
          fullAt: g.full ? new Date(started).toISOString() : (g.marker?.fullAt ?? new Date(started).toISOString()),
          digests: digestsOf(g),
          horizon,
        };
        const exp = g.expiresAtMs;
        if (exp !== undefined) {
          value.expiresAtMs = exp;
          await r.set(markerKey(layout, g.database), JSON.stringify(value), "PXAT", exp);
        } else await r.set(markerKey(layout, g.database), JSON.stringify(value));
      }
    } catch (e) {
      throw new WarmupError(
        `warmup wrote its keys but could not complete: ${describeRedisFailure(e)}. ` +
          `No warmup marker was written for ${touched.map((g) => g.where).join(", ")}, so the next run warms again.`,
        { cause: e },
      );
    }
    // The generations the markers no longer name.
    try {
      for (const g of touched) {
        for (const st of g.sets) {
          const before = st.previous;
          if (!st.next || !before || before.slot === st.next.slot) continue;
          for (let b = 0; b < before.buckets; b++) router.unlink(g.db, Buffer.from(digestKey(st.set, layout, before.slot, b)));
          await router.room();
        }
      }
      await router.flush();
    } catch (e) {
      notes.push(`the previous row digests could not all be removed (${describeRedisFailure(e)}); the next full warm sweeps them`);
    }
    const written: Record<string, number> = {};
    for (const g of touched) written[g.database] = g.sets.reduce((n, st) => n + st.written, 0);
    return {
      ...plan,
      needed: true,
      warmed: true,
      written,
      deleted: touched.reduce((n, g) => n + g.changes.delete, 0),
      notes,
      durationMs: Date.now() - started,
    };
  } finally {
    router?.close();
    await lock?.release().catch(() => undefined);
    await src.close();
  }
}
