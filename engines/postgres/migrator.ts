// Runs the plan: lock, validate everything, then one transaction per migration. Failures come back
// in the result (what ran, what failed, what did not run) rather than as throws, like Kysely's
// Migrator; `assertMigrated` turns a failed result into an exception for callers that want one.
import * as os from "node:os";
import { performance } from "node:perf_hooks";
import type { Client, ClientConfig } from "pg";
import { isPgError, MigrationError, type PgErrorFields } from "./errors";
import { ensureHistoryTable, historyTableSql, literal, readHistory } from "./history";
import { acquireMigrationLock, releaseMigrationLock } from "./lock";
import { planMigrations, type HistoryRow, type MigrationPlan } from "./plan";
import { parseMigrationSettings, type MigrationSettings, type MigrationSettingsInput } from "./settings";
import type { Migration, MigrationRef, MigrationSource } from "./source";
import { excerpt, lineAtOffset, lineAtPgPosition, offsetOfCodePoint, splitStatements, SqlSyntaxError, type SqlStatement } from "./sql-text";
import { redactUrl } from "../shared/redact";

/** A connection string, or `pg` client settings (the provider passes host/user/password separately). */
export type ConnectionInput = string | ClientConfig;

export interface EngineOptions {
  connection: ConnectionInput;
  source: MigrationSource;
  /** Parsed settings or raw stack config; defaults as documented in settings.ts. */
  settings?: MigrationSettingsInput | MigrationSettings;
  /** Recorded in `applied_by`. Default: the database user (`current_user`). */
  appliedBy?: string;
  /** Called as each migration starts and ends (the CLI prints these). */
  onProgress?: (event: ProgressEvent) => void;
}

export interface ProgressEvent {
  phase: "start" | "done" | "failed";
  direction: "up" | "down";
  migration: MigrationRef;
  file: string;
  executionMs?: number;
}

export interface ExecutedMigration extends MigrationRef {
  file: string;
  direction: "up" | "down";
  executionMs: number;
}

export interface MigrateResult {
  ok: boolean;
  /** The plan decided under the lock; absent when the run failed before (source, connection, lock). */
  plan?: MigrationPlan;
  applied: ExecutedMigration[];
  reverted: ExecutedMigration[];
  baselined: MigrationRef[];
  repaired: MigrationRef[];
  failed?: { migration: MigrationRef; file: string; direction: "up" | "down"; error: MigrationError };
  /** Planned migrations that did not run, because of a refusal or an earlier failure. */
  notRun: MigrationRef[];
  /** Versions in the history table after the run. */
  appliedVersions: number[];
  currentVersion: number | null;
  error?: MigrationError;
}

/** Throws the result's error, if any. */
export function assertMigrated(result: MigrateResult): MigrateResult {
  if (result.error) throw result.error;
  return result;
}

export { redactUrl };

function describeConnection(c: ConnectionInput): string {
  if (typeof c === "string") return redactUrl(c);
  if (c.connectionString) return redactUrl(c.connectionString);
  return `${c.user ?? "?"}@${c.host ?? "localhost"}:${c.port ?? 5432}/${c.database ?? ""}`;
}

/** Opens a client named after what it does, so `pg_stat_activity` (and a lock error) says who it is. */
export async function connect(connection: ConnectionInput, purpose: string): Promise<Client> {
  const { Client: PgClient } = require("pg") as typeof import("pg");
  const config: ClientConfig = typeof connection === "string" ? { connectionString: connection } : { ...connection };
  config.application_name = `nexus-db ${purpose} (pid ${process.pid} on ${os.hostname()})`.slice(0, 63);
  const client = new PgClient(config);
  // A dropped connection emits 'error' on the client; the pending query reports it, so do not crash.
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw new MigrationError("connection", `cannot connect to ${describeConnection(connection)}: ${(err as Error).message}`, { cause: err });
  }
  return client;
}

/** Errors of a server that is not accepting connections yet (starting, in recovery, its port not listening). */
function isStarting(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === "57P03" || e?.code === "ECONNREFUSED" || e?.code === "ECONNRESET" || /Connection terminated unexpectedly|the database system is (starting up|in recovery mode)/.test(e?.message ?? "");
}

/**
 * Waits, up to `ms`, while the server is starting (a container `up` has just started again after
 * it was stopped or killed: crash recovery first). Other errors, and the last one after `ms`, are
 * left to the connection that follows.
 */
export async function waitUntilAccepting(connection: ConnectionInput, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const c = await connect(connection, "wait for the server");
      await c.end();
      return;
    } catch (err) {
      if (!isStarting((err as { cause?: unknown }).cause ?? err) || Date.now() >= deadline) return;
      // A refused or "starting up" connection costs the server next to nothing: ask often.
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function toMigrationError(err: unknown, kind: MigrationError["kind"] = "connection"): MigrationError {
  if (err instanceof MigrationError) return err;
  const pg = isPgError(err) ? ` (SQLSTATE ${err.code})` : "";
  return new MigrationError(kind, `${(err as Error)?.message ?? String(err)}${pg}`, { sqlstate: isPgError(err) ? err.code : undefined, cause: err });
}

function emptyResult(): MigrateResult {
  return { ok: false, applied: [], reverted: [], baselined: [], repaired: [], notRun: [], appliedVersions: [], currentVersion: null };
}

/** Applies (or, with a lower `targetVersion`, reverts) migrations under the lock. */
export async function migrate(opts: EngineOptions): Promise<MigrateResult> {
  return runLocked(opts, "migrate", (s) => s);
}

/**
 * Dev stacks' delete: every down file in reverse order, then the history table. Refuses (before
 * anything runs) when a down file is missing.
 */
export async function revertAll(opts: EngineOptions): Promise<MigrateResult> {
  const result = await runLocked(opts, "revert-all", (s) => ({ ...s, targetVersion: 0, baselineVersion: undefined, protected: false }));
  if (result.ok) {
    const settings = parseMigrationSettings(opts.settings);
    const client = await connect(opts.connection, "revert-all");
    try {
      await client.query(`DROP TABLE IF EXISTS ${historyTableSql(settings.historyTable).qualified}`);
      result.appliedVersions = [];
      result.currentVersion = null;
    } finally {
      await client.end();
    }
  }
  return result;
}

async function runLocked(opts: EngineOptions, purpose: string, adjust: (s: MigrationSettings) => MigrationSettings): Promise<MigrateResult> {
  const result = emptyResult();
  let settings: MigrationSettings;
  let migrations: Migration[];
  try {
    settings = adjust(parseMigrationSettings(opts.settings));
    migrations = await opts.source.getMigrations();
  } catch (err) {
    result.error = toMigrationError(err, "source");
    return result;
  }

  let client: Client;
  try {
    client = await connect(opts.connection, purpose);
  } catch (err) {
    result.error = toMigrationError(err);
    return result;
  }

  let lock: bigint | undefined;
  try {
    lock = await acquireMigrationLock(client, settings.historyTable, settings.lockTimeoutMs);
    // Read the history only under the lock: a concurrent applier has finished by now.
    const existed = await ensureHistoryTable(client, settings.historyTable);
    const history = existed ? await readHistory(client, settings.historyTable, true) : [];
    const plan = await planMigrations({ migrations, history, settings, location: opts.source.location });
    result.plan = plan;
    result.appliedVersions = history.map((r) => r.version);
    result.currentVersion = plan.currentVersion;

    if (plan.problems.length > 0) {
      result.notRun = [...plan.toApply, ...plan.toRevert];
      result.error = new MigrationError("validation", plan.problems.join("\n"), {
        problems: plan.problems,
        file: plan.checksumFailures[0]?.file ?? plan.blocked[0]?.file,
        line: plan.blocked[0]?.line,
      });
      return result;
    }

    const runner = new MigrationRunner(client, settings, opts);
    const byVersion = new Map(migrations.map((m) => [m.version, m]));
    if (plan.toRepair.length > 0) result.repaired = await runner.repair(plan.toRepair.map((f) => byVersion.get(f.version)!));
    if (plan.toBaseline.length > 0) result.baselined = await runner.baseline(plan.toBaseline.map((r) => byVersion.get(r.version)!));

    let version = plan.currentVersion;
    const queue: { m: Migration; direction: "up" | "down" }[] = [
      ...plan.toRevert.map((r) => ({ m: byVersion.get(r.version)!, direction: "down" as const })),
      ...plan.toApply.map((r) => ({ m: byVersion.get(r.version)!, direction: "up" as const })),
    ];
    for (let i = 0; i < queue.length; i++) {
      const { m, direction } = queue[i];
      const file = direction === "up" ? m.file : m.down!.file;
      opts.onProgress?.({ phase: "start", direction, migration: ref(m), file });
      try {
        const executionMs = direction === "up" ? await runner.up(m, version) : await runner.down(m, version);
        const done: ExecutedMigration = { ...ref(m), file, direction, executionMs };
        (direction === "up" ? result.applied : result.reverted).push(done);
        opts.onProgress?.({ phase: "done", direction, migration: ref(m), file, executionMs });
        version = direction === "up" ? Math.max(version ?? 0, m.version) : lowerApplied(history, result, m.version);
      } catch (err) {
        const error = toMigrationError(err, "sql");
        result.failed = { migration: ref(m), file, direction, error };
        result.notRun = queue.slice(i + 1).map((q) => ref(q.m));
        result.error = error;
        opts.onProgress?.({ phase: "failed", direction, migration: ref(m), file });
        break;
      }
    }
    const changed = result.applied.length + result.reverted.length + result.baselined.length + result.repaired.length > 0;
    if (changed) {
      const after = await readHistory(client, settings.historyTable, true);
      result.appliedVersions = after.map((r) => r.version);
      result.currentVersion = after.length > 0 ? after[after.length - 1].version : null;
    }
  } catch (err) {
    result.error ??= toMigrationError(err);
  } finally {
    if (lock !== undefined) await releaseMigrationLock(client, lock).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
  result.ok = result.error === undefined;
  return result;
}

function ref(m: MigrationRef): MigrationRef {
  return { version: m.version, name: m.name, checksum: m.checksum };
}

/** The highest version still applied after reverting `reverted` (for "the database stays at …"). */
function lowerApplied(history: HistoryRow[], result: MigrateResult, reverted: number): number | null {
  const gone = new Set([...result.reverted.map((r) => r.version), reverted]);
  const left = [...history, ...result.baselined].map((r) => r.version).filter((v) => !gone.has(v));
  return left.length > 0 ? Math.max(...left) : null;
}

/** Executes single migrations on a locked connection. */
class MigrationRunner {
  private readonly table: string;
  private readonly appliedBy: string;
  private readonly lockTimeout: string;

  constructor(
    private readonly client: Client,
    settings: MigrationSettings,
    opts: EngineOptions,
  ) {
    this.table = historyTableSql(settings.historyTable).qualified;
    this.appliedBy = opts.appliedBy === undefined ? "current_user" : literal(client, opts.appliedBy);
    this.lockTimeout = settings.statementLockTimeoutMs === undefined ? "" : `SET lock_timeout = ${settings.statementLockTimeoutMs}`;
  }

  /** Runs an up file and records it; returns its execution time. */
  async up(m: Migration, stayingAt: number | null): Promise<number> {
    const record = (ms: number) =>
      `INSERT INTO ${this.table} (version, name, checksum, execution_ms, applied_by) VALUES (${m.version}, ${literal(this.client, m.name)}, ${literal(this.client, m.checksum)}, ${ms}, ${this.appliedBy})`;
    return this.run({ name: m.name, file: m.file, sql: m.sql, transactional: m.transactional }, record, stayingAt);
  }

  /** Runs a down file and removes the history row. */
  async down(m: Migration, stayingAt: number | null): Promise<number> {
    const d = m.down!;
    return this.run({ name: `${m.name} (down)`, file: d.file, sql: d.sql, transactional: d.transactional }, () => `DELETE FROM ${this.table} WHERE version = ${m.version}`, stayingAt);
  }

  async baseline(ms: Migration[]): Promise<MigrationRef[]> {
    const values = ms.map((m) => `(${m.version}, ${literal(this.client, m.name)}, ${literal(this.client, m.checksum)}, 0, ${this.appliedBy}, true)`);
    await this.client.query(`INSERT INTO ${this.table} (version, name, checksum, execution_ms, applied_by, baseline) VALUES ${values.join(", ")}`);
    return ms.map(ref);
  }

  async repair(ms: Migration[]): Promise<MigrationRef[]> {
    const updates = ms.map((m) => `UPDATE ${this.table} SET checksum = ${literal(this.client, m.checksum)}, name = ${literal(this.client, m.name)} WHERE version = ${m.version};`);
    await this.client.query(`BEGIN; ${updates.join(" ")} COMMIT;`);
    return ms.map(ref);
  }

  private async run(f: { name: string; file: string; sql: string; transactional: boolean }, record: (ms: number) => string, stayingAt: number | null): Promise<number> {
    const started = performance.now();
    // Each migration sees the same session settings whether it runs alone or in a batch.
    const after = "RESET ALL";
    if (f.transactional) {
      await this.client.query(this.lockTimeout ? `BEGIN; ${this.lockTimeout}` : "BEGIN");
      const { completed, error } = await queryCountingStatements(this.client, f.sql);
      if (error) {
        await this.client.query("ROLLBACK").catch(() => undefined);
        await this.client.query(after).catch(() => undefined);
        throw await failure(f, error, { kind: "file", completed }, `rolled back; the database stays at ${versionText(stayingAt)}`);
      }
      const ms = Math.round(performance.now() - started);
      try {
        await this.client.query(`${record(ms)}; COMMIT; ${after}`);
      } catch (err) {
        await this.client.query("ROLLBACK").catch(() => undefined);
        throw toMigrationError(err, "sql");
      }
      return ms;
    }

    // No transaction: statement by statement, so CREATE INDEX CONCURRENTLY is at top level.
    let statements: SqlStatement[];
    try {
      statements = await splitStatements(f.sql);
    } catch (err) {
      if (err instanceof SqlSyntaxError) {
        throw new MigrationError("sql", `${f.file}:${err.line}: ${f.name} failed: ERROR 42601: ${err.message}\n  nothing ran; the database stays at ${versionText(stayingAt)}`, { file: f.file, line: err.line, sqlstate: "42601" });
      }
      throw err;
    }
    if (this.lockTimeout) await this.client.query(this.lockTimeout);
    for (const s of statements) {
      try {
        await this.client.query(s.text);
      } catch (err) {
        await this.client.query(after).catch(() => undefined);
        const note =
          s.index === 0
            ? `nothing ran; the database stays at ${versionText(stayingAt)}`
            : `no-transaction migration: the ${s.index} statement(s) before line ${s.line} ran and stay; the history still says ${versionText(stayingAt)}. Make the file safe to run again (IF NOT EXISTS; drop an INVALID index left by a failed CONCURRENTLY build) and migrate again`;
        throw await failure(f, err, { kind: "statement", statement: s }, note);
      }
    }
    await this.refuseInvalidIndexes(f, statements, stayingAt);
    const ms = Math.round(performance.now() - started);
    await this.client.query(`${record(ms)}; ${after}`);
    return ms;
  }

  /**
   * A CONCURRENTLY build that was interrupted (a killed run, a failed unique build) leaves an
   * INVALID index, and `IF NOT EXISTS` then skips it on the next run: check the migration's indexes
   * before recording it, so "applied" means the indexes work.
   */
  private async refuseInvalidIndexes(f: { name: string; file: string }, statements: SqlStatement[], stayingAt: number | null): Promise<void> {
    const built = new Map<string, SqlStatement>();
    for (const s of statements) {
      const idx = (s.node as { IndexStmt?: { idxname?: string; concurrent?: boolean } }).IndexStmt;
      if (idx?.concurrent && idx.idxname) built.set(idx.idxname, s);
    }
    if (built.size === 0) return;
    const r = await this.client.query<{ name: string }>(
      "SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid AND c.relname = ANY($1::text[])",
      [[...built.keys()]],
    );
    if (r.rows.length === 0) return;
    await this.client.query("RESET ALL").catch(() => undefined);
    const first = built.get(r.rows[0].name)!;
    const names = r.rows.map((x) => x.name);
    throw new MigrationError(
      "sql",
      `${f.file}:${first.line}: ${f.name} failed: index ${names.join(", ")} is INVALID (an earlier CONCURRENTLY build of it was interrupted, and IF NOT EXISTS kept it).\n` +
        `  not recorded; the history still says ${versionText(stayingAt)}. Drop it (${names.map((n) => `DROP INDEX CONCURRENTLY ${n};`).join(" ")}) and migrate again.`,
      { file: f.file, line: first.line },
    );
  }
}

function versionText(v: number | null): string {
  return v === null ? "no version (nothing applied)" : `version ${v}`;
}

/**
 * Sends a whole file as one simple query (one round trip, like a single `psql -c`) and counts the
 * statements PostgreSQL completed, so an error without a position still names its statement.
 */
function queryCountingStatements(client: Client, sql: string): Promise<{ completed: number; error?: unknown }> {
  if (sql.trim() === "") return Promise.resolve({ completed: 0 });
  const { Query } = require("pg") as typeof import("pg");
  return new Promise((resolve) => {
    let completed = 0;
    const q = new Query(sql) as InstanceType<typeof Query> & { handleCommandComplete(msg: unknown, con: unknown): void };
    const handle = q.handleCommandComplete;
    // pg's Query has no public per-statement event; wrap its CommandComplete handler.
    q.handleCommandComplete = function (msg: unknown, con: unknown) {
      completed++;
      return handle.call(this, msg, con);
    };
    q.on("end", () => resolve({ completed }));
    q.on("error", (error: unknown) => resolve({ completed, error }));
    client.query(q);
  });
}

type Where = { kind: "file"; completed: number } | { kind: "statement"; statement: SqlStatement };

/** The error for a failed statement: file, line, SQLSTATE, PostgreSQL's message and what state we are in. */
async function failure(f: { name: string; file: string; sql: string }, err: unknown, where: Where, state: string): Promise<MigrationError> {
  if (!isPgError(err)) {
    return new MigrationError("sql", `${f.file}: ${f.name} failed: ${(err as Error)?.message ?? String(err)}\n  ${state}`, { file: f.file, cause: err });
  }
  const e = err as PgErrorFields;
  const position = e.position ? Number(e.position) : undefined;
  let line: number | undefined;
  let statement: SqlStatement | undefined;
  if (where.kind === "statement") {
    statement = where.statement;
    line = position ? lineAtOffset(f.sql, statement.start + offsetOfCodePoint(statement.text, position - 1)) : statement.line;
  } else {
    if (position) line = lineAtPgPosition(f.sql, position);
    try {
      statement = (await splitStatements(f.sql))[where.completed];
    } catch {
      // The file does not parse: the server's position (a syntax error always has one) is all we have.
    }
    line ??= statement?.line;
  }
  const lines = [`${f.file}${line ? `:${line}` : ""}: ${f.name} failed: ERROR ${e.code}: ${e.message}`];
  if (e.detail) lines.push(`  detail: ${e.detail}`);
  if (e.hint) lines.push(`  hint: ${e.hint}`);
  if (e.where) lines.push(`  where: ${e.where.split("\n")[0]}`);
  if (statement) lines.push(`  statement: ${excerpt(statement.text)}`);
  lines.push(`  ${state}`);
  return new MigrationError("sql", lines.join("\n"), { file: f.file, line, sqlstate: e.code, cause: err });
}

export interface DatabaseView {
  /** The live history; `undefined` when the database could not be reached. */
  history?: HistoryRow[];
  /** Why the database could not be read. */
  unreachable?: string;
}

/** Reads the history without the lock and without creating anything (status, plan, preview). */
export async function readDatabase(connection: ConnectionInput, settings: MigrationSettings): Promise<DatabaseView> {
  let client: Client;
  try {
    client = await connect(connection, "plan");
  } catch (err) {
    return { unreachable: (err as Error).message };
  }
  try {
    return { history: await readHistory(client, settings.historyTable) };
  } catch (err) {
    return { unreachable: (err as Error).message };
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface PlanResult {
  migrations: Migration[];
  plan: MigrationPlan;
  history?: HistoryRow[];
  unreachable?: string;
}

/** What `migrate` would do now, from the files and (if reachable) the database. */
export async function planAgainstDatabase(
  opts: Omit<EngineOptions, "onProgress" | "appliedBy"> & { recorded?: MigrationRef[]; requireDatabase?: boolean; /** A read made moments ago (the provider's check). */ view?: DatabaseView },
): Promise<PlanResult> {
  const settings = parseMigrationSettings(opts.settings);
  const [migrations, view] = await Promise.all([opts.source.getMigrations(), opts.view ?? readDatabase(opts.connection, settings)]);
  if (opts.requireDatabase && view.unreachable) throw new MigrationError("connection", view.unreachable);
  const plan = await planMigrations({ migrations, history: view.history, recorded: opts.recorded, settings, location: opts.source.location });
  return { migrations, plan, history: view.history, unreachable: view.unreachable };
}
