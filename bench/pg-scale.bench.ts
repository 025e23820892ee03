// 1,000 generated small migrations: the full apply, then the no-op check that every later
// `pulumi preview` and `up` pays (a second migrate, and the plan alone). Goals: the no-op check at
// most 5% of the full apply; the per-migration cost the same at 100 and at 1,000 migrations.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { DirectoryMigrationSource, migrate, planAgainstDatabase } from "../engines/postgres";
import { freshDatabase } from "../tests/helpers/pg";
import { report } from "./run";

function generate(count: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), "nexus-bench-"));
  for (let v = 1; v <= count; v++) {
    const n = String(v).padStart(4, "0");
    writeFileSync(
      path.join(dir, `${n}_small_${n}.sql`),
      `-- generated migration ${v}\nCREATE TABLE small_${n} (id bigint PRIMARY KEY, label text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());\n` +
        `INSERT INTO small_${n} (id, label) VALUES (1, 'first'), (2, 'second');\n`,
    );
  }
  return dir;
}

async function fullApply(count: number): Promise<{ ms: number; noopMs: number; planMs: number }> {
  const dir = generate(count);
  const db = await freshDatabase("bench");
  try {
    const source = new DirectoryMigrationSource(dir);
    let t = performance.now();
    const r = await migrate({ connection: db.url, source });
    const ms = performance.now() - t;
    if (!r.ok || r.applied.length !== count) throw r.error ?? new Error(`applied ${r.applied.length} of ${count}`);

    t = performance.now();
    const again = await migrate({ connection: db.url, source: new DirectoryMigrationSource(dir) });
    const noopMs = performance.now() - t;
    if (!again.ok || again.applied.length !== 0) throw again.error ?? new Error("the second run applied something");

    t = performance.now();
    const plan = await planAgainstDatabase({ connection: db.url, source: new DirectoryMigrationSource(dir) });
    const planMs = performance.now() - t;
    if (plan.plan.toApply.length !== 0) throw new Error("the plan found pending migrations");
    return { ms, noopMs, planMs };
  } finally {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  await fullApply(20); // warm-up: the parser's WebAssembly, connections, page cache
  // The 100-migration figure is short and the machine is shared: the median of three runs.
  const smalls: Awaited<ReturnType<typeof fullApply>>[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await fullApply(100);
    smalls.push(r);
    console.log(`100 migrations: apply ${r.ms.toFixed(0)} ms (${(r.ms / 100).toFixed(2)} ms each), no-op migrate ${r.noopMs.toFixed(1)} ms, plan ${r.planMs.toFixed(1)} ms`);
  }
  const small = smalls.sort((a, b) => a.ms - b.ms)[1];
  const big = await fullApply(1000);
  console.log(`1000 migrations: apply ${big.ms.toFixed(0)} ms (${(big.ms / 1000).toFixed(2)} ms each), no-op migrate ${big.noopMs.toFixed(1)} ms, plan ${big.planMs.toFixed(1)} ms`);

  report({
    name: "1,000 migrations: no-op migrate vs full apply",
    ours: big.noopMs,
    baseline: big.ms,
    unit: "ms",
    goal: 0.05,
    note: `no-op = a second migrate (connect, lock, read 1,000 files and their checksums, read the history, plan); the plan alone (preview): ${big.planMs.toFixed(1)} ms`,
  });
  report({
    name: "per-migration cost: at 1,000 vs at 100",
    ours: big.ms / 1000,
    baseline: small.ms / 100,
    unit: "ms",
    goal: 1.15,
    note: `per migration: ${(small.ms / 100).toFixed(2)} ms at 100 (median of 3 runs), ${(big.ms / 1000).toFixed(2)} ms at 1,000`,
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
