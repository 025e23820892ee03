// The plan (what preview and `nexus-db pg plan` show) as a pure function, the lock-timeout error,
// and the settings schema.
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DirectoryMigrationSource,
  lockKey,
  migrate,
  migrationFromText,
  migrationSettingsSchema,
  parseMigrationSettings,
  planAgainstDatabase,
  planMigrations,
  type HistoryRow,
  type Migration,
} from "../../../engines/postgres";
import { freshDatabase, withClient, type FreshDatabase } from "../../helpers/pg";
import { FIXTURES } from "./support";

const mig = (version: number, name: string, sql = `CREATE TABLE t${version} (id int);\n`, down?: string): Migration =>
  migrationFromText({ version, name: `${String(version).padStart(3, "0")}_${name}`, file: `m/${String(version).padStart(3, "0")}_${name}.sql`, content: sql, down: down === undefined ? undefined : { file: `m/${version}.down.sql`, content: down } });
const row = (m: Migration, extra: Partial<HistoryRow> = {}): HistoryRow => ({ version: m.version, name: m.name, checksum: m.checksum, ...extra });
const settings = (s: object = {}) => parseMigrationSettings(s);

describe("planMigrations", () => {
  const a = mig(1, "a");
  const b = mig(2, "b");
  const c = mig(3, "c", "ALTER TABLE t1 DROP COLUMN id;\n");

  it("lists pending migrations in order, with lint findings of those only", async () => {
    const plan = await planMigrations({ migrations: [c, a, b], history: [row(a)], settings: settings() });
    expect(plan.direction).toBe("up");
    expect(plan.toApply.map((m) => m.name)).toEqual(["002_b", "003_c"]);
    expect([plan.currentVersion, plan.targetVersion]).toEqual([1, 3]);
    expect(plan.findings.map((f) => [f.migration, f.rule])).toEqual([["003_c", "drop-column"]]);
    expect(plan.blocked).toEqual([]); // not protected: a warning
    expect(plan.problems).toEqual([]);
  });

  it("without a reachable database, uses what was recorded; with neither, everything is pending", async () => {
    const recorded = await planMigrations({ migrations: [a, b], recorded: [row(a)], settings: settings() });
    expect([recorded.appliedFrom, recorded.toApply.map((m) => m.version)]).toEqual(["recorded", [2]]);
    const none = await planMigrations({ migrations: [a, b], settings: settings() });
    expect([none.appliedFrom, none.toApply.map((m) => m.version)]).toEqual(["none", [1, 2]]);
  });

  it("reports drift between the live history and the recorded state", async () => {
    const plan = await planMigrations({
      migrations: [a, b, c],
      history: [row(a), row(b, { appliedBy: "ops", appliedAt: new Date("2026-01-02T03:04:05Z") })],
      recorded: [row(a, { checksum: "sha256:old" }), row(c)],
      settings: settings(),
    });
    expect(plan.drift.map((d) => [d.kind, d.name])).toEqual([
      ["changed-outside", "001_a"],
      ["applied-outside", "002_b"],
      ["removed-outside", "003_c"],
    ]);
    expect(plan.drift[1].message).toBe("002_b was applied outside this stack by ops on 2026-01-02T03:04:05.000Z");
    expect(plan.toApply.map((m) => m.name)).toEqual(["003_c"]); // the live table decides
  });

  it("fails a changed checksum, naming the file, both checksums and the way out", async () => {
    const plan = await planMigrations({ migrations: [a, b], history: [row(a, { checksum: "sha256:abc" })], settings: settings() });
    expect(plan.checksumFailures).toHaveLength(1);
    expect(plan.problems[0]).toBe(
      `m/001_a.sql was changed after it was applied: recorded checksum sha256:abc, file now ${a.checksum}. Nothing was run. ` +
        `Restore the applied version of the file (e.g. from git) and put the change in a new migration; or, if the edit is harmless (comments, formatting), accept it with the setting repairChecksums: ["001_a"].`,
    );
    const repaired = await planMigrations({ migrations: [a, b], history: [row(a, { checksum: "sha256:abc" })], settings: settings({ repairChecksums: ["001_a"] }) });
    expect([repaired.problems, repaired.toRepair.map((r) => r.name)]).toEqual([[], ["001_a"]]);
  });

  it("baselines only a database without history", async () => {
    const fresh = await planMigrations({ migrations: [a, b, c], history: [], settings: settings({ baselineVersion: 2 }) });
    expect(fresh.toBaseline.map((m) => m.version)).toEqual([1, 2]);
    expect(fresh.toApply.map((m) => m.version)).toEqual([3]);
    const adopted = await planMigrations({ migrations: [a, b, c], history: [row(a), row(b)], settings: settings({ baselineVersion: 2 }) });
    expect(adopted.toBaseline).toEqual([]);
  });

  it("plans down in reverse order and refuses a missing down file", async () => {
    const a2 = mig(1, "a", undefined, "DROP TABLE t1;");
    const b2 = mig(2, "b", undefined, "DROP TABLE t2;");
    const plan = await planMigrations({ migrations: [a2, b2, c], history: [row(a2), row(b2), row(c)], settings: settings({ targetVersion: 1 }) });
    expect(plan.direction).toBe("down");
    expect(plan.toRevert.map((m) => m.version)).toEqual([2]);
    expect(plan.problems).toEqual([`m/003_c.sql: targetVersion 1 needs 003_c.down.sql to undo version 3, and there is none. Nothing was run. Write the down file, or choose a targetVersion of 3 or above.`]);
  });

  it("blocks lint findings in protected stacks unless allowed by name", async () => {
    const blocked = await planMigrations({ migrations: [a, c], history: [row(a)], settings: settings({ protected: true }) });
    expect(blocked.blocked.map((f) => f.migration)).toEqual(["003_c"]);
    expect(blocked.problems[0]).toContain(`allowDestructive: ["003_c"]`);
    const allowed = await planMigrations({ migrations: [a, c], history: [row(a)], settings: settings({ protected: true, allowDestructive: ["003_c"] }) });
    expect([allowed.blocked, allowed.problems]).toEqual([[], []]);
  });
});

describe("settings", () => {
  it("fill every default", () => {
    expect(parseMigrationSettings({})).toEqual({
      outOfOrder: false,
      repairChecksums: [],
      lockTimeoutMs: 60_000,
      allowDestructive: [],
      protected: false,
      dropOnDelete: false,
      historyTable: "public.schema_migrations",
    });
  });

  it("list every problem by its path", () => {
    expect(() => parseMigrationSettings({ lockTimeoutMs: -1, allowDestructive: ["drop users"], protected: true, dropOnDelete: true, typo: 1 }, "nexus-db:postgres.migrations")).toThrow(
      /nexus-db:postgres\.migrations\.lockTimeoutMs: .*\n.*nexus-db:postgres\.migrations\.allowDestructive\.0: .*003_blockchain[\s\S]*dropOnDelete: dropOnDelete cannot be set on a protected stack/,
    );
    expect(migrationSettingsSchema.safeParse({ typo: 1 }).success).toBe(false);
  });
});

describe("against a database", () => {
  let db: FreshDatabase;
  beforeEach(async () => {
    db = await freshDatabase("pgplan");
  });
  afterEach(async () => {
    await db.drop();
  });

  it("the lock-timeout error names the holder from pg_stat_activity", async () => {
    const source = new DirectoryMigrationSource(path.join(FIXTURES, "basic"));
    await withClient(db.url, async (holder) => {
      await holder.query("SET application_name = 'stuck deploy job'");
      await holder.query("SELECT pg_advisory_lock($1::bigint)", [lockKey("public.schema_migrations").toString()]);
      const { rows } = await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      const result = await migrate({ connection: db.url, source, settings: { lockTimeoutMs: 300 } });
      expect(result.error?.kind).toBe("lock");
      expect(result.error?.sqlstate).toBe("55P03");
      expect(result.error?.message).toContain(`could not take the migration lock for public.schema_migrations within 300 ms: held by pid ${rows[0].pid}, application "stuck deploy job", user postgres`);
      expect(result.error?.message).toContain(`pg_terminate_backend(${rows[0].pid})`);
      expect(result.applied).toEqual([]);
    });
    // Released with the holder's session: the next run goes through.
    expect((await migrate({ connection: db.url, source, settings: { lockTimeoutMs: 5000 } })).ok).toBe(true);
  });

  it("planAgainstDatabase reads the live history without creating or locking anything", async () => {
    const source = new DirectoryMigrationSource(path.join(FIXTURES, "basic"));
    const before = await planAgainstDatabase({ connection: db.url, source });
    expect(before.history).toEqual([]);
    expect(before.plan.toApply).toHaveLength(4);
    const exists = await withClient(db.url, (c) => c.query("SELECT to_regclass('public.schema_migrations') AS t"));
    expect(exists.rows[0].t).toBeNull();

    const unreachable = await planAgainstDatabase({ connection: "postgres://nobody@127.0.0.1:1/none", source, recorded: [] });
    expect(unreachable.unreachable).toMatch(/cannot connect to postgres:\/\/nobody@127\.0\.0\.1:1\/none/);
    expect(unreachable.plan.appliedFrom).toBe("recorded");
  });
});
