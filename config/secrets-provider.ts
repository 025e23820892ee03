// A protected stack's secrets must not be encrypted with the documented dev passphrase (or an
// empty one): anyone could decrypt its passwords from the committed Pulumi.<stack>.yaml and the
// state. Checked twice, with the same rule: by scripts/stack-guard.ts before `npm run up/preview`
// creates or selects the stack, and by the program (config/read.ts) before any resource exists.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { NAMESPACE } from "./names";

/** The passphrase scripts/env.sh sets for the local and dev stacks; public, so never for a protected stack. */
export const DEV_PASSPHRASE = "nexus-db-local-dev";

/** Environments whose stacks are protected unless they say otherwise (as in config/schema.ts). */
const PROTECTED_ENVIRONMENTS = ["staging", "prod"];

// js-yaml comes with @pulumi/pulumi (which reads these files with it); it ships no types.
const { load } = require("js-yaml") as { load(text: string): unknown };

/** What a stack file says about protection and secrets. */
export interface StackFileFacts {
  /** Whether Pulumi.<stack>.yaml exists. */
  exists: boolean;
  /** `nexus-db:protected`, if set. */
  protected?: boolean;
  /** `nexus-db:environment`, if set. */
  environment?: string;
  /** The file's `secretsprovider:` (absent for the default provider of the backend). */
  secretsProvider?: string;
  /** Whether the file carries a passphrase provider's `encryptionsalt:`. */
  encryptionSalt: boolean;
}

export function readStackFileFacts(projectDir: string, stack: string): StackFileFacts {
  const file = join(projectDir, `Pulumi.${stack}.yaml`);
  if (!existsSync(file)) return { exists: false, encryptionSalt: false };
  const doc = (load(readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown>; secretsprovider?: unknown; encryptionsalt?: unknown };
  const cfg = doc.config ?? {};
  const prot = cfg[`${NAMESPACE}:protected`];
  const env = cfg[`${NAMESPACE}:environment`];
  return {
    exists: true,
    ...(typeof prot === "boolean" ? { protected: prot } : prot === "true" || prot === "false" ? { protected: prot === "true" } : {}),
    ...(typeof env === "string" ? { environment: env } : {}),
    ...(typeof doc.secretsprovider === "string" ? { secretsProvider: doc.secretsprovider } : {}),
    encryptionSalt: typeof doc.encryptionsalt === "string",
  };
}

/** Protected: the file says so, or its environment is staging/prod, or (no file yet) the stack is named so. */
export function isProtectedStack(stack: string, facts: StackFileFacts): boolean {
  if (facts.protected !== undefined) return facts.protected;
  if (facts.environment !== undefined) return PROTECTED_ENVIRONMENTS.includes(facts.environment);
  return PROTECTED_ENVIRONMENTS.includes(stack) || /^(staging|prod)[-_.]/.test(stack);
}

/**
 * Whether the stack's secrets go through the passphrase provider: the file names it, or carries
 * its salt, or names no provider on a self-managed backend (file://, s3://…), whose default it is.
 */
export function usesPassphrase(facts: StackFileFacts, backendUrl: string | undefined): boolean {
  if (facts.secretsProvider !== undefined) return facts.secretsProvider === "passphrase";
  if (facts.encryptionSalt) return true;
  const url = backendUrl ?? "";
  return url !== "" && !/^https?:\/\//.test(url);
}

/** The passphrase the CLI will use: PULUMI_CONFIG_PASSPHRASE_FILE's content, else PULUMI_CONFIG_PASSPHRASE. */
export function effectivePassphrase(env: NodeJS.ProcessEnv): string | undefined {
  const file = env.PULUMI_CONFIG_PASSPHRASE_FILE;
  if (file) return existsSync(file) ? readFileSync(file, "utf8").replace(/\r?\n$/, "") : undefined;
  return env.PULUMI_CONFIG_PASSPHRASE;
}

/** Why this protected stack's secrets are not safe, with the fix; undefined when they are (or the stack is not protected). */
export function passphraseProblem(args: { stack: string; protected: boolean; usesPassphrase: boolean; passphrase: string | undefined }): string | undefined {
  if (!args.protected || !args.usesPassphrase) return undefined;
  const p = args.passphrase;
  if (p !== undefined && p !== "" && p !== DEV_PASSPHRASE) return undefined;
  const what = p === DEV_PASSPHRASE ? `the documented dev passphrase ("${DEV_PASSPHRASE}", the default of scripts/env.sh)` : "an empty passphrase";
  return (
    `stack "${args.stack}" is protected, and its secrets would be encrypted with ${what}: anyone could decrypt its passwords. ` +
    `Nothing was created. Either give it a passphrase of its own (export PULUMI_CONFIG_PASSPHRASE, or PULUMI_CONFIG_PASSPHRASE_FILE, before \`npm run up -- ${args.stack}\`), ` +
    `or move it to a KMS secrets provider: \`pulumi stack change-secrets-provider "awskms://alias/nexus-db?region=<region>" --stack ${args.stack}\` ` +
    `(or azurekeyvault://, gcpkms://, hashivault://), or create it with one: \`pulumi stack init ${args.stack} --secrets-provider "awskms://…"\`.`
  );
}

/** The whole check for a stack of a project directory, with the process's environment. */
export function checkStackSecrets(projectDir: string, stack: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const facts = readStackFileFacts(projectDir, stack);
  return passphraseProblem({
    stack,
    protected: isProtectedStack(stack, facts),
    usesPassphrase: usesPassphrase(facts, env.PULUMI_BACKEND_URL),
    passphrase: effectivePassphrase(env),
  });
}
