// Reads the `nexus-db:` namespace of the running stack into plain values for parseStackConfig.
import * as pulumi from "@pulumi/pulumi";
import { NAMESPACE, SECRET_KEYS, StackConfigError, parseStackConfig, type StackConfig } from "./schema";
import { passwordProblems, secretConfigValue } from "../components/secrets";

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

/** The stack config, parsed once; throws StackConfigError listing every problem by path. */
export function readStackConfig(): StackConfig {
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
  if (problems.length > 0 || !cfg) throw new StackConfigError(problems);
  return cfg;
}
