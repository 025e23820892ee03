// Reads the `nexus-db:` namespace of the running stack into plain values for parseStackConfig.
import * as pulumi from "@pulumi/pulumi";
import { NAMESPACE, SECRET_KEYS, type SecretKey } from "./names";
import { passwordProblems } from "./rules";
import { StackConfigError, parseStackConfig, type StackConfig } from "./schema";
import { effectivePassphrase, passphraseProblem, readStackFileFacts, usesPassphrase } from "./secrets-provider";

/** The plain value of a secret config key, or undefined (read without the SDK's plain-text warning). */
export function secretConfigValue(key: SecretKey): string | undefined {
  return pulumi.runtime.getConfig(`${NAMESPACE}:${key}`);
}

/** The namespace's non-secret values, JSON-decoded where they are objects, arrays, numbers or booleans. */
export function namespaceValues(all: Record<string, string>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [fullKey, raw] of Object.entries(all)) {
    const [ns, key] = [fullKey.slice(0, fullKey.indexOf(":")), fullKey.slice(fullKey.indexOf(":") + 1)];
    if (ns !== NAMESPACE || (SECRET_KEYS as readonly string[]).includes(key)) continue;
    try {
      values[key] = JSON.parse(raw);
    } catch {
      values[key] = raw;
    }
  }
  return values;
}

/**
 * The stack config, parsed once; throws StackConfigError listing every problem by path (printed
 * without a stack trace). `projectDir` (where Pulumi.<stack>.yaml is) and `env` (the passphrase,
 * the backend) default to the program's.
 */
export function readStackConfig(opts: { projectDir?: string; env?: NodeJS.ProcessEnv } = {}): StackConfig {
  const env = opts.env ?? process.env;
  const values = namespaceValues(pulumi.runtime.allConfig());
  let cfg: StackConfig | undefined;
  const problems: { path: string; message: string }[] = [];
  try {
    cfg = parseStackConfig(values, pulumi.getStack());
  } catch (e) {
    if (!(e instanceof StackConfigError)) throw e;
    problems.push(...e.problems);
  }
  // Password problems are listed with the others: one run shows everything to fix.
  const environment = cfg?.environment ?? (typeof values.environment === "string" ? values.environment : "dev");
  problems.push(
    ...SECRET_KEYS.flatMap((k) => passwordProblems(k, k === "tlsCaKeyPem" ? undefined : secretConfigValue(k), environment)).map((line) => ({
      path: line.slice(0, line.indexOf(": ")),
      message: line.slice(line.indexOf(": ") + 2),
    })),
  );
  const backupKey = secretConfigValue("backupKey");
  // Outside dev the password rules above say it already; the archives refuse a shorter key everywhere.
  if (environment === "dev" && backupKey !== undefined && backupKey.length < 16) problems.push({ path: `${NAMESPACE}:backupKey`, message: `at least 16 characters (got ${backupKey.length}): the archives' key` });
  if (cfg?.backups.enabled && !backupKey) {
    problems.push({ path: `${NAMESPACE}:backupKey`, message: 'required when backups.enabled (the archives\' key): `pulumi config set --secret backupKey "$(openssl rand -base64 32)"`' });
  }
  // A protected stack's secrets under the public dev passphrase: refused with the rest (scripts/stack-guard.ts checks it earlier).
  if (cfg?.protected) {
    const stack = pulumi.getStack();
    const problem = passphraseProblem({
      stack,
      protected: true,
      usesPassphrase: usesPassphrase(readStackFileFacts(opts.projectDir ?? process.cwd(), stack), env.PULUMI_BACKEND_URL),
      passphrase: effectivePassphrase(env),
    });
    if (problem) problems.push({ path: `secrets provider of Pulumi.${stack}.yaml`, message: problem });
  }
  if (problems.length > 0 || !cfg) throw new StackConfigError(problems);
  return cfg;
}
