// The history table: one row per applied (or baselined) migration.
import type { Client } from "pg";
import type { HistoryRow } from "./plan";

/** `schema.table` split and quoted for SQL. */
export function historyTableSql(historyTable: string): { schema: string; table: string; qualified: string } {
  const [schema, table] = historyTable.split(".");
  return { schema, table, qualified: `"${schema}"."${table}"` };
}

export async function historyTableExists(client: Client, historyTable: string): Promise<boolean> {
  const r = await client.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [historyTableSql(historyTable).qualified]);
  return r.rows[0].t !== null;
}

/**
 * Creates the table when missing; returns whether it existed. Run under the migration lock:
 * concurrent CREATE … IF NOT EXISTS can still collide.
 */
export async function ensureHistoryTable(client: Client, historyTable: string): Promise<boolean> {
  const { schema, qualified } = historyTableSql(historyTable);
  if (await historyTableExists(client, historyTable)) return true;
  await client.query(`
    CREATE SCHEMA IF NOT EXISTS "${schema}";
    CREATE TABLE IF NOT EXISTS ${qualified} (
      version      bigint      PRIMARY KEY,
      name         text        NOT NULL,
      checksum     text        NOT NULL,
      applied_at   timestamptz NOT NULL DEFAULT now(),
      execution_ms integer     NOT NULL,
      applied_by   text        NOT NULL DEFAULT current_user,
      baseline     boolean     NOT NULL DEFAULT false
    );
    COMMENT ON TABLE ${qualified} IS 'Applied migrations (nexus-db). Edit only through nexus-db settings: repairChecksums, targetVersion, baselineVersion.';`);
  return false;
}

/** The history rows, oldest version first; [] when the table does not exist yet. */
export async function readHistory(client: Client, historyTable: string, knownToExist = false): Promise<HistoryRow[]> {
  if (!knownToExist && !(await historyTableExists(client, historyTable))) return [];
  const r = await client.query<{ version: string; name: string; checksum: string; applied_at: Date; execution_ms: number; applied_by: string; baseline: boolean }>(
    `SELECT version, name, checksum, applied_at, execution_ms, applied_by, baseline FROM ${historyTableSql(historyTable).qualified} ORDER BY version`,
  );
  return r.rows.map((row) => ({
    version: Number(row.version),
    name: row.name,
    checksum: row.checksum,
    appliedAt: row.applied_at,
    executionMs: row.execution_ms,
    appliedBy: row.applied_by,
    baseline: row.baseline,
  }));
}

/** A literal for simple-query SQL (no parameters there, so the INSERT can share a round trip with COMMIT). */
export function literal(client: Client, value: string): string {
  return client.escapeLiteral(value);
}
