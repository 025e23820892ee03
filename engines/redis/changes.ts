// Change-tracked re-warms: which keys of a set may have changed since its last complete warm,
// found through PostgreSQL's row versions instead of by hashing every row of the set's query.
//
// Every complete warm records the horizon of the snapshot it read: the snapshot's xmin (64-bit),
// the oldest transaction still running then. A transaction that snapshot did not see was running
// or started later, so every row it wrote (inserted, or a new version by UPDATE) has an xmin at or
// past the horizon: `age(xmin) <= age(horizon)`, both ages taken in one transaction. A set's
// `changes.keys` SQL (warmup-spec.ts) returns the keys of such rows, a superset of the keys that
// changed. A deletion leaves no row version: the set's own deleted rows show in its row count
// (the warmup checks it against the stored count plus the keys that came and went), a deleted row
// of a `deletable` table in the count of that table's rows written before the horizon.
//
// Anything doubtful and the re-warm compares every row as before: no recorded horizon, another
// server, timeline or database (a restore), or a horizon so old that 32-bit xids could have
// wrapped around.
import type { Client as PgClient } from "pg";
import type { ChangeTracking, WarmupSet } from "./warmup-spec";

/** What a complete warm records of the snapshot it read. */
export interface SourceHorizon {
  /** The snapshot's xmin (xid8, decimal). */
  xmin: string;
  /** Which PostgreSQL it was: system identifier, timeline and database oid (what is readable). */
  source: string;
}

/** The most transactions a horizon may be behind: half of the 32-bit xid space, with a margin. */
const MAX_AGE = 2 ** 30;

const TABLE = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/;

/** Checks a set's change tracking declaration; throws naming the set. */
export function checkChangeTracking(set: WarmupSet<string>, changes: ChangeTracking): void {
  if (!/\$1(?!\d)/.test(changes.keys)) throw new Error(`warmup set "${set.name}": changes.keys must compare row ages with $1 (e.g. WHERE age(t.xmin) <= $1)`);
  for (const t of changes.deletable ?? []) {
    if (!TABLE.test(t)) throw new Error(`warmup set "${set.name}": changes.deletable: ${JSON.stringify(t)} is not a table name (table or schema.table)`);
  }
}

/** Which PostgreSQL the warmup reads (outside a transaction: a refused function must not abort one). */
export async function sourceIdentity(pg: PgClient): Promise<string> {
  const one = async (sql: string) => {
    try {
      return String((await pg.query<{ v: unknown }>(sql)).rows[0]?.v ?? "?");
    } catch {
      return "?"; // not allowed for this role: the database's oid still tells a restore into another database
    }
  };
  const system = await one("SELECT system_identifier::text AS v FROM pg_control_system()");
  const timeline = await one("SELECT timeline_id::text AS v FROM pg_control_checkpoint()");
  const database = await one("SELECT oid::text AS v FROM pg_database WHERE datname = current_database()");
  return `${system}/${timeline}/${database}`;
}

/** The horizon of the transaction's snapshot: the first statement of a REPEATABLE READ transaction takes it. */
export async function snapshotHorizon(pg: PgClient, source: string): Promise<SourceHorizon & { xmax: string }> {
  const { rows } = await pg.query<{ xmin: string; xmax: string }>("SELECT pg_snapshot_xmin(s)::text AS xmin, pg_snapshot_xmax(s)::text AS xmax FROM pg_current_snapshot() s");
  return { xmin: rows[0].xmin, xmax: rows[0].xmax, source };
}

/**
 * The age, in this transaction, of a recorded horizon: the `$1` of `changes.keys`. A string says
 * why it cannot be used.
 */
export async function horizonAge(pg: PgClient, recorded: SourceHorizon | undefined, now: SourceHorizon & { xmax: string }): Promise<number | string> {
  if (!recorded || typeof recorded.xmin !== "string" || !/^\d+$/.test(recorded.xmin)) return "no horizon recorded by the last complete warm";
  if (recorded.source !== now.source) return `another PostgreSQL (or a restore) since the last complete warm (${recorded.source}, now ${now.source})`;
  const behind = BigInt(now.xmax) - BigInt(recorded.xmin);
  if (behind < 0n) return "the recorded horizon is ahead of PostgreSQL (a restore?)";
  if (behind >= BigInt(MAX_AGE)) return `the last complete warm is ${behind} transactions back: too far for xid ages`;
  const { rows } = await pg.query<{ age: number }>("SELECT age($1::xid) AS age", [String(BigInt(recorded.xmin) % 2n ** 32n)]);
  const age = Number(rows[0].age);
  // age() counts from the next xid when it is first called, never before the snapshot's xmax.
  if (!(age >= Number(behind) && age < MAX_AGE + 2 ** 20)) return `xid age ${age} does not match the horizon (${behind} behind)`;
  return age;
}

/**
 * Rows of `table` written before a horizon of age `age` (a `deletable` table's guard), and all its
 * rows. A frozen row billions of transactions old can show a wrapped-around age: it then counts as
 * new (not kept), which can only make the guard fall back, never hide a deletion.
 */
export async function keptRows(pg: PgClient, table: string, age: number): Promise<{ all: number; kept: number }> {
  const { rows } = await pg.query<{ all: string; kept: string }>(`SELECT count(*) AS all, count(*) FILTER (WHERE NOT (age(t.xmin) BETWEEN 0 AND $1)) AS kept FROM ${table} t`, [age]);
  return { all: Number(rows[0].all), kept: Number(rows[0].kept) };
}

/**
 * Exports the snapshot of this REPEATABLE READ transaction for a second connection (its id), or
 * undefined where that would fail and abort the transaction: a standby before PostgreSQL 10.
 */
export async function exportSnapshot(pg: PgClient): Promise<string | undefined> {
  const { rows } = await pg.query<{ id: string | null }>(
    "SELECT CASE WHEN pg_is_in_recovery() AND current_setting('server_version_num')::int < 100000 THEN NULL ELSE pg_export_snapshot() END AS id",
  );
  const id = rows[0]?.id;
  return id && /^[0-9A-F-]+$/i.test(id) ? id : undefined;
}

/**
 * A new connection reading the exported snapshot `id` (a REPEATABLE READ READ ONLY transaction
 * left open; JIT off, as for the tracked reads), or undefined if it cannot be had: the caller then
 * does without it.
 */
export async function importSnapshot(connect: () => Promise<PgClient>, id: string): Promise<PgClient | undefined> {
  let other: PgClient | undefined;
  try {
    other = await connect();
    await other.query(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '${id}'; SET LOCAL jit = off`);
    return other;
  } catch {
    await other?.end().catch(() => undefined);
    return undefined;
  }
}
