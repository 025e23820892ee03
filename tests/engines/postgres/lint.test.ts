// Lint with PostgreSQL's own parser: each flagged kind, clean migrations, and protected stacks
// blocking `migrate` (and the plan) unless the migration is allowed by name.
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DirectoryMigrationSource, lintMigration, lintMigrations, migrate, migrationFromText } from "../../../engines/postgres";
import { freshDatabase, type FreshDatabase } from "../../helpers/pg";
import { FIXTURES, historyRows, REAL_MIGRATIONS, realMigrationsPresent, scratchDir, tableNames } from "./support";

const LINT = path.join(FIXTURES, "lint");
const rel = (f: string) => path.relative(process.cwd(), path.join(LINT, f));

describe("lint of each flagged kind", () => {
  it("flags exactly the listed statements, with file and line", async () => {
    const migrations = await new DirectoryMigrationSource(LINT).getMigrations();
    const findings = await lintMigrations(migrations);
    expect(findings.map((f) => [f.migration, f.rule, f.line])).toEqual([
      ["002_drop_table", "drop-table", 3],
      ["002_drop_table", "drop-table", 3],
      ["003_drop_column", "drop-column", 1],
      ["004_drop_schema", "drop-schema", 1],
      ["005_alter_type", "alter-column-type", 2],
      ["006_set_not_null", "set-not-null", 4],
      ["007_blocking_index", "create-index-blocking", 1],
      ["008_truncate", "truncate", 1],
      ["009_delete_all", "delete-without-where", 2],
      ["010_update_all", "update-without-where", 3],
    ]);
    expect(findings[0].file).toBe(rel("002_drop_table.sql"));
    expect(findings[0].message).toBe(`${rel("002_drop_table.sql")}:3: table public.accounts_archive: drops a table and its data`);
    expect(findings[1].message).toContain("table accounts_old");
    expect(findings.find((f) => f.rule === "set-not-null")!.message).toContain("column accounts.email");
    expect(findings.find((f) => f.rule === "create-index-blocking")!.message).toContain("CONCURRENTLY");
  });

  it("passes clean migrations: objects created in the same migration, WHERE clauses, CONCURRENTLY", async () => {
    const migrations = await new DirectoryMigrationSource(LINT).getMigrations();
    for (const name of ["001_base", "011_clean_changes"]) {
      expect(await lintMigration(migrations.find((m) => m.name === name)!)).toEqual([]);
    }
    expect(await lintMigrations(await new DirectoryMigrationSource(path.join(FIXTURES, "basic")).getMigrations())).toEqual([]);
  });

  it("uses a real parser: keywords in strings, comments and function bodies are not statements", async () => {
    const m = migrationFromText({
      version: 1,
      name: "001_tricky",
      file: "001_tricky.sql",
      content:
        "-- DROP TABLE users;\n/* TRUNCATE users; */\nINSERT INTO notes VALUES ('DELETE FROM users');\n" +
        "CREATE FUNCTION purge() RETURNS void AS $$ DELETE FROM users $$ LANGUAGE sql;\n",
    });
    expect(await lintMigration(m)).toEqual([]);
  });

  it("flags BEGIN/COMMIT in a transactional file (not savepoints, not in a no-transaction file)", async () => {
    const sql = "BEGIN;\nCREATE TABLE t (id int);\nSAVEPOINT s;\nRELEASE SAVEPOINT s;\nCOMMIT;\n";
    const tx = migrationFromText({ version: 1, name: "001_tx", file: "001_tx.sql", content: sql });
    expect((await lintMigration(tx)).map((f) => [f.rule, f.line])).toEqual([
      ["transaction-control", 1],
      ["transaction-control", 5],
    ]);
    const noTx = migrationFromText({ version: 1, name: "001_tx", file: "001_tx.sql", content: `-- nexus:no-transaction\n${sql}` });
    expect(await lintMigration(noTx)).toEqual([]);
  });

  it("reports a file that does not parse, with its line", async () => {
    const m = migrationFromText({ version: 1, name: "001_bad", file: "001_bad.sql", content: "SELECT 1;\n\nCREATE TABEL x ();\n" });
    const [f] = await lintMigration(m);
    expect([f.rule, f.line]).toEqual(["syntax", 3]);
  });
});

describe("protected stacks", () => {
  let db: FreshDatabase;
  beforeEach(async () => {
    db = await freshDatabase("pglint");
  });
  afterEach(async () => {
    await db.drop();
  });

  it("block a flagged migration before anything runs, unless it is allowed by name", async () => {
    const s = scratchDir();
    try {
      s.write("001_t.sql", "CREATE TABLE t (id int, legacy text);\n");
      expect((await migrate({ connection: db.url, source: new DirectoryMigrationSource(s.dir), settings: { protected: true } })).ok).toBe(true);
      s.write("002_ok.sql", "CREATE TABLE u (id int);\n");
      s.write("003_drop.sql", "ALTER TABLE t DROP COLUMN legacy;\n");

      const blocked = await migrate({ connection: db.url, source: new DirectoryMigrationSource(s.dir), settings: { protected: true } });
      expect(blocked.error?.kind).toBe("validation");
      expect(blocked.error?.message).toContain("003_drop.sql:1: column t.legacy: drops a column and its data");
      expect(blocked.error?.message).toContain(`allowDestructive: ["003_drop"]`);
      expect(blocked.applied).toEqual([]); // 002 did not run either
      expect(await tableNames(db.url)).not.toContain("u");
      expect(blocked.plan?.blocked.map((f) => f.rule)).toEqual(["drop-column"]);

      const allowed = await migrate({ connection: db.url, source: new DirectoryMigrationSource(s.dir), settings: { protected: true, allowDestructive: ["003_drop"] } });
      expect(allowed.error).toBeUndefined();
      expect(allowed.applied.map((m) => m.name)).toEqual(["002_ok", "003_drop"]);
      expect(allowed.plan?.findings.map((f) => f.rule)).toEqual(["drop-column"]);
      expect((await historyRows(db.url)).map((r) => r.version)).toEqual([1, 2, 3]);
    } finally {
      s.cleanup();
    }
  });

  it("refuse BEGIN/COMMIT inside a migration in every stack: a COMMIT would record half a migration", async () => {
    const s = scratchDir();
    try {
      s.write("001_t.sql", "CREATE TABLE t (id int);\n");
      s.write("002_tx.sql", "BEGIN;\nALTER TABLE t ADD COLUMN v int;\nCOMMIT;\n");
      const result = await migrate({ connection: db.url, source: new DirectoryMigrationSource(s.dir) });
      expect(result.error?.kind).toBe("validation");
      expect(result.error?.message).toContain("002_tx.sql:1: ends or starts a transaction");
      expect(result.error?.message).not.toContain("allowDestructive");
      expect(result.applied).toEqual([]);
      expect(await tableNames(db.url)).toEqual(["schema_migrations"]);
    } finally {
      s.cleanup();
    }
  });

  it("lint the down files when going down", async () => {
    const dir = path.join(FIXTURES, "basic");
    expect((await migrate({ connection: db.url, source: new DirectoryMigrationSource(dir) })).ok).toBe(true);
    const blocked = await migrate({ connection: db.url, source: new DirectoryMigrationSource(dir), settings: { protected: true, targetVersion: 2 } });
    expect(blocked.error?.message).toContain("003_submissions.down.sql:2: table submissions: drops a table and its data");
    expect(blocked.reverted).toEqual([]);
  });
});

describe("the real migrations", () => {
  it.skipIf(!realMigrationsPresent())("lint without syntax findings (other findings are reported by `nexus-db pg lint`)", async () => {
    const findings = await lintMigrations(await new DirectoryMigrationSource(REAL_MIGRATIONS).getMigrations());
    expect(findings.filter((f) => f.rule === "syntax")).toEqual([]);
  });
});
