// `npm run bench`: runs every bench/*.bench.ts in its own process, one after another (the machine
// is small and shared: benchmarks never run in parallel), and prints one table of ratios.
//
// Protocol: a benchmark prints any number of lines `BENCH {json}` on stdout, json being a
// BenchResult. Everything else it prints is passed through as progress.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import * as path from "node:path";

export interface BenchResult {
  /** What was measured, e.g. "apply sql/migrations (nexus-db vs psql -1)". */
  name: string;
  /** Our time (ms) or throughput, per `unit`. */
  ours: number;
  /** The baseline's figure, measured in the same run. */
  baseline: number;
  /** "ms" (lower is better) or "ops/s" (higher is better). */
  unit: "ms" | "ops/s";
  /** ours/baseline for ms, baseline/ours for ops/s: below 1 means we are faster. */
  ratio?: number;
  /** The goal for `ratio`, e.g. 1.15 meaning "at most 1.15×". */
  goal?: number;
  /** A free-form note printed under the table (sizes, record-only figures). */
  note?: string;
}

export function report(r: BenchResult): void {
  const ratio = r.ratio ?? (r.unit === "ms" ? r.ours / r.baseline : r.baseline / r.ours);
  process.stdout.write(`BENCH ${JSON.stringify({ ...r, ratio })}\n`);
}

function main(): number {
  const dir = __dirname;
  const only = process.argv.slice(2);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".bench.ts"))
    .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
    .sort();
  const results: (BenchResult & { file: string })[] = [];
  let failed = 0;
  for (const f of files) {
    console.error(`\n== ${f}`);
    const r = spawnSync(process.execPath, [require.resolve("tsx/cli"), path.join(dir, f)], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      maxBuffer: 64 * 1024 * 1024,
    });
    for (const line of (r.stdout ?? "").split("\n")) {
      if (line.startsWith("BENCH ")) results.push({ ...(JSON.parse(line.slice(6)) as BenchResult), file: f });
      else if (line.trim()) console.error(line);
    }
    if (r.status !== 0) {
      failed++;
      console.error(`!! ${f} exited with ${r.status}`);
    }
  }
  const rows = results.map((r) => [
    r.file.replace(/\.bench\.ts$/, ""),
    r.name,
    `${fmt(r.ours)} ${r.unit}`,
    `${fmt(r.baseline)} ${r.unit}`,
    `${(r.ratio ?? 0).toFixed(3)}×`,
    r.goal === undefined ? "" : (r.ratio ?? Infinity) <= r.goal ? `≤ ${r.goal} ok` : `≤ ${r.goal} MISSED`,
  ]);
  const head = ["bench", "measure", "ours", "baseline", "ratio", "goal"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
  console.log("\n" + line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(line(row));
  for (const r of results) if (r.note) console.log(`  ${r.name}: ${r.note}`);
  return failed === 0 ? 0 : 1;
}

function fmt(n: number): string {
  return n >= 100 ? n.toFixed(0) : n.toFixed(2);
}

if (require.main === module) process.exit(main());
