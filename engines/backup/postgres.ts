// The PostgreSQL part of a backup: `pg_dump -Fc` streamed into the archive, and `pg_restore` fed
// from it. The dump runs on a snapshot exported by our own transaction, so the row counts and the
// migration history in the manifest are of exactly the data in the dump.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { PassThrough } from "node:stream";
import * as path from "node:path";
import type { Client } from "pg";
import { connect, readHistory, redactUrl } from "../postgres";
import type { ArchiveWriter, PartReader } from "./container";

export interface PostgresManifest {
  database: string;
  server: string;
  serverVersionNum: number;
  /** The pg_dump that wrote the part (pg_restore must be at least this major version). */
  pgDump: { version: string; major: number };
  historyTable: string;
  /** The highest applied migration, null when the database has no history table. */
  schemaVersion: number | null;
  migrations: { version: number; name: string; checksum: string }[];
  tables: { table: string; rows: number }[];
  /** Bytes of the tables and indexes on the server (pg_database_size). */
  databaseBytes: number;
  part: string;
}

/** A PostgreSQL backup or restore that cannot go ahead or failed; says what to do next. */
export class PostgresBackupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PostgresBackupError";
  }
}

export const DEFAULT_HISTORY_TABLE = "public.schema_migrations";

/** A client tool (pg_dump, pg_restore) of at least `major`, and its version. */
export interface PgTool {
  path: string;
  version: string;
  major: number;
}

function toolVersion(file: string): PgTool | undefined {
  const r = spawnSync(file, ["--version"], { encoding: "utf8" });
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(r.stdout ?? "");
  if (r.status !== 0 || !m) return undefined;
  return { path: file, version: m[0].replace(/^\(PostgreSQL\)\s+/, ""), major: Number(m[1]) };
}

const toolCache = new Map<string, PgTool[]>();

/** Every `tool` on this machine, newest first: $PG_BIN, the Debian/Ubuntu version directories, then PATH. */
function pgTools(tool: string): PgTool[] {
  const cached = toolCache.get(tool);
  if (cached) return cached;
  const candidates: string[] = [];
  if (process.env.PG_BIN) candidates.push(path.join(process.env.PG_BIN, tool));
  const debian = "/usr/lib/postgresql";
  if (existsSync(debian)) for (const v of readdirSync(debian)) candidates.push(path.join(debian, v, "bin", tool));
  const fromPath = candidates.length;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) if (dir) candidates.push(path.join(dir, tool));
  const found: PgTool[] = [];
  for (const [i, f] of candidates.entries()) {
    // $PG_BIN and the version directories are enough when they have one; PATH's wrappers are slow to ask.
    if (i >= fromPath && found.length) break;
    if (!existsSync(f)) continue;
    const t = toolVersion(f);
    if (t) found.push(t);
  }
  found.sort((a, b) => b.major - a.major);
  toolCache.set(tool, found);
  return found;
}

/** The newest `tool` on this machine; refuses one older than the server, naming the version to install. */
export function findPgTool(tool: "pg_dump" | "pg_restore", serverMajor: number): PgTool {
  const found = pgTools(tool);
  if (found.length === 0) {
    throw new PostgresBackupError(`${tool} not found: install the PostgreSQL ${serverMajor} client (apt-get install postgresql-client-${serverMajor}) or set PG_BIN to its bin directory`);
  }
  if (found[0].major < serverMajor) {
    throw new PostgresBackupError(
      `${tool} ${found[0].version} (${found[0].path}) is older than the server (PostgreSQL ${serverMajor}): ` +
        `install the PostgreSQL ${serverMajor} client (apt-get install postgresql-client-${serverMajor}) or set PG_BIN to its bin directory`,
    );
  }
  return found[0];
}

/** The libpq connection string without the password (which goes in PGPASSWORD, not the process list). */
export function libpqTarget(url: string): { conninfo: string; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  u.password = "";
  // node-pg's own sslmode values that libpq does not know.
  if (u.searchParams.get("sslmode") === "no-verify") u.searchParams.set("sslmode", "require");
  return { conninfo: u.toString(), env };
}

async function serverInfo(client: Client): Promise<{ server: string; num: number; database: string; bytes: number }> {
  const r = await client.query<{ v: string; n: string; d: string; b: string }>(
    "SELECT version() AS v, current_setting('server_version_num') AS n, current_database() AS d, pg_database_size(current_database()) AS b",
  );
  return { server: r.rows[0].v, num: Number(r.rows[0].n), database: r.rows[0].d, bytes: Number(r.rows[0].b) };
}

/** Ordinary and partitioned tables of the user's schemas (not partitions: their parent counts them). */
export async function userTables(client: Client): Promise<string[]> {
  const r = await client.query<{ t: string }>(`
    SELECT format('%I.%I', n.nspname, c.relname) AS t
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
     ORDER BY 1`);
  return r.rows.map((x) => x.t);
}

/**
 * Exact row counts, all in one statement (one round trip however many tables). Without parallel
 * workers: the planner gathers such a UNION ALL with workers, whose start cost ten times the scans
 * of a database of some 40k rows on a busy machine (EXPLAIN ANALYZE: a 155-ms Gather over 15 ms of
 * scans) and takes cores from the `pg_dump` or `pg_restore` beside it. Large databases are counted
 * on several connections instead (verifyPostgresRestore). The session is the caller's own and
 * ends with the count.
 */
async function rowCounts(client: Client, tables: string[]): Promise<{ table: string; rows: number }[]> {
  if (tables.length === 0) return [];
  const sql = tables.map((t, i) => `SELECT ${i} AS i, count(*) AS n FROM ${t}`).join(" UNION ALL ");
  const [, r] = (await client.query(`SET max_parallel_workers_per_gather = 0; ${sql}`)) as unknown as [unknown, { rows: { i: number; n: string }[] }];
  const byIndex = new Map(r.rows.map((row) => [Number(row.i), Number(row.n)]));
  return tables.map((t, i) => ({ table: t, rows: byIndex.get(i) ?? 0 }));
}

async function historyOf(client: Client, historyTable: string): Promise<{ schemaVersion: number | null; migrations: PostgresManifest["migrations"] }> {
  const rows = await readHistory(client, historyTable);
  return {
    schemaVersion: rows.length ? Math.max(...rows.map((r) => r.version)) : null,
    migrations: rows.map((r) => ({ version: r.version, name: r.name, checksum: r.checksum })),
  };
}

export interface PostgresBackupOptions {
  url: string;
  historyTable?: string;
  part?: string;
  onProgress?: (bytes: number) => void;
}

/**
 * What a restore needs of a PostgreSQL part before it reaches the manifest at the archive's end: in
 * the part's header, so that a restore checks its PostgreSQL target and starts `pg_restore` in its
 * first pass over the archive (restoreBackup). Archives written before it was there lack
 * `schemaVersion`; their PostgreSQL part is restored after that pass.
 */
export interface PostgresPartMeta {
  format: "custom";
  pgDump: string;
  pgDumpMajor?: number;
  historyTable?: string;
  schemaVersion?: number | null;
}

/** What a restore checks its target with: from the manifest, or from the part's header. */
export type PostgresPartFacts = Pick<PostgresManifest, "historyTable" | "schemaVersion" | "pgDump">;

/** The part header's facts a restore checks its target with, or undefined when the archive predates them. */
export function postgresPartFacts(meta: unknown): PostgresPartFacts | undefined {
  const m = meta as Partial<PostgresPartMeta> | undefined;
  if (!m || typeof m.pgDump !== "string" || typeof m.pgDumpMajor !== "number" || typeof m.historyTable !== "string" || m.schemaVersion === undefined) return undefined;
  return { historyTable: m.historyTable, schemaVersion: m.schemaVersion, pgDump: { version: m.pgDump, major: m.pgDumpMajor } };
}

/** Streams `pg_dump -Fc` of the database into the open archive, on one exported snapshot. */
export async function backupPostgres(writer: ArchiveWriter, opts: PostgresBackupOptions): Promise<PostgresManifest> {
  const historyTable = opts.historyTable ?? DEFAULT_HISTORY_TABLE;
  const part = opts.part ?? "postgres.dump";
  const client = await connect(opts.url, "backup");
  try {
    // One round trip before pg_dump starts: the snapshot and the server's version (for the client
    // tool's); everything else is read on that snapshot while the dump runs.
    const [, started] = (await client.query(
      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_export_snapshot() AS s, current_setting('server_version_num') AS n",
    )) as unknown as [unknown, { rows: { s: string; n: string }[] }];
    const snapshot = started.rows[0].s;
    const pgDump = findPgTool("pg_dump", Math.floor(Number(started.rows[0].n) / 10000));
    const { conninfo, env } = libpqTarget(opts.url);
    const child = spawn(pgDump.path, ["-Fc", "--no-password", `--snapshot=${snapshot}`, "-d", conninfo], { env, stdio: ["ignore", "pipe", "pipe"] });
    // Read from the start: when a child exits, Node resumes (and so discards) every stdout nobody is
    // reading yet — a small database's pg_dump can finish before the archive key is derived.
    const dump = child.stdout.pipe(new PassThrough({ highWaterMark: 1 << 20 }));
    const stderr = collect(child.stderr);
    const exited = new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (code) => resolve(code));
    });
    // Read on our snapshot while pg_dump reads the same one: the history first (the part's header
    // carries the schema version; pg_dump spends its first moments reading the catalogs), then
    // the server's facts and the counts.
    const history = historyOf(client, historyTable);
    const facts = (async () => {
      const info = await serverInfo(client);
      const tables = await rowCounts(client, await userTables(client));
      return { info, tables };
    })();
    history.catch(() => undefined);
    facts.catch(() => undefined);
    let bytes = 0;
    try {
      const meta: PostgresPartMeta = { format: "custom", pgDump: pgDump.version, pgDumpMajor: pgDump.major, historyTable, schemaVersion: (await history).schemaVersion };
      await writer.beginPart({ name: part, kind: "postgres", meta });
      for await (const chunk of dump as AsyncIterable<Buffer>) {
        await writer.write(chunk);
        bytes += chunk.length;
        opts.onProgress?.(bytes);
      }
    } catch (err) {
      child.kill("SIGTERM");
      throw err;
    }
    const code = await exited;
    if (code !== 0) throw new PostgresBackupError(`pg_dump of ${redactUrl(opts.url)} failed (exit ${code}): ${stderr().trim() || "no message"}`);
    // A custom-format dump is never empty (it starts with its "PGDMP" header): no bytes means the output was lost.
    if (bytes === 0) throw new PostgresBackupError(`pg_dump of ${redactUrl(opts.url)} exited 0 but its output reached the archive empty: nothing was written; run the backup again`);
    await writer.endPart();
    const [f, h] = await Promise.all([facts, history]);
    const info = f.info;
    return {
      database: info.database,
      server: info.server,
      serverVersionNum: info.num,
      pgDump: { version: pgDump.version, major: pgDump.major },
      historyTable,
      schemaVersion: h.schemaVersion,
      migrations: h.migrations,
      tables: f.tables,
      databaseBytes: info.bytes,
      part,
    };
  } finally {
    // The snapshot's transaction is read-only: closing the session ends it; nobody waits for that.
    void client.end().catch(() => undefined);
  }
}

/** What is in the target database that a restore would collide with. */
export interface PostgresTargetState {
  serverVersionNum: number;
  userObjects: number;
  schemaVersion: number | null;
}

/** Reads the target without changing it. */
export async function inspectPostgresTarget(url: string, historyTable = DEFAULT_HISTORY_TABLE): Promise<PostgresTargetState> {
  const client = await connect(url, "restore check");
  try {
    const info = await serverInfo(client);
    const r = await client.query<{ n: string }>(`
      SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r','p','v','m','S','f') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg\\_%'
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`);
    const h = await historyOf(client, historyTable);
    return { serverVersionNum: info.num, userObjects: Number(r.rows[0].n), schemaVersion: h.schemaVersion };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Refuses (throws, nothing changed) a restore onto a target whose schema is newer than the
 * archive's, onto a non-empty database without `replace`, or with a pg_restore too old for the dump.
 */
export function checkPostgresTarget(url: string, m: Pick<PostgresManifest, "schemaVersion" | "pgDump">, t: PostgresTargetState, opts: { replace?: boolean }): PgTool {
  const where = redactUrl(url);
  if (t.schemaVersion !== null && (m.schemaVersion === null || t.schemaVersion > m.schemaVersion)) {
    throw new PostgresBackupError(
      `${where} is at schema version ${t.schemaVersion}, newer than the archive's (${m.schemaVersion ?? "none"}): restoring would take the schema back under the migrations that ran since. ` +
        `Restore into a new, empty database instead (and migrate it forward with \`nexus-db pg migrate\`).`,
    );
  }
  if (t.userObjects > 0 && !opts.replace) {
    throw new PostgresBackupError(`${where} is not empty (${t.userObjects} tables, views or sequences): restore into an empty database, or pass --replace to drop and recreate what the archive holds`);
  }
  return findPgTool("pg_restore", Math.max(m.pgDump.major, Math.floor(t.serverVersionNum / 10000)));
}

export interface PostgresRestoreOptions {
  url: string;
  replace?: boolean;
  /** Leave out ownership and grants (restoring where the stack's roles do not exist). */
  noOwner?: boolean;
  onProgress?: (bytes: number) => void;
}

/** A `pg_restore` that has been fed all of its part but the last piece: it cannot commit until `commit()`. */
export interface PostgresRestoreInFlight {
  /** Hands over the last piece and waits for `pg_restore` to commit; throws when it failed. */
  commit(): Promise<void>;
  /** Kills `pg_restore` before it could commit: the server rolls its one transaction back. */
  abort(): Promise<void>;
}

/**
 * Starts `pg_restore` (one transaction: it lands whole or not at all) and feeds it the part — all
 * of it but the last piece, which is held back. `pg_restore` reads its input to the last byte (a
 * custom-format dump ends with the end marker of its last data block, or with its table of
 * contents when it has no data) before it commits, so until `commit()` hands that piece over, its
 * transaction stays open: a restore whose archive turns out damaged further on calls `abort()`
 * and nothing of it stays in the database. Throws (after the child exited) when `pg_restore`
 * failed while being fed.
 */
export async function startPostgresRestore(part: PartReader, tool: PgTool, opts: PostgresRestoreOptions): Promise<PostgresRestoreInFlight> {
  const { conninfo, env } = libpqTarget(opts.url);
  const args = ["--single-transaction", "--exit-on-error", "--no-password", "-d", conninfo];
  if (opts.replace) args.push("--clean", "--if-exists");
  if (opts.noOwner) args.push("--no-owner", "--no-acl");
  const child = spawn(tool.path, args, { env, stdio: ["pipe", "ignore", "pipe"] });
  const stderr = collect(child.stderr);
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve(code));
  });
  exited.catch(() => undefined);
  let pipeError: Error | undefined;
  child.stdin.on("error", (e) => (pipeError ??= e));
  let bytes = 0;
  const alive = () => !pipeError && child.exitCode === null && child.signalCode === null;
  const feed = async (chunk: Buffer): Promise<void> => {
    if (!child.stdin.write(chunk)) await new Promise<void>((resolve) => {
      const go = () => { child.stdin.off("drain", go); child.stdin.off("close", go); resolve(); };
      child.stdin.on("drain", go);
      child.stdin.on("close", go);
    });
    bytes += chunk.length;
    opts.onProgress?.(bytes);
  };
  const failed = async (): Promise<never> => {
    child.stdin.destroy();
    const code = await exited.catch(() => null);
    throw new PostgresBackupError(
      `pg_restore into ${redactUrl(opts.url)} failed (exit ${code}): ${stderr().trim() || pipeError?.message || "no message"}\n` +
        `  It ran in one transaction, so nothing of this restore stayed in the database: once the server is reachable again, run the same restore again.`,
    );
  };
  let held: Buffer | undefined;
  try {
    for await (const chunk of part.chunks()) {
      if (!alive()) break;
      if (held) await feed(held);
      held = chunk;
    }
  } catch (err) {
    // The part failed authentication (or could not be read) half way: pg_restore never commits.
    child.kill("SIGKILL");
    await exited.catch(() => undefined);
    throw err;
  }
  if (!alive()) return failed();
  let settled = false;
  return {
    async commit() {
      settled = true;
      if (held && alive()) await feed(held);
      child.stdin.end();
      const code = await exited;
      if (code !== 0 || pipeError) await failed();
    },
    async abort() {
      if (settled) return;
      settled = true;
      child.kill("SIGKILL");
      await exited.catch(() => undefined);
    },
  };
}

/** Feeds the part to `pg_restore` in one transaction: it lands whole or not at all. */
export async function restorePostgres(part: PartReader, tool: PgTool, opts: PostgresRestoreOptions): Promise<void> {
  await (await startPostgresRestore(part, tool, opts)).commit();
}

/** Bytes of table data (main forks) per verifying connection: below this, a second connection costs more than it saves. */
const VERIFY_BYTES_PER_CONNECTION = 32 << 20;
const VERIFY_MAX_CONNECTIONS = 4;

/**
 * Tables split into at most `n` groups of about equal size (largest first, each to the lightest
 * group), so that parallel counts end at about the same time.
 */
export function balanceBySize<T extends { bytes: number }>(items: T[], n: number): T[][] {
  const groups = Array.from({ length: Math.max(1, n) }, () => ({ bytes: 0, items: [] as T[] }));
  for (const it of [...items].sort((a, b) => b.bytes - a.bytes)) {
    const g = groups.reduce((min, x) => (x.bytes < min.bytes ? x : min));
    g.items.push(it);
    g.bytes += it.bytes;
  }
  return groups.map((g) => g.items).filter((g) => g.length > 0);
}

/**
 * Row counts of the target after a restore, compared with the manifest; the differences, in words.
 * The first scan of freshly restored tables is the expensive one (it sets every row's hint bits),
 * so a large database is counted on several connections at once, its tables split by size.
 * `early` is a connection opened while the restore ran.
 */
export async function verifyPostgresRestore(
  url: string,
  m: PostgresManifest,
  early?: Promise<Client>,
  opts: { bytesPerConnection?: number; onGroups?: (tables: string[][]) => void } = {},
): Promise<string[]> {
  const client = early ? await early : await connect(url, "restore verify");
  const extra: Client[] = [];
  try {
    const names = m.tables.map((t) => t.table);
    // What a count scans: the main forks (not indexes or TOAST), of every partition of a partitioned table.
    const sized = await client.query<{ t: string; b: string }>(
      "SELECT t, coalesce((SELECT sum(pg_relation_size(p.relid)) FROM pg_partition_tree(r) p), pg_relation_size(r), 0) AS b FROM unnest($1::text[]) AS t, to_regclass(t) AS r",
      [names],
    );
    const items = sized.rows.map((r) => ({ table: r.t, bytes: Number(r.b) }));
    const total = items.reduce((a, x) => a + x.bytes, 0);
    const groups = balanceBySize(items, Math.min(VERIFY_MAX_CONNECTIONS, Math.floor(total / (opts.bytesPerConnection ?? VERIFY_BYTES_PER_CONNECTION))));
    opts.onGroups?.(groups.map((g) => g.map((x) => x.table)));
    extra.push(...(await Promise.all(groups.slice(1).map(() => connect(url, "restore verify")))));
    const [counted, h] = await Promise.all([
      Promise.all(groups.map((g, i) => rowCounts(i === 0 ? client : extra[i - 1], g.map((x) => x.table)))),
      historyOf(client, m.historyTable),
    ]);
    const counts = new Map(counted.flat().map((t) => [t.table, t.rows]));
    const problems = m.tables.filter((t) => counts.get(t.table) !== t.rows).map((t) => `${t.table}: ${counts.get(t.table)} rows, the archive has ${t.rows}`);
    if (h.schemaVersion !== m.schemaVersion) problems.push(`schema version ${h.schemaVersion}, the archive has ${m.schemaVersion}`);
    return problems;
  } finally {
    await Promise.all([client, ...extra].map((c) => c.end().catch(() => undefined)));
  }
}

/** The last 64 KiB a stream wrote, for error messages. */
function collect(stream: NodeJS.ReadableStream): () => string {
  let text = "";
  stream.setEncoding("utf8");
  stream.on("data", (s: string) => {
    text = (text + s).slice(-65536);
  });
  return () => text;
}
