// Applying migrations to a real PostgreSQL: fresh apply, no-op second run, one added migration,
// a failing migration, edited/missing/out-of-order files, no-transaction migrations.
import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checksumOf, DirectoryMigrationSource, migrate, type MigrateResult } from "../../../engines/postgres";
import { freshDatabase, withClient, type FreshDatabase } from "../../helpers/pg";
import { FIXTURES, historyRows, REAL_MIGRATIONS, realMigrationsPresent, scratchDir, tableNames } from "./support";

let db: FreshDatabase;
beforeEach(async () => {
  db = await freshDatabase("pgapply");
});
afterEach(async () => {
  await db.drop();
});

const run = (dir: string, settings: object = {}): Promise<MigrateResult> => migrate({ connection: db.url, source: new DirectoryMigrationSource(dir), settings });
const names = (ms: { name: string }[]) => ms.map((m) => m.name);

describe("fresh apply", () => {
  it("applies every fixture migration in order and records version, name, checksum, time and user", async () => {
    const dir = path.join(FIXTURES, "basic");
    const result = await run(dir);
    expect(result.error).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(names(result.applied)).toEqual(["001_users", "002_engines", "003_submissions", "004_submissions_created_idx"]);
    expect(result.currentVersion).toBe(4);
    expect(result.notRun).toEqual([]);

    const rows = await historyRows(db.url);
    expect(rows.map((r) => [r.version, r.name])).toEqual([
      [1, "001_users"],
      [2, "002_engines"],
      [3, "003_submissions"],
      [4, "004_submissions_created_idx"],
    ]);
    for (const r of rows) {
      expect(r.checksum).toBe(checksumOf(readFileSync(path.join(dir, `${r.name}.sql`))));
      expect(r.applied_by).toBe("postgres");
      expect(r.execution_ms).toBeGreaterThanOrEqual(0);
      expect(r.applied_at).toBeInstanceOf(Date);
      expect(r.baseline).toBe(false);
    }
    expect(await tableNames(db.url)).toEqual(["engines", "schema_migrations", "submissions", "users"]);
  });

  it.skipIf(!realMigrationsPresent())("applies the real sql/migrations to an empty database", async () => {
    const result = await run(REAL_MIGRATIONS);
    expect(result.error?.message).toBeUndefined();
    const files = (await new DirectoryMigrationSource(REAL_MIGRATIONS).getMigrations()).map((m) => m.name);
    expect(names(result.applied)).toEqual(files);
    expect((await historyRows(db.url)).map((r) => r.name)).toEqual(files);
    // And a second run finds nothing to do.
    const again = await run(REAL_MIGRATIONS);
    expect(again.ok).toBe(true);
    expect(again.applied).toEqual([]);
  });
});

describe("second apply", () => {
  it("runs nothing and leaves the history table exactly as it was", async () => {
    const dir = path.join(FIXTURES, "basic");
    expect((await run(dir)).ok).toBe(true);
    const before = await historyRows(db.url);
    const again = await run(dir);
    expect(again.ok).toBe(true);
    expect(again.applied).toEqual([]);
    expect(again.plan?.direction).toBe("none");
    expect(again.currentVersion).toBe(4);
    expect(await historyRows(db.url)).toEqual(before);
  });
});

describe("an added migration", () => {
  it("applies alone; the earlier rows stay untouched", async () => {
    const s = scratchDir("basic");
    try {
      expect((await run(s.dir)).ok).toBe(true);
      const before = await historyRows(db.url);
      s.write("005_reports.sql", "CREATE TABLE reports (id bigserial PRIMARY KEY, submission_id bigint REFERENCES submissions (id));\n");
      const result = await run(s.dir);
      expect(result.ok).toBe(true);
      expect(names(result.applied)).toEqual(["005_reports"]);
      const after = await historyRows(db.url);
      expect(after.slice(0, 4)).toEqual(before);
      expect(after.map((r) => r.version)).toEqual([1, 2, 3, 4, 5]);
    } finally {
      s.cleanup();
    }
  });
});

describe("a failing migration", () => {
  it("is rolled back, the earlier ones are kept, and the error names file, line, SQLSTATE and message", async () => {
    const dir = path.join(FIXTURES, "failing");
    const result = await run(dir);
    expect(result.ok).toBe(false);
    expect(names(result.applied)).toEqual(["001_users", "002_engines"]);
    expect(result.failed?.migration.name).toBe("003_broken");
    expect(names(result.notRun)).toEqual(["004_after_broken"]);
    const e = result.error!;
    expect(e.kind).toBe("sql");
    expect(e.file).toBe(path.relative(process.cwd(), path.join(dir, "003_broken.sql")));
    expect(e.line).toBe(4); // the ALTER TABLE statement starts on line 4
    expect(e.sqlstate).toBe("42P01");
    expect(e.message).toContain(`003_broken.sql:4: 003_broken failed: ERROR 42P01: relation "no_such_table" does not exist`);
    expect(e.message).toContain("rolled back; the database stays at version 2");
    // The first statement of 003 ran inside the rolled-back transaction: no trace of it.
    expect(await tableNames(db.url)).toEqual(["engines", "schema_migrations", "users"]);
    expect((await historyRows(db.url)).map((r) => r.version)).toEqual([1, 2]);
  });

  it("points at the exact line when PostgreSQL reports a position (syntax error mid-file)", async () => {
    const s = scratchDir();
    try {
      s.write("001_ok.sql", "CREATE TABLE a (id int);\n");
      s.write("002_typo.sql", "-- comment\nCREATE TABLE b (id int);\n\nCREATE TABLE c (\n  id int,\n  name txet NOT NULL\n);\n");
      const result = await run(s.dir);
      expect(result.ok).toBe(false);
      expect(result.error?.line).toBe(6);
      expect(result.error?.sqlstate).toBe("42704");
      expect(result.error?.message).toMatch(/002_typo\.sql:6: 002_typo failed: ERROR 42704: type "txet" does not exist/);
      expect(await tableNames(db.url)).toEqual(["a", "schema_migrations"]);
    } finally {
      s.cleanup();
    }
  });

  it("names the statement when the error has no position (a constraint violation)", async () => {
    const s = scratchDir();
    try {
      s.write("001_t.sql", "CREATE TABLE t (id int PRIMARY KEY);\nINSERT INTO t VALUES (1);\n\nINSERT INTO t VALUES (2);\nINSERT INTO t\n  VALUES (1);\n");
      const result = await run(s.dir);
      expect(result.error?.line).toBe(5);
      expect(result.error?.sqlstate).toBe("23505");
      expect(result.error?.message).toContain("detail: Key (id)=(1) already exists.");
      expect(result.error?.message).toContain("rolled back; the database stays at no version");
    } finally {
      s.cleanup();
    }
  });
});

describe("statementLockTimeoutMs", () => {
  it("fails a DDL statement stuck behind another transaction instead of queueing, naming its line", async () => {
    const s = scratchDir();
    try {
      s.write("001_t.sql", "CREATE TABLE t (id int);\n");
      expect((await run(s.dir)).ok).toBe(true);
      s.write("002_alter.sql", "-- waits for the reader below\nALTER TABLE t ADD COLUMN v int;\n");
      await withClient(db.url, async (reader) => {
        await reader.query("BEGIN; SELECT * FROM t;"); // holds ACCESS SHARE until it ends
        const started = Date.now();
        const result = await run(s.dir, { statementLockTimeoutMs: 200 });
        expect(Date.now() - started).toBeLessThan(10_000);
        expect(result.error?.sqlstate).toBe("55P03");
        expect(result.error?.message).toMatch(/002_alter\.sql:2: 002_alter failed: ERROR 55P03: canceling statement due to lock timeout/);
        await reader.query("ROLLBACK");
      });
      // Each migration's setting is its own: after the run, the session is back to its defaults.
      expect((await run(s.dir)).applied.map((m) => m.name)).toEqual(["002_alter"]);
    } finally {
      s.cleanup();
    }
  });
});

describe("validation before anything runs", () => {
  it("an edited applied file fails naming the file and both checksums; repairChecksums accepts it", async () => {
    const s = scratchDir("basic");
    try {
      expect((await run(s.dir)).ok).toBe(true);
      const before = await historyRows(db.url);
      const file = path.join(s.dir, "002_engines.sql");
      const original = readFileSync(file);
      writeFileSync(file, `${original}\n-- a harmless comment\n`);
      s.write("005_reports.sql", "CREATE TABLE reports (id int);\n");

      const result = await run(s.dir);
      expect(result.ok).toBe(false);
      expect(result.error?.kind).toBe("validation");
      expect(result.applied).toEqual([]);
      expect(names(result.notRun)).toEqual(["005_reports"]);
      const msg = result.error!.message;
      expect(msg).toContain("002_engines.sql was changed after it was applied");
      expect(msg).toContain(checksumOf(original));
      expect(msg).toContain(checksumOf(readFileSync(file)));
      expect(msg).toContain(`repairChecksums: ["002_engines"]`);
      expect(await tableNames(db.url)).not.toContain("reports");
      expect(await historyRows(db.url)).toEqual(before);

      const repaired = await run(s.dir, { repairChecksums: ["002_engines"] });
      expect(repaired.error).toBeUndefined();
      expect(names(repaired.repaired)).toEqual(["002_engines"]);
      expect(names(repaired.applied)).toEqual(["005_reports"]);
      expect((await historyRows(db.url))[1].checksum).toBe(checksumOf(readFileSync(file)));
    } finally {
      s.cleanup();
    }
  });

  it("an applied version whose file is missing fails", async () => {
    const s = scratchDir("basic");
    try {
      expect((await run(s.dir)).ok).toBe(true);
      unlinkSync(path.join(s.dir, "003_submissions.sql"));
      unlinkSync(path.join(s.dir, "003_submissions.down.sql"));
      s.write("005_reports.sql", "CREATE TABLE reports (id int);\n");
      const result = await run(s.dir);
      expect(result.error?.kind).toBe("validation");
      expect(result.error?.message).toMatch(/003_submissions \(version 3\) is recorded as applied on .* but .* has no file for it/);
      expect(result.applied).toEqual([]);
    } finally {
      s.cleanup();
    }
  });

  it("a new version below the latest applied fails unless outOfOrder is set", async () => {
    const s = scratchDir();
    try {
      s.write("001_a.sql", "CREATE TABLE a (id int);\n");
      s.write("003_c.sql", "CREATE TABLE c (id int);\n");
      expect((await run(s.dir)).ok).toBe(true);
      s.write("002_b.sql", "CREATE TABLE b (id int);\n");
      const refused = await run(s.dir);
      expect(refused.error?.kind).toBe("validation");
      expect(refused.error?.message).toContain("002_b.sql: version 2 is below the latest applied version 3");
      expect(refused.error?.message).toContain("outOfOrder: true");
      expect(await tableNames(db.url)).not.toContain("b");

      const allowed = await run(s.dir, { outOfOrder: true });
      expect(allowed.error).toBeUndefined();
      expect(names(allowed.applied)).toEqual(["002_b"]);
    } finally {
      s.cleanup();
    }
  });

  it("bad file names are refused with the file named", async () => {
    const s = scratchDir();
    try {
      s.write("001_a.sql", "SELECT 1;\n");
      s.write("two_b.sql", "SELECT 1;\n");
      s.write("001_dup.sql", "SELECT 1;\n");
      const result = await run(s.dir);
      expect(result.error?.kind).toBe("source");
      expect(result.error?.message).toContain("two_b.sql: not a migration file name");
      expect(result.error?.message).toMatch(/version 1 is also used by/);
    } finally {
      s.cleanup();
    }
  });
});

describe("no-transaction migrations", () => {
  it("run CREATE INDEX CONCURRENTLY outside a transaction, and the index is valid", async () => {
    const result = await run(path.join(FIXTURES, "basic"));
    expect(result.ok).toBe(true);
    const idx = await withClient(db.url, (c) =>
      c.query<{ relname: string; indisvalid: boolean }>(
        "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'submissions_%_idx' ORDER BY 1",
      ),
    );
    expect(idx.rows).toEqual([
      { relname: "submissions_created_idx", indisvalid: true },
      { relname: "submissions_sha256_idx", indisvalid: true },
    ]);
  });

  it("the same statement without the directive fails inside the migration's transaction", async () => {
    const s = scratchDir();
    try {
      s.write("001_t.sql", "CREATE TABLE t (id int);\n");
      s.write("002_idx.sql", "CREATE INDEX CONCURRENTLY t_id_idx ON t (id);\n");
      const result = await run(s.dir);
      expect(result.error?.sqlstate).toBe("25001");
      expect(result.error?.message).toContain("002_idx.sql:1:");
    } finally {
      s.cleanup();
    }
  });

  it("a failing statement in a no-transaction migration is named by line; the next run completes once fixed", async () => {
    const s = scratchDir();
    try {
      s.write("001_t.sql", "CREATE TABLE t (id int, v int);\n");
      s.write("002_idx.sql", "-- nexus:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_id_idx ON t (id);\n\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_v_idx ON t (nope);\n");
      const failed = await run(s.dir);
      expect(failed.error?.line).toBe(4);
      expect(failed.error?.sqlstate).toBe("42703");
      expect(failed.error?.message).toContain("no-transaction migration");
      s.write("002_idx.sql", "-- nexus:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_id_idx ON t (id);\n\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_v_idx ON t (v);\n");
      const fixed = await run(s.dir);
      expect(fixed.error).toBeUndefined();
      expect(names(fixed.applied)).toEqual(["002_idx"]);
    } finally {
      s.cleanup();
    }
  });

  it("an INVALID index left by an interrupted CONCURRENTLY build is not recorded as applied", async () => {
    const s = scratchDir();
    try {
      s.write("001_t.sql", "CREATE TABLE t (id int, v int);\nINSERT INTO t VALUES (1, 7), (2, 7);\n");
      expect((await run(s.dir)).ok).toBe(true);
      // What an interrupted build leaves behind: a failed unique build leaves the same INVALID index.
      await withClient(db.url, (c) => c.query("CREATE UNIQUE INDEX CONCURRENTLY t_v_key ON t (v)").catch(() => undefined));
      s.write("002_idx.sql", "-- nexus:no-transaction\n\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_v_key ON t (v);\n");
      const result = await run(s.dir);
      expect(result.error?.message).toContain("002_idx.sql:3: 002_idx failed: index t_v_key is INVALID");
      expect(result.error?.message).toContain("DROP INDEX CONCURRENTLY t_v_key;");
      expect((await historyRows(db.url)).map((r) => r.version)).toEqual([1]);

      await withClient(db.url, async (c) => {
        await c.query("DROP INDEX CONCURRENTLY t_v_key");
        await c.query("UPDATE t SET v = id");
      });
      expect((await run(s.dir)).applied.map((m) => m.name)).toEqual(["002_idx"]);
    } finally {
      s.cleanup();
    }
  });

  it("an unknown directive is refused (a typo must not put CONCURRENTLY into a transaction)", async () => {
    const s = scratchDir();
    try {
      s.write("001_t.sql", "-- nexus:no-transactoin\nCREATE TABLE t (id int);\n");
      const result = await run(s.dir);
      expect(result.error?.kind).toBe("source");
      expect(result.error?.message).toContain('001_t.sql:1: unknown directive "-- nexus:no-transactoin"');
    } finally {
      s.cleanup();
    }
  });
});
