// Apply all of sql/migrations to an empty database: nexus-db's migrator (in this process: connect,
// lock, history table, checksums, lint, one transaction per migration) against
// `psql -1 -v ON_ERROR_STOP=1 -f …` with the same files, alternating, each run on a fresh database.
// Goal: at most 1.15× psql.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { DirectoryMigrationSource, migrate } from "../engines/postgres";
import { freshDatabase } from "../tests/helpers/pg";
import { report } from "./run";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

function migrationsDir(): { dir: string; label: string } {
  const real = path.join(__dirname, "../sql/migrations");
  const ok = existsSync(real) && readdirSync(real).some((f) => /^\d+_.*\.sql$/.test(f) && !f.endsWith(".down.sql"));
  // Until the real migrations exist, the fixture set stands in (without its no-transaction file, which psql -1 cannot run).
  return ok ? { dir: real, label: "sql/migrations" } : { dir: path.join(__dirname, "../tests/fixtures/migrations/failing"), label: "fixture migrations" };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const { dir, label } = migrationsDir();
  const source = new DirectoryMigrationSource(dir);
  const files = (await source.getMigrations()).map((m) => path.join(dir, `${m.name}.sql`));
  if (label !== "sql/migrations") files.splice(2); // the failing fixture: only its good files
  const only = new Set(files.map((f) => path.basename(f, ".sql")));
  const limited = { location: source.location, getMigrations: async () => (await source.getMigrations()).filter((m) => only.has(m.name)) };

  const ours: number[] = [];
  const psql: number[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    // Round 0 warms both up (page cache, the parser's WebAssembly) and is not counted.
    const a = await freshDatabase("bench");
    const b = await freshDatabase("bench");
    try {
      let t = performance.now();
      const r = await migrate({ connection: a.url, source: limited });
      const oursMs = performance.now() - t;
      if (!r.ok) throw r.error;

      t = performance.now();
      const p = spawnSync("psql", ["-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-d", b.url, ...files.flatMap((f) => ["-f", f])], { encoding: "utf8" });
      const psqlMs = performance.now() - t;
      if (p.status !== 0) throw new Error(`psql failed: ${p.stderr}`);
      if (round > 0) {
        ours.push(oursMs);
        psql.push(psqlMs);
      }
      console.log(`round ${round}${round === 0 ? " (warm-up)" : ""}: nexus-db ${oursMs.toFixed(1)} ms, psql -1 ${psqlMs.toFixed(1)} ms`);
    } finally {
      await a.drop();
      await b.drop();
    }
  }
  report({
    name: `apply ${label} (${files.length} files) to an empty database: nexus-db vs psql -1`,
    ours: median(ours),
    baseline: median(psql),
    unit: "ms",
    goal: 1.15,
    note: `median of ${ROUNDS} alternating runs, each on a fresh database; nexus-db in-process (includes connect, lock, history table, lint), psql including its process start. nexus-db runs: ${ours.map((x) => x.toFixed(0)).join(", ")}; psql: ${psql.map((x) => x.toFixed(0)).join(", ")}`,
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
