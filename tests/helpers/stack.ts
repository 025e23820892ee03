// Real-CLI stack tests: the project copied to a temporary directory (so tests may edit migrations
// and declarations), a file backend of its own, the CLI that scripts/bootstrap.sh built.
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { LocalWorkspace, PulumiCommand, type ConfigMap, type Stack } from "@pulumi/pulumi/automation";

export const PROJECT_ROOT = path.resolve(__dirname, "..", "..");
const COPIED = ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts", "config", "components", "providers", "engines", "sql", "mongo", "redis"];

/** The CLI root (…/bin/pulumi inside); scripts/env.sh exports it. */
export function pulumiRoot(): string {
  const root = process.env.PULUMI_ROOT;
  if (!root) throw new Error("PULUMI_ROOT is not set: run the tests through `npm test` (scripts/test.sh sources scripts/env.sh)");
  return root;
}

export interface ProjectCopy {
  dir: string;
  backend: string;
  remove(): void;
}

/** A throwaway copy of the program with node_modules linked, and an empty file backend beside it. */
export function projectCopy(prefix = "nexus-stack-"): ProjectCopy {
  const base = mkdtempSync(path.join(tmpdir(), prefix));
  const dir = path.join(base, "project");
  const backend = path.join(base, "state");
  for (const entry of COPIED) cpSync(path.join(PROJECT_ROOT, entry), path.join(dir, entry), { recursive: true });
  symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
  mkdirSync(backend, { recursive: true });
  return { dir, backend, remove: () => rmSync(base, { recursive: true, force: true }) };
}

/** The environment a stack operation runs in: the CLI on PATH, a local backend, no downloads. */
export function stackEnv(backendDir: string): Record<string, string> {
  const root = pulumiRoot();
  return {
    PATH: `${path.join(root, "bin")}:${process.env.PATH ?? ""}`,
    PULUMI_HOME: process.env.PULUMI_HOME ?? path.join(backendDir, ".pulumi-home"),
    PULUMI_BACKEND_URL: `file://${backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "nexus-db-local-dev",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
  };
}

/** Creates a stack of the copied project with the given config (secrets flagged). */
export async function createStack(copy: ProjectCopy, stackName: string, config: ConfigMap): Promise<Stack> {
  const pulumiCommand = await PulumiCommand.get({ root: pulumiRoot() });
  const stack = await LocalWorkspace.createStack(
    { stackName, workDir: copy.dir },
    { pulumiCommand, envVars: stackEnv(copy.backend) },
  );
  await stack.setAllConfig(config);
  return stack;
}
