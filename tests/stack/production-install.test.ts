// A production install: `npm ci --omit=dev` in a copy of the project, then a preview of the local
// stack (its own Pulumi.local.yaml) and the CLI's help. What the program, the dynamic providers
// and the CLI load at deploy time (tsx, libpg-query, the drivers) must be `dependencies`: with
// one left among the devDependencies the preview or the CLI fails here.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { LocalWorkspace, PulumiCommand } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROGRAM_FILES, PROJECT_ROOT, pulumiRoot, stackEnv } from "../helpers/stack";

// The program, the local stack's file, the lock file npm ci installs from, and the CLI.
const TREE = [...PROGRAM_FILES, "Pulumi.local.yaml", "package-lock.json", "bin", "cli"];

let base: string;
let dir: string;
let backend: string;

beforeAll(() => {
  base = mkdtempSync(path.join(tmpdir(), "nexus-prod-install-"));
  dir = path.join(base, "project");
  backend = path.join(base, "state");
  for (const entry of TREE) cpSync(path.join(PROJECT_ROOT, entry), path.join(dir, entry), { recursive: true });
  mkdirSync(backend);
  execFileSync("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error", "--prefer-offline"], { cwd: dir, stdio: "pipe", timeout: 600_000 });
}, 660_000);

afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

describe("npm ci --omit=dev", () => {
  it("installs no development tool", () => {
    for (const dev of ["vitest", "eslint", "typescript-eslint", "playwright-core"]) expect(existsSync(path.join(dir, "node_modules", dev)), dev).toBe(false);
    for (const dep of ["tsx", "libpg-query", "pg", "mongodb", "ioredis", "@pulumi/pulumi"]) expect(existsSync(path.join(dir, "node_modules", dep)), dep).toBe(true);
  });

  it("previews the local stack: the program and every dynamic provider load", async () => {
    const stack = await LocalWorkspace.createStack(
      { stackName: "local", workDir: dir },
      { pulumiCommand: await PulumiCommand.get({ root: pulumiRoot() }), envVars: stackEnv(backend) },
    );
    const preview = await stack.preview({ color: "never", diff: true });
    expect(preview.stdout).not.toMatch(/Cannot find module|ERR_MODULE_NOT_FOUND|error:/i);
    // Every resource of the local stack, the seven dynamic ones among them, is to be created.
    expect(preview.changeSummary.create ?? 0).toBeGreaterThanOrEqual(8);
    expect(preview.stdout).toContain("nexus:db:PostgresSchema");
  }, 300_000);

  it("runs the nexus-db CLI", () => {
    const r = spawnSync(process.execPath, [path.join(dir, "bin", "nexus-db.cjs"), "--help"], { cwd: dir, encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).not.toMatch(/Cannot find module/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/nexus-db/);
  });
});
