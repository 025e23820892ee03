// Shared by the postgres-*.test.ts files: scratch copies of fixture migrations, history rows,
// schema dumps, and a child process that runs one migrate (for the concurrency and crash tests).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { withClient } from "../../helpers/pg";

export const ROOT = path.resolve(__dirname, "../../..");
export const FIXTURES = path.join(ROOT, "tests/fixtures/migrations");
export const REAL_MIGRATIONS = path.join(ROOT, "sql/migrations");
export const REAL_SCHEMA = path.join(ROOT, "sql/schema.sql");

/** The real migrations once issue 3 has committed them (at least one file). */
export function realMigrationsPresent(): boolean {
  return existsSync(REAL_MIGRATIONS) && readdirSync(REAL_MIGRATIONS).some((f) => /^\d+_.*\.sql$/.test(f));
}

/** A temporary directory holding a copy of a fixture set (or empty); removed by `cleanup`. */
export function scratchDir(fixture?: string): { dir: string; write(name: string, sql: string): string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "nexus-mig-"));
  if (fixture) cpSync(path.join(FIXTURES, fixture), dir, { recursive: true });
  return {
    dir,
    write(name, sql) {
      const file = path.join(dir, name);
      writeFileSync(file, sql);
      return file;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Row {
  version: number;
  name: string;
  checksum: string;
  applied_at: Date;
  execution_ms: number;
  applied_by: string;
  baseline: boolean;
}

export async function historyRows(url: string): Promise<Row[]> {
  return withClient(url, async (c) => {
    const r = await c.query<Row & { version: string }>("SELECT * FROM public.schema_migrations ORDER BY version");
    return r.rows.map((row) => ({ ...row, version: Number(row.version) }));
  });
}

export async function tableNames(url: string, schema = "public"): Promise<string[]> {
  return withClient(url, async (c) => {
    const r = await c.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 ORDER BY 1", [schema]);
    return r.rows.map((x) => x.t);
  });
}

/** `pg_dump --schema-only`, without the lines that differ between two dumps of the same schema. */
export function schemaDump(url: string, excludeTable = "public.schema_migrations"): string {
  const r = spawnSync("pg_dump", ["--schema-only", "--no-owner", "--no-privileges", `--exclude-table=${excludeTable}`, url], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`pg_dump failed: ${r.stderr}`);
  return r.stdout
    .split("\n")
    .filter((l) => !l.startsWith("\\restrict") && !l.startsWith("\\unrestrict") && !l.startsWith("-- Dumped"))
    .join("\n");
}

/** Runs a psql command line on `url`; throws with its output on failure. */
export function psql(url: string, ...args: string[]): string {
  const r = spawnSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`psql ${args.join(" ")} failed:\n${r.stderr}`);
  return r.stdout;
}

/** Starts `postgres-child.ts` in its own Node process: one migrate, result as JSON on stdout. */
export function spawnMigrate(url: string, dir: string, settings: object = {}): ChildProcess & { output: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
  // `--import tsx` keeps it to one Node process (the tsx CLI would start a second one).
  const child = spawn(process.execPath, ["--require", require.resolve("tsx/cjs"), path.join(__dirname, "child.ts"), url, dir, JSON.stringify(settings)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const output = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return Object.assign(child, { output });
}

/** `count` migrations that each take about `sleepMs` and leave a table and a row behind. */
export function writeSlowMigrations(write: (name: string, sql: string) => string, count: number, sleepMs: number): void {
  write("001_apply_log.sql", "CREATE TABLE apply_log (version int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());\n");
  for (let v = 2; v <= count; v++) {
    const n = String(v).padStart(3, "0");
    write(
      `${n}_step.sql`,
      `CREATE TABLE step_${n} (id int PRIMARY KEY, note text);\n` +
        `INSERT INTO step_${n} SELECT g, 'row ' || g FROM generate_series(1, 200) g;\n` +
        `SELECT pg_sleep(${sleepMs / 1000});\n` +
        `CREATE INDEX step_${n}_note_idx ON step_${n} (note);\n` +
        `INSERT INTO apply_log (version) VALUES (${v});\n`,
    );
  }
}
