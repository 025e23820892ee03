// Down: a targetVersion below the current one runs the .down.sql files in reverse order, each in
// a transaction; going up again gives the same schema, byte for byte in pg_dump.
import { unlinkSync } from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DirectoryMigrationSource, migrate } from "../../../engines/postgres";
import { freshDatabase, type FreshDatabase } from "../../helpers/pg";
import { FIXTURES, historyRows, REAL_MIGRATIONS, realMigrationsPresent, schemaDump, scratchDir, tableNames } from "./support";

let db: FreshDatabase;
beforeEach(async () => {
  db = await freshDatabase("pgdown");
});
afterEach(async () => {
  await db.drop();
});

const run = (dir: string, settings: object = {}) => migrate({ connection: db.url, source: new DirectoryMigrationSource(dir), settings });

async function downAndUp(dir: string, target: number): Promise<void> {
  expect((await run(dir)).error?.message).toBeUndefined();
  const top = schemaDump(db.url);
  const all = (await historyRows(db.url)).map((r) => r.version);

  const down = await run(dir, { targetVersion: target });
  expect(down.error?.message).toBeUndefined();
  expect(down.reverted.map((m) => m.version)).toEqual(all.filter((v) => v > target).reverse());
  expect(down.currentVersion).toBe(target === 0 ? null : target);
  expect((await historyRows(db.url)).map((r) => r.version)).toEqual(all.filter((v) => v <= target));
  expect(schemaDump(db.url)).not.toEqual(top);

  // Keeping targetVersion is a no-op; removing it goes up again.
  expect((await run(dir, { targetVersion: target })).reverted).toEqual([]);
  const up = await run(dir);
  expect(up.error?.message).toBeUndefined();
  expect(up.applied.map((m) => m.version)).toEqual(all.filter((v) => v > target));
  expect(schemaDump(db.url)).toEqual(top);
}

describe("down to a target and up again", () => {
  it("gives the same pg_dump --schema-only (fixtures, including a no-transaction down file)", async () => {
    await downAndUp(path.join(FIXTURES, "basic"), 1);
  });

  it("down to version 0 leaves only the history table", async () => {
    const dir = path.join(FIXTURES, "basic");
    expect((await run(dir)).ok).toBe(true);
    const down = await run(dir, { targetVersion: 0 });
    expect(down.error).toBeUndefined();
    expect(await tableNames(db.url)).toEqual(["schema_migrations"]);
    expect(await historyRows(db.url)).toEqual([]);
  });

  it.skipIf(!realMigrationsPresent())("gives the same pg_dump --schema-only with the real sql/migrations (down to 1)", async () => {
    await downAndUp(REAL_MIGRATIONS, 1);
  });

  it("refuses before anything runs when a down file is missing", async () => {
    const s = scratchDir("basic");
    try {
      expect((await run(s.dir)).ok).toBe(true);
      unlinkSync(path.join(s.dir, "002_engines.down.sql"));
      const result = await run(s.dir, { targetVersion: 1 });
      expect(result.error?.kind).toBe("validation");
      expect(result.error?.message).toContain("002_engines.sql: targetVersion 1 needs 002_engines.down.sql");
      expect(result.reverted).toEqual([]);
      expect(result.notRun.map((m) => m.version)).toEqual([4, 3]);
      expect((await historyRows(db.url)).map((r) => r.version)).toEqual([1, 2, 3, 4]);
    } finally {
      s.cleanup();
    }
  });

  it("a failing down file is rolled back and the database stays at the last version that went down", async () => {
    const s = scratchDir("basic");
    try {
      expect((await run(s.dir)).ok).toBe(true);
      s.write("002_engines.down.sql", "DROP TABLE engines;\nDROP TABLE no_such_table;\n");
      const result = await run(s.dir, { targetVersion: 1 });
      expect(result.reverted.map((m) => m.version)).toEqual([4, 3]);
      expect(result.error?.message).toMatch(/002_engines\.down\.sql:2: 002_engines \(down\) failed: ERROR 42P01/);
      expect(result.error?.message).toContain("the database stays at version 2");
      expect(await tableNames(db.url)).toContain("engines");
      expect((await historyRows(db.url)).map((r) => r.version)).toEqual([1, 2]);
    } finally {
      s.cleanup();
    }
  });
});
