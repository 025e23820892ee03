// Our overhead over Pulumi's own floor: a no-op `pulumi preview` of the full nexus-db program (the
// local stack's config, on this machine's servers) vs a bare TypeScript program with one dynamic
// resource — same CLI, same run, alternating rounds, medians. Both stacks are our own (deployed
// once, previewed, destroyed, removed); the program's database is a fresh one, dropped afterwards.
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { Client } from "pg";
import { MongoClient } from "mongodb";
import type { Stack } from "@pulumi/pulumi/automation";
import { DATABASE_URL, MONGODB_URL, uniqueSuffix } from "../tests/helpers/env";
import { localStackConfig, programStack, projectCopy, projectEnv, removeStack, scratchDir, setConfig } from "../tests/policy/support";
import { report } from "./run";

const ROUNDS = Number(process.env.BENCH_PREVIEW_ROUNDS ?? 3);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** A TypeScript Pulumi project with one dynamic resource: the floor of a preview. */
function bareProgram(): string {
  const dir = scratchDir("bench-bare");
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
  execFileSync("ln", ["-s", path.resolve(__dirname, "../node_modules"), path.join(dir, "node_modules")]);
  return dir;
}

async function timePreview(stack: Stack): Promise<number> {
  const t0 = performance.now();
  const r = await stack.preview({ color: "never" });
  const ms = performance.now() - t0;
  const changes = Object.entries(r.changeSummary).filter(([op, n]) => op !== "same" && n > 0);
  if (changes.length > 0) throw new Error(`${stack.name}: the preview is not a no-op: ${JSON.stringify(r.changeSummary)}`);
  return ms;
}

async function main(): Promise<void> {
  const env = projectEnv();
  const suffix = uniqueSuffix();
  const database = `nexus_bench_${suffix}`;
  const fullDir = projectCopy("bench-full");
  const bareDir = bareProgram();
  let full: Stack | undefined;
  let bare: Stack | undefined;
  try {
    const cfg = localStackConfig(env);
    const pg = cfg.plain["nexus-db:postgres"] as Record<string, unknown>;
    const mongo = cfg.plain["nexus-db:mongo"] as Record<string, unknown> & { settings?: Record<string, unknown> };
    const redis = cfg.plain["nexus-db:redis"] as Record<string, unknown>;
    // Roles, ACL users and key prefix of the bench's own: the shared servers' local stack keeps its passwords.
    const roles = { owner: `bench_${suffix}_owner`, app: `bench_${suffix}_app`, readonly: `bench_${suffix}_ro` };
    const aclUsers = { admin: { name: `bench_${suffix}_admin` }, app: { name: `bench_${suffix}_app` }, readonly: { name: `bench_${suffix}_ro` }, warmup: { name: `bench_${suffix}_warm` } };
    full = await programStack(`bench-full-${suffix}`, fullDir, env);
    await setConfig(
      full,
      {
        ...cfg.plain,
        "nexus-db:postgres": { ...pg, database, roles },
        "nexus-db:mongo": { ...mongo, settings: { ...(mongo.settings ?? {}), database } },
        "nexus-db:redis": { ...redis, settings: { keyPrefix: `bench${suffix}:`, acl: { users: aclUsers } } },
      },
      cfg.secrets,
    );
    bare = await programStack(`bench-bare-${suffix}`, bareDir, env);
    console.error("deploying both stacks once");
    await full.up({ color: "never" });
    await bare.up({ color: "never" });
    const times = { full: [] as number[], bare: [] as number[] };
    for (let i = 0; i < ROUNDS; i++) {
      times.bare.push(await timePreview(bare));
      times.full.push(await timePreview(full));
      console.error(`round ${i + 1}: bare ${times.bare[i].toFixed(0)} ms, full ${times.full[i].toFixed(0)} ms`);
    }
    report({
      name: "no-op pulumi preview: full local stack vs one dynamic resource",
      ours: median(times.full),
      baseline: median(times.bare),
      unit: "ms",
      note: `median of ${ROUNDS} alternating rounds, same CLI; full ${times.full.map((t) => t.toFixed(0)).join("/")} ms, bare ${times.bare.map((t) => t.toFixed(0)).join("/")} ms`,
    });
  } finally {
    for (const s of [full, bare]) {
      try {
        if (s) await s.destroy({ color: "never" });
      } catch (e) {
        console.error(`destroy ${s?.name}: ${(e as Error).message.split("\n")[0]}`);
      }
    }
    await removeStack(full, fullDir);
    await removeStack(bare, bareDir);
    // The bench's own database, roles and collections go.
    const c = new Client({ connectionString: DATABASE_URL });
    await c.connect();
    try {
      await c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      for (const r of ["app", "ro", "owner"]) await c.query(`DROP ROLE IF EXISTS "bench_${suffix}_${r}"`);
    } finally {
      await c.end();
    }
    const m = new MongoClient(MONGODB_URL);
    await m.connect();
    await m.db(database).dropDatabase().finally(() => m.close());
    rmSync(fullDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
