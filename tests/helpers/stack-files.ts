// The committed stack files, read as the program reads its config: the `nexus-db:` namespace's
// plain values (encrypted `secure:` values are left out: tests supply their own secrets).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { NAMESPACE, parseStackConfig, type StackConfig } from "../../config/schema";

// js-yaml comes with @pulumi/pulumi (it reads these files too); it ships no types.
const { load } = require("js-yaml") as { load(text: string): unknown };

/** `Pulumi.<stack>.yaml`'s plain values of the namespace, key without namespace → value. */
export function stackFileValues(stack: string, root = process.cwd()): Record<string, unknown> {
  const doc = load(readFileSync(join(root, `Pulumi.${stack}.yaml`), "utf8")) as { config?: Record<string, unknown> };
  const values: Record<string, unknown> = {};
  for (const [fullKey, v] of Object.entries(doc.config ?? {})) {
    if (!fullKey.startsWith(`${NAMESPACE}:`)) continue;
    if (v !== null && typeof v === "object" && "secure" in v) continue;
    values[fullKey.slice(NAMESPACE.length + 1)] = v;
  }
  return values;
}

/** The parsed config of a committed stack, optionally with values changed (deep-merged). */
export function stackFileConfig(stack: string, overrides: Record<string, unknown> = {}): StackConfig {
  return parseStackConfig(merge(stackFileValues(stack), overrides), stack);
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      v && typeof v === "object" && !Array.isArray(v) && cur && typeof cur === "object" && !Array.isArray(cur)
        ? merge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}
