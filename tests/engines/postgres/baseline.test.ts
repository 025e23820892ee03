// Baseline: a database whose schema was applied by hand (`psql -f schema.sql`) is adopted with
// baselineVersion — versions up to it are recorded, not run — and later migrations apply normally.
import { cpSync, existsSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DirectoryMigrationSource, migrate } from "../../../engines/postgres";
import { freshDatabase, type FreshDatabase } from "../../helpers/pg";
import { FIXTURES, historyRows, psql, REAL_MIGRATIONS, REAL_SCHEMA, realMigrationsPresent, ROOT, schemaDump, scratchDir } from "./support";

let handApplied: FreshDatabase;
let migrated: FreshDatabase;
beforeEach(async () => {
  handApplied = await freshDatabase("pgbase");
  migrated = await freshDatabase("pgbase");
});
afterEach(async () => {
  await handApplied.drop();
  await migrated.drop();
});

async function adoptAndCompare(schemaFile: string, dir: string, baselineVersion: number): Promise<void> {
  psql(handApplied.url, "-f", schemaFile);
  const adopted = await migrate({ connection: handApplied.url, source: new DirectoryMigrationSource(dir), settings: { baselineVersion } });
  expect(adopted.error?.message).toBeUndefined();
  expect(adopted.applied).toEqual([]); // recorded, not run
  const versions = (await new DirectoryMigrationSource(dir).getMigrations()).map((m) => m.version).filter((v) => v <= baselineVersion);
  expect(adopted.baselined.map((m) => m.version)).toEqual(versions);
  const rows = await historyRows(handApplied.url);
  expect(rows.map((r) => r.version)).toEqual(versions);
  expect(rows.every((r) => r.baseline && r.execution_ms === 0)).toBe(true);

  // The adopted database has the same schema as one the migrator built from nothing.
  expect((await migrate({ connection: migrated.url, source: new DirectoryMigrationSource(dir) })).ok).toBe(true);
  expect(schemaDump(handApplied.url)).toEqual(schemaDump(migrated.url));

  // The setting stays in the stack config: a second run is a no-op.
  const again = await migrate({ connection: handApplied.url, source: new DirectoryMigrationSource(dir), settings: { baselineVersion } });
  expect(again.ok).toBe(true);
  expect([again.applied, again.baselined]).toEqual([[], []]);
}

describe("baseline", () => {
  it("adopts a database built with psql -f from the fixture schema", async () => {
    await adoptAndCompare(path.join(ROOT, "tests/fixtures/schema/basic.sql"), path.join(FIXTURES, "basic"), 4);
  });

  it.skipIf(!realMigrationsPresent() || !existsSync(REAL_SCHEMA))("adopts a database built with psql -f sql/schema.sql", async () => {
    const max = Math.max(...readdirSync(REAL_MIGRATIONS).filter((f) => /^\d+_.*(?<!\.down)\.sql$/.test(f)).map((f) => Number(f.split("_")[0])));
    await adoptAndCompare(REAL_SCHEMA, REAL_MIGRATIONS, max);
  });

  it("records up to the baseline only; later migrations run", async () => {
    const s = scratchDir("basic");
    try {
      psql(handApplied.url, "-f", path.join(FIXTURES, "basic/001_users.sql"), "-f", path.join(FIXTURES, "basic/002_engines.sql"));
      const result = await migrate({ connection: handApplied.url, source: new DirectoryMigrationSource(s.dir), settings: { baselineVersion: 2 } });
      expect(result.error).toBeUndefined();
      expect(result.baselined.map((m) => m.name)).toEqual(["001_users", "002_engines"]);
      expect(result.applied.map((m) => m.name)).toEqual(["003_submissions", "004_submissions_created_idx"]);
      expect((await historyRows(handApplied.url)).map((r) => [r.version, r.baseline])).toEqual([
        [1, true],
        [2, true],
        [3, false],
        [4, false],
      ]);
      // A file edited after the baseline is caught like any applied one.
      cpSync(path.join(FIXTURES, "basic/002_engines.sql"), path.join(s.dir, "002_engines.sql"));
      s.write("001_users.sql", "-- edited\n");
      const edited = await migrate({ connection: handApplied.url, source: new DirectoryMigrationSource(s.dir), settings: { baselineVersion: 2 } });
      expect(edited.error?.message).toContain("001_users.sql was changed after it was applied");
    } finally {
      s.cleanup();
    }
  });
});
