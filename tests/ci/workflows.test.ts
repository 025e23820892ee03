// The CI workflows are checked like code: actionlint (built from its Go module by
// scripts/tools.sh, with shellcheck for the `run:` scripts) over .github/workflows, a broken
// workflow to show the lint really fails, every stack a workflow names has its Pulumi.<stack>.yaml,
// and the dev deploy test keeps its state nowhere and always destroys.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = path.join(__dirname, "..", "..");
const WORKFLOWS = path.join(ROOT, ".github", "workflows");
const { load } = require("js-yaml") as { load(text: string): unknown };

let actionlint: string;
const scratch = mkdtempSync(path.join(tmpdir(), "nexus-actionlint-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

beforeAll(() => {
  // Builds it once per version into $NEXUS_CACHE/tools (minutes on a fresh machine), else instant.
  actionlint = execFileSync("bash", [path.join(ROOT, "scripts/tools.sh"), "actionlint"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
}, 900_000);

function lint(dir: string, files: string[]) {
  const r = spawnSync(actionlint, ["-no-color", ...files], { cwd: dir, encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const workflowFiles = () => readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)).sort();

describe("actionlint", () => {
  it("passes over every workflow, with shellcheck on their scripts", () => {
    expect(spawnSync("shellcheck", ["--version"]).status, "shellcheck (scripts/tools.sh installs it)").toBe(0);
    const r = lint(ROOT, workflowFiles().map((f) => path.join(".github/workflows", f)));
    expect(r.output).toBe("");
    expect(r.status).toBe(0);
  });

  it("fails on a broken workflow (so the check above can fail)", () => {
    const dir = path.join(scratch, "repo");
    mkdirSync(path.join(dir, ".github", "workflows"), { recursive: true });
    writeFileSync(
      path.join(dir, ".github", "workflows", "broken.yml"),
      ["on: push", "jobs:", "  a:", "    runs-on: ubuntu-latest", "    steps:", "      - run: echo ${{ matrix.nope }}", "      - run: cd $UNQUOTED_DIR", ""].join("\n"),
    );
    const r = lint(dir, [".github/workflows/broken.yml"]);
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/property "nope" is not defined/);
    // shellcheck's finding, through actionlint: the scripts are really checked.
    expect(r.output).toMatch(/SC2086/);
  });
});

/** Every stack a workflow deploys or previews: matrix stacks, `stack-name`, `with: { stack }`, `--stack X`, `stack init X`. */
function stacksNamed(text: string): string[] {
  const found = new Set<string>();
  const walk = (v: unknown, key = ""): void => {
    if (Array.isArray(v)) {
      if (key === "stack") for (const s of v) if (typeof s === "string") found.add(s);
      v.forEach((x) => walk(x, key));
    } else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) walk(x, k);
    } else if (typeof v === "string") {
      if ((key === "stack" || key === "stack-name") && !v.includes("${{")) found.add(v);
      for (const m of v.matchAll(/(?:--stack|stack init|stack select)\s+([a-z][a-z0-9_-]*)/g)) found.add(m[1]);
    }
  };
  walk(load(text));
  return [...found];
}

describe("the workflows' stacks", () => {
  it("each has its Pulumi.<stack>.yaml", () => {
    const named = workflowFiles().flatMap((f) => stacksNamed(readFileSync(path.join(WORKFLOWS, f), "utf8")).map((s) => ({ f, s })));
    expect(new Set(named.map((n) => n.s))).toEqual(new Set(["dev", "staging", "prod"]));
    for (const { f, s } of named) expect(existsSync(path.join(ROOT, `Pulumi.${s}.yaml`)), `${f} names stack "${s}"`).toBe(true);
  });

  it("the dev deploy test: a throwaway file backend and passphrase, checks through .env, destroy always", () => {
    const wf = load(readFileSync(path.join(WORKFLOWS, "deploy-test.yml"), "utf8")) as { jobs: Record<string, { steps: { name?: string; run?: string; if?: string }[] }> };
    const steps = wf.jobs.dev.steps;
    const run = steps.map((s) => s.run ?? "").join("\n");
    expect(run).toContain('echo "PULUMI_BACKEND_URL=file://$RUNNER_TEMP/pulumi-state"');
    expect(run).toContain("openssl rand -hex 32");
    expect(run).toContain("pulumi config set nexus-db:ephemeral true --stack dev");
    expect(run).toContain("npx tsx scripts/check-backend.ts .env");
    const destroy = steps.find((s) => s.name === "pulumi destroy");
    expect(destroy?.if).toBe("always()");
    expect(destroy?.run).toContain("pulumi destroy --yes");
    // up.yml's dev job is this deploy test, not an up of a long-lived dev stack.
    const up = load(readFileSync(path.join(WORKFLOWS, "up.yml"), "utf8")) as { jobs: Record<string, { uses?: string; with?: { stack?: string } }> };
    expect(up.jobs.dev.uses).toBe("./.github/workflows/deploy-test.yml");
    expect(Object.values(up.jobs).map((j) => j.with?.stack).filter(Boolean)).toEqual(["staging", "prod"]);
  });
});
