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
  const cfg = parseStackConfig(namespaceValues(pulumi.runtime.allConfig()), pulumi.getStack());
  const problems = SECRET_KEYS.flatMap((k) => passwordProblems(k, k === "tlsCaKeyPem" ? undefined : secretConfigValue(k), cfg.environment)).map(
    (line) => ({ path: line.slice(0, line.indexOf(": ")), message: line.slice(line.indexOf(": ") + 2) }),
  );
  if (problems.length > 0) throw new StackConfigError(problems);
  return cfg;
}
