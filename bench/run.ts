// `npm run bench`: runs every bench/*.bench.ts in its own process, one after another (the machine
// is small and shared: benchmarks never run in parallel), and prints one table of ratios.
//
// Protocol: a benchmark prints any number of lines `BENCH {json}` on stdout, json being a
// BenchResult. Everything else it prints is passed through as progress.
import { spawn, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import * as path from "node:path";
import type { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { projectEnv } from "../tests/policy/support";

export interface BenchResult {
  /** What was measured, e.g. "apply sql/migrations (nexus-db vs psql -1)". */
  name: string;
  /** Our time (ms) or throughput, per `unit`. */
  ours: number;
  /** The baseline's figure, measured in the same run. */
  baseline: number;
  /** "ms" or "MB" (lower is better) or "ops/s" (higher is better). */
  unit: "ms" | "MB" | "ops/s";
  /** ours/baseline for ms and MB, baseline/ours for ops/s: below 1 means we are faster (or smaller). */
  ratio?: number;
  /** The goal for `ratio`, e.g. 1.15 meaning "at most 1.15×". */
  goal?: number;
  /** A free-form note printed under the table (sizes, record-only figures). */
  note?: string;
}

export function report(r: BenchResult): void {
  const ratio = r.ratio ?? (r.unit === "ops/s" ? r.baseline / r.ours : r.ours / r.baseline);
  process.stdout.write(`BENCH ${JSON.stringify({ ...r, ratio })}\n`);
}

/** The median of `xs` (the mean of the two middle values for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** How long `fn` takes, in ms. */
export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/**
 * `pulumi up --yes --skip-preview` of an Automation API stack, run as the CLI command a platform
 * engineer types, and timed from its start to its exit. The Automation API's `up()` runs two more
 * CLI commands after it (the outputs and the last update's summary), ≈ 1.5 s that are not part of
 * `pulumi up`. Returns the time and the update's result and resource changes (read afterwards).
 */
export async function cliUp(stack: Stack): Promise<{ ms: number; result: string; changes: Record<string, number> }> {
  const ws = stack.workspace as LocalWorkspace;
  const env = { ...process.env, ...ws.envVars };
  let stderr = "";
  const t0 = performance.now();
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn("pulumi", ["up", "--yes", "--skip-preview", "--non-interactive", "--color", "never", "--stack", stack.name], { cwd: ws.workDir, env, stdio: ["ignore", "ignore", "pipe"] });
    child.stderr.on("data", (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
    child.on("error", reject);
    child.on("close", resolve);
  });
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`pulumi up --stack ${stack.name} exited ${code}: ${stderr.trim()}`);
  const [last] = await stack.history(1);
  return { ms, result: last?.result ?? "unknown", changes: (last?.resourceChanges ?? {}) as Record<string, number> };
}

/**
 * Ours against the baseline in `rounds` rounds of one run, the order alternating (round 1 ours
 * first, round 2 the baseline first, …) so that neither side always meets a warmer machine. Each
 * side returns its own time in ms (its set-up and clean-up may stay outside it); a line per round
 * goes to stderr.
 */
export async function alternatingRounds(
  rounds: number,
  sides: { ours: (round: number) => Promise<number>; baseline: (round: number) => Promise<number> },
  label: { ours: string; baseline: string },
): Promise<{ ours: number[]; baseline: number[] }> {
  const times = { ours: [] as number[], baseline: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? (["ours", "baseline"] as const) : (["baseline", "ours"] as const);
    for (const side of order) times[side].push(await sides[side](i));
    console.error(`round ${i + 1}: ${label.ours} ${times.ours[i].toFixed(0)} ms, ${label.baseline} ${times.baseline[i].toFixed(0)} ms`);
  }
  return times;
}

/** "median of N alternating rounds; ours a/b/c ms, baseline d/e/f ms". */
export function roundsNote(times: { ours: number[]; baseline: number[] }, label: { ours: string; baseline: string }): string {
  const list = (xs: number[]) => xs.map((t) => t.toFixed(0)).join("/");
  return `median of ${times.ours.length} alternating rounds; ${label.ours} ${list(times.ours)} ms, ${label.baseline} ${list(times.baseline)} ms`;
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
  // Each benchmark runs in the project's environment (scripts/env.sh: the CLI and its root, the backend).
  const env = process.env.PULUMI_ROOT ? process.env : { ...process.env, ...projectEnv() };
  for (const f of files) {
    console.error(`\n== ${f}`);
    const r = spawnSync(process.execPath, [require.resolve("tsx/cli"), path.join(dir, f)], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      env,
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
