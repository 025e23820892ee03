// One applier at a time: two processes migrating the same database at once, and SIGKILL of an
// applying process at random moments. Each round on a fresh database.
import { afterEach, describe, expect, it } from "vitest";
import { DirectoryMigrationSource, migrate } from "../../../engines/postgres";
import { freshDatabase, withClient, type FreshDatabase } from "../../helpers/pg";
import { historyRows, scratchDir, spawnMigrate, tableNames, writeSlowMigrations } from "./support";

const ROUNDS = 10;
// Each round starts Node processes; on a busy machine ten rounds take minutes.
const ROUNDS_TIMEOUT = 900_000;
const COUNT = 8; // migrations per set: 001 plus 7 slow ones

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function fresh(): Promise<FreshDatabase> {
  const db = await freshDatabase("pgconc");
  cleanups.push(() => db.drop());
  return db;
}

function slowSet(sleepMs: number): string {
  const s = scratchDir();
  cleanups.push(() => s.cleanup());
  writeSlowMigrations(s.write, COUNT, sleepMs);
  return s.dir;
}

describe("two concurrent applies in two processes", () => {
  it(`apply each version exactly once (${ROUNDS} rounds)`, async () => {
    const dir = slowSet(40);
    for (let round = 0; round < ROUNDS; round++) {
      const db = await fresh();
      const a = spawnMigrate(db.url, dir);
      const b = spawnMigrate(db.url, dir);
      const [ra, rb] = await Promise.all([a.output, b.output]);
      expect({ round, code: ra.code, stderr: ra.stderr }).toMatchObject({ code: 0 });
      expect({ round, code: rb.code, stderr: rb.stderr }).toMatchObject({ code: 0 });
      const appliedA: number[] = JSON.parse(ra.stdout).applied;
      const appliedB: number[] = JSON.parse(rb.stdout).applied;
      // Every version was applied by exactly one of the two processes…
      expect([...appliedA, ...appliedB].sort((x, y) => x - y)).toEqual(Array.from({ length: COUNT }, (_, i) => i + 1));
      // …recorded once, and its body ran once.
      expect((await historyRows(db.url)).map((r) => r.version)).toEqual(Array.from({ length: COUNT }, (_, i) => i + 1));
      const log = await withClient(db.url, (c) => c.query<{ version: number }>("SELECT version FROM apply_log ORDER BY version"));
      expect(log.rows.map((r) => r.version)).toEqual(Array.from({ length: COUNT - 1 }, (_, i) => i + 2));
    }
  }, ROUNDS_TIMEOUT);
});

describe("a waiting applier and CREATE INDEX CONCURRENTLY", () => {
  it("do not deadlock: the waiter holds no snapshot while the holder builds the index", async () => {
    const db = await fresh();
    const s = scratchDir();
    cleanups.push(() => s.cleanup());
    s.write("001_t.sql", "CREATE TABLE t (id int);\nINSERT INTO t SELECT generate_series(1, 10000);\n");
    // Long enough that the second applier is already waiting when the index build starts.
    s.write("002_pause.sql", "SELECT pg_sleep(1.5);\n");
    s.write("003_idx.sql", "-- nexus:no-transaction\nCREATE INDEX CONCURRENTLY t_id_idx ON t (id);\n");
    const run = () => migrate({ connection: db.url, source: new DirectoryMigrationSource(s.dir), settings: { lockTimeoutMs: 30_000 } });
    const [a, b] = await Promise.all([run(), new Promise((r) => setTimeout(r, 200)).then(run)]);
    expect([a.error?.message, b.error?.message]).toEqual([undefined, undefined]);
    expect([...a.applied, ...b.applied].map((m) => m.version).sort()).toEqual([1, 2, 3]);
    const valid = await withClient(db.url, (c) => c.query("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_id_idx'::regclass"));
    expect(valid.rows[0].indisvalid).toBe(true);
  });
});

describe("SIGKILL of an applying process", () => {
  it(`leaves the database at a migration boundary, and the next apply completes (${ROUNDS} rounds)`, async () => {
    const dir = slowSet(60);
    const killedDuring: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const db = await fresh();
      const child = spawnMigrate(db.url, dir);
      // Kill once migrating has started, at a random moment within the run (~7 × 60 ms of sleeps, plus commits).
      let started = "";
      await new Promise<void>((resolve) => {
        child.stderr!.on("data", (d: Buffer) => {
          if (!started && d.toString().includes("start ")) {
            started = d.toString();
            setTimeout(() => {
              child.kill("SIGKILL");
              resolve();
            }, Math.floor(Math.random() * 800));
          }
        });
        child.on("close", () => resolve());
      });
      const out = await child.output;
      killedDuring.push(out.signal === "SIGKILL" ? `killed after ${out.stderr.trim().split("\n").pop()}` : "finished first");

      // Boundary: every recorded version's work is complete, and no unrecorded version left any trace.
      const recorded = (await historyRows(db.url)).map((r) => r.version);
      const tables = (await tableNames(db.url)).filter((t) => t.startsWith("step_"));
      expect({ round, tables }).toEqual({ round, tables: recorded.filter((v) => v > 1).map((v) => `step_${String(v).padStart(3, "0")}`) });
      if (recorded.includes(1)) {
        const log = await withClient(db.url, (c) => c.query<{ version: number }>("SELECT version FROM apply_log ORDER BY version"));
        expect(log.rows.map((r) => r.version)).toEqual(recorded.filter((v) => v > 1));
      }

      // The next apply takes the lock (the killed session's lock died with it) and completes.
      const next = await migrate({ connection: db.url, source: new DirectoryMigrationSource(dir), settings: { lockTimeoutMs: 30_000 } });
      expect(next.error?.message).toBeUndefined();
      expect((await historyRows(db.url)).map((r) => r.version)).toEqual(Array.from({ length: COUNT }, (_, i) => i + 1));
    }
    console.log(`SIGKILL rounds: ${killedDuring.join("; ")}`);
    expect(killedDuring.some((k) => k.startsWith("killed"))).toBe(true);
  }, ROUNDS_TIMEOUT);
});
