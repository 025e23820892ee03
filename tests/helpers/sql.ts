// The project's SQL applied to test databases the way the platform applies it, and schemas
// compared by their pg_dump. Shared by the schema tests, the migration engine's tests and the
// Redis warmup tests (which need a seeded PostgreSQL).
//
//   applyMigrations(url)            every sql/migrations/NNN_*.sql in order, one transaction each
//   applyMigrations(url, { through: 3 })   only up to version 3
//   revertMigration(url, 5)         runs 005_….down.sql in one transaction
//   loadSeeds(url)                  sql/seeds/test_data.sql (it brings its own transaction)
//   psqlFile(url, SCHEMA_FILE)      a file through psql -v ON_ERROR_STOP=1 (for \ir scripts)
//   schemaDump(url)                 pg_dump --schema-only without comments, SET lines and blank lines
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { withClient } from "./pg";

const run = promisify(execFile);

export const SQL_DIR = path.resolve(__dirname, "..", "..", "sql");
export const MIGRATIONS_DIR = path.join(SQL_DIR, "migrations");
export const SCHEMA_FILE = path.join(SQL_DIR, "schema.sql");
export const SEED_FILE = path.join(SQL_DIR, "seeds", "test_data.sql");

/** One migration: `001_user_engine.sql` and, when present, `001_user_engine.down.sql`. */
export interface MigrationFile {
  version: number;
  name: string;
  upPath: string;
  downPath?: string;
}

/** The migrations of `dir`, in version order. */
export function migrationFiles(dir: string = MIGRATIONS_DIR): MigrationFile[] {
  const names = readdirSync(dir);
  return names
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f) && !f.endsWith(".down.sql"))
    .sort()
    .map((f) => {
      const down = f.replace(/\.sql$/, ".down.sql");
      return {
        version: Number(f.slice(0, 3)),
        name: f.replace(/^\d{3}_|\.sql$/g, ""),
        upPath: path.join(dir, f),
        downPath: names.includes(down) ? path.join(dir, down) : undefined,
      };
    });
}

async function runInTransaction(url: string, file: string): Promise<void> {
  const sql = readFileSync(file, "utf8");
  await withClient(url, async (c) => {
    await c.query("BEGIN");
    try {
      await c.query(sql);
      await c.query("COMMIT");
    } catch (e) {
      await c.query("ROLLBACK").catch(() => undefined);
      throw new Error(`${path.relative(SQL_DIR, file)}: ${(e as Error).message}`);
    }
  });
}

/**
 * Applies the up migrations with `from <= version <= through` (default: all), each in its own
 * transaction, as the migration engine does. Returns the versions applied.
 */
export async function applyMigrations(
  url: string,
  range: { from?: number; through?: number } = {},
): Promise<number[]> {
  const applied: number[] = [];
  for (const m of migrationFiles()) {
    if (m.version < (range.from ?? 0) || m.version > (range.through ?? Infinity)) continue;
    await runInTransaction(url, m.upPath);
    applied.push(m.version);
  }
  return applied;
}

/** Runs the `.down.sql` of one migration in a transaction; throws if it has none. */
export async function revertMigration(url: string, version: number): Promise<void> {
  const m = migrationFiles().find((f) => f.version === version);
  if (!m?.downPath) throw new Error(`migration ${version} has no .down.sql in ${MIGRATIONS_DIR}`);
  await runInTransaction(url, m.downPath);
}

/** Loads the seed data (idempotent; the file holds its own BEGIN/COMMIT). */
export async function loadSeeds(url: string): Promise<void> {
  const sql = readFileSync(SEED_FILE, "utf8");
  await withClient(url, async (c) => {
    try {
      await c.query(sql);
    } catch (e) {
      await c.query("ROLLBACK").catch(() => undefined);
      throw new Error(`seeds/test_data.sql: ${(e as Error).message}`);
    }
  });
}

/** Runs a file through psql with ON_ERROR_STOP; rejects with psql's output on failure. */
export async function psqlFile(url: string, file: string): Promise<void> {
  try {
    await run("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", file], { maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`psql -f ${path.relative(SQL_DIR, file)} failed: ${err.stderr || err.message}`);
  }
}

/**
 * `pg_dump --schema-only` of the database, normalized for comparison: comment lines, SET and
 * set_config lines, psql \restrict/\unrestrict lines (random per dump) and blank lines removed.
 */
export async function schemaDump(url: string): Promise<string> {
  const { stdout } = await run("pg_dump", ["--schema-only", "--no-owner", "--no-privileges", "-d", url], {
    maxBuffer: 64 << 20,
  });
  return stdout
    .split("\n")
    .filter((line) => {
      const l = line.trim();
      return !(
        l === "" ||
        l.startsWith("--") ||
        /^SET\s/.test(l) ||
        l.startsWith("SELECT pg_catalog.set_config(") ||
        /^\\(un)?restrict\b/.test(l)
      );
    })
    .join("\n");
}

/** Ids of the people and engines in sql/seeds/test_data.sql, as the seed tests name them. */
export const SEED_USERS = {
  alice: "10000000-0000-4000-8000-000000000001",
  bob: "10000000-0000-4000-8000-000000000002",
  carol: "10000000-0000-4000-8000-000000000003",
  dave: "10000000-0000-4000-8000-000000000004",
  erin: "10000000-0000-4000-8000-000000000005",
};
export const SEED_ENGINES = {
  clamav: "20000000-0000-4000-8000-000000000001",
  yara: "20000000-0000-4000-8000-000000000002",
  sandbox: "20000000-0000-4000-8000-000000000003",
  carolAnalyst: "20000000-0000-4000-8000-000000000004",
  ml: "20000000-0000-4000-8000-000000000005",
};
