// Our overhead over Pulumi's own floor: a no-op `pulumi preview` of the full nexus-db program (the
// local stack on this machine's servers, bench/local-stack.ts) vs a bare TypeScript program with
// one dynamic resource — same CLI, same run, alternating rounds, medians. Both stacks are our own
// (deployed once, previewed, destroyed, removed); the program's database is a fresh one, dropped
// afterwards.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { PROJECT_ROOT, createStack, type ProjectCopy } from "../tests/helpers/stack";
import { benchLocalStack, type BenchLocalStack } from "./local-stack";
import { alternatingRounds, median, report, roundsNote, timeMs } from "./run";

const ROUNDS = Number(process.env.BENCH_PREVIEW_ROUNDS ?? 3);

/** A TypeScript Pulumi project with one dynamic resource, with a file backend of its own: the floor of a preview. */
function bareProgram(): ProjectCopy {
  const base = mkdtempSync(path.join(tmpdir(), "nexus-bench-bare-"));
  const dir = path.join(base, "project");
  const backend = path.join(base, "state");
  mkdirSync(dir);
  mkdirSync(backend);
  writeFileSync(path.join(dir, "Pulumi.yaml"), "name: bare\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: index.ts\n");
  writeFileSync(
    path.join(dir, "index.ts"),
    `import * as pulumi from "@pulumi/pulumi";
const provider: pulumi.dynamic.ResourceProvider = { async create(inputs) { return { id: "bare", outs: inputs }; } };
class Bare extends pulumi.dynamic.Resource {}
new Bare(provider, "bare", { value: 1 }, {});
`,
  );
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "bare", private: true, main: "index.ts" }));
  symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
  return { dir, backend, remove: () => rmSync(base, { recursive: true, force: true }) };
}

async function timePreview(stack: Stack): Promise<number> {
  let changes: [string, number][] = [];
  const ms = await timeMs(async () => {
    const r = await stack.preview({ color: "never" });
    changes = Object.entries(r.changeSummary).filter(([op, n]) => op !== "same" && n > 0);
  });
  if (changes.length > 0) {
    // What changed, for whoever reads the failure: the same preview with its diff.
    const diff = await stack.preview({ color: "never", diff: true });
    throw new Error(`${stack.name}: the preview is not a no-op: ${JSON.stringify(Object.fromEntries(changes))}\n${diff.stdout}`);
  }
  return ms;
}

async function main(): Promise<void> {
  const bareCopy = bareProgram();
  let full: BenchLocalStack | undefined;
  let bare: Stack | undefined;
  try {
    console.error("deploying both stacks once");
    full = await benchLocalStack("bp", { up: true });
    bare = await createStack(bareCopy, `bench-bare-${full.fixture.suffix}`, {});
    await bare.up({ color: "never" });
    const label = { ours: "full", baseline: "bare" };
    const times = await alternatingRounds(ROUNDS, { ours: () => timePreview(full!.stack), baseline: () => timePreview(bare!) }, label);
    report({
      name: "no-op pulumi preview: full local stack vs one dynamic resource",
      ours: median(times.ours),
      baseline: median(times.baseline),
      unit: "ms",
      note: `${roundsNote(times, label)}; same CLI`,
    });
  } finally {
    try {
      if (bare) await bare.destroy({ color: "never" });
    } catch (e) {
      console.error(`destroy ${bare?.name}: ${(e as Error).message.split("\n")[0]}`);
    }
    bareCopy.remove();
    await full?.remove();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
