// Shared by the policy tests: the real CLI through the Automation API, the project's environment
// (scripts/env.sh), stacks named so the pack treats them as protected or not, and cleanup.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import * as path from "node:path";
import { CommandError, LocalWorkspace, PulumiCommand, type PulumiFn, type Stack } from "@pulumi/pulumi/automation";
import { NAMESPACE } from "../../config/schema";
import { stackFileValues } from "../helpers/stack-files";
import { PROGRAM_FILES } from "../helpers/stack";

export const ROOT = path.resolve(__dirname, "../..");
export const POLICY_PACK = path.join(ROOT, "policy");

/** The variables scripts/env.sh exports (CLI on PATH, file backend, passphrase, no plugin downloads). */
export function projectEnv(): Record<string, string> {
  const out = execFileSync("bash", ["-c", `. "${ROOT}/scripts/env.sh" && env -0`], { encoding: "utf8" });
  const env: Record<string, string> = {};
  for (const entry of out.split("\0")) {
    const i = entry.indexOf("=");
    if (i > 0) env[entry.slice(0, i)] = entry.slice(i + 1);
  }
  const keep = Object.entries(env).filter(([k]) => k === "PATH" || k.startsWith("PULUMI_") || k.startsWith("NEXUS_"));
  return Object.fromEntries(keep);
}

export async function pulumiCommand(env: Record<string, string>): Promise<PulumiCommand> {
  return PulumiCommand.get({ root: env.PULUMI_ROOT, skipVersionCheck: false });
}

/** A scratch directory under the project's .tmp (so node_modules resolves from it). */
export function scratchDir(prefix: string): string {
  mkdirSync(path.join(ROOT, ".tmp"), { recursive: true });
  return mkdtempSync(path.join(ROOT, ".tmp", `${prefix}-`));
}

/** A copy of the program (its sources, declarations and Pulumi.yaml), node_modules linked. */
export function projectCopy(prefix: string): string {
  const dir = scratchDir(prefix);
  for (const f of PROGRAM_FILES) cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true });
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

/**
 * The local stack's config: the plain values of Pulumi.local.yaml, and fresh random values for
 * the secrets it sets (which need no deployed `local` stack to decrypt: a fresh clone has none).
 */
export function localStackConfig(_env?: Record<string, string>): { plain: Record<string, unknown>; secrets: Record<string, string> } {
  const plain: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(stackFileValues("local", ROOT))) plain[`${NAMESPACE}:${k}`] = v;
  const { load } = require("js-yaml") as { load(text: string): unknown };
  const doc = load(readFileSync(path.join(ROOT, "Pulumi.local.yaml"), "utf8")) as { config?: Record<string, unknown> };
  const secrets: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc.config ?? {})) {
    if (v !== null && typeof v === "object" && "secure" in v) secrets[k] = randomBytes(33).toString("base64url");
  }
  return { plain, secrets };
}

/** Sets plain values (objects as JSON, with --path) and secrets on a stack. */
export async function setConfig(stack: Stack, plain: Record<string, unknown>, secrets: Record<string, string>): Promise<void> {
  const all: Record<string, { value: string; secret?: boolean }> = {};
  for (const [k, v] of Object.entries(plain)) all[k] = { value: typeof v === "string" ? v : JSON.stringify(v) };
  for (const [k, v] of Object.entries(secrets)) all[k] = { value: v, secret: true };
  await stack.setAllConfig(all);
}

export interface PreviewOutcome {
  ok: boolean;
  /** stdout and stderr of the CLI. */
  output: string;
}

/** `pulumi preview` with the policy pack; a refused preview is an outcome, not a throw. */
export async function previewWithPolicies(stack: Stack, extra: { diff?: boolean } = {}): Promise<PreviewOutcome> {
  try {
    const r = await stack.preview({ policyPacks: [POLICY_PACK], diff: extra.diff ?? false, color: "never" });
    return { ok: true, output: r.stdout + r.stderr };
  } catch (e) {
    if (e instanceof CommandError) return { ok: false, output: e.message };
    throw e;
  }
}

/** An inline-program stack in a scratch directory of this project, on the project's backend. */
export async function inlineStack(stackName: string, program: PulumiFn, env: Record<string, string>): Promise<Stack> {
  const workDir = scratchDir("policy-inline");
  return LocalWorkspace.createOrSelectStack(
    { stackName, projectName: "nexus-db-policy-test", program },
    {
      workDir,
      pulumiCommand: await pulumiCommand(env),
      envVars: { ...env, NEXUS_DB_ROOT: ROOT },
      projectSettings: { name: "nexus-db-policy-test", runtime: "nodejs", backend: { url: env.PULUMI_BACKEND_URL } },
    },
  );
}

/** A stack of a project directory (a copy of nexus-db) on the project's backend. */
export async function programStack(stackName: string, workDir: string, env: Record<string, string>): Promise<Stack> {
  return LocalWorkspace.createOrSelectStack(
    { stackName, workDir },
    { pulumiCommand: await pulumiCommand(env), envVars: { ...env, NEXUS_DB_ROOT: workDir } },
  );
}

/** Removes a stack and its scratch directory; never throws (cleanup in `finally`). */
export async function removeStack(stack: Stack | undefined, dir?: string): Promise<void> {
  try {
    if (stack) await stack.workspace.removeStack(stack.name, { force: true });
  } catch {
    // already gone
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  try {
    if (stack) rmSync(stack.workspace.workDir, { recursive: true, force: true });
  } catch {
    // the workspace may be the project copy itself
  }
}
