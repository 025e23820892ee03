// How dynamic providers reach the engines.
//
// Pulumi runs a dynamic provider in a separate Node.js process (the `pulumi-nodejs` plugin), started
// from the project directory, and evaluates the provider's methods from a copy serialized into the
// stack's state. Anything a method captures by closure is serialized with it, so methods capture
// nothing but this module and load their engine at call time:
//
//   async create(inputs) {
//     const { applyMigrations } = loadEngine<typeof import("../engines/postgres/migrator")>("engines/postgres/migrator");
//     ...
//   }
//
// Drivers (pg, mongodb, ioredis) are then required by the engine inside that process, never
// captured, and the engine that runs is always the one checked out next to the stack — not a stale
// copy frozen in state (pulumi/pulumi#6490, #6285).
//
// Secrets: a provider that needs its connection again in diff/update/delete (it receives the old
// *outputs* there) returns the connection in its outputs and lists it in `additionalSecretOutputs`,
// so the state holds it encrypted; nothing else secret is returned.

/** The project root the engines are loaded from: NEXUS_DB_ROOT, else the provider's working directory. */
export function projectRoot(): string {
  return process.env.NEXUS_DB_ROOT ?? process.cwd();
}

/**
 * Loads `relativePath` (a TypeScript module under the project root, without extension) in the
 * current process, registering tsx once so that TypeScript engines run without a build step.
 */
export function loadEngine<T>(relativePath: string): T {
  const path = require("node:path") as typeof import("node:path");
  const fs = require("node:fs") as typeof import("node:fs");
  const root = projectRoot();
  const base = path.join(root, relativePath);
  const file = [base, `${base}.ts`, `${base}.js`].find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
  if (!file) {
    throw new Error(
      `nexus-db: engine module "${relativePath}" not found under ${root}. ` +
        "Run pulumi from the nexus-db project directory (or set NEXUS_DB_ROOT to it).",
    );
  }
  const g = globalThis as { __nexusTsxRegistered?: boolean };
  if (!g.__nexusTsxRegistered && file.endsWith(".ts")) {
    (require("tsx/cjs/api") as { register(): void }).register();
    g.__nexusTsxRegistered = true;
  }
  return require(file) as T;
}

/** Pulumi's marker for a value not known during preview (what `check` and `diff` may receive). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** True when `value` holds a value unknown during preview anywhere inside it. */
export function hasUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(hasUnknown);
  if (value && typeof value === "object") return Object.values(value).some(hasUnknown);
  return false;
}

/**
 * The diff of a resource whose update re-applies its inputs: an update when any of `keys` changed
 * by value (secrets included), never a replace. (The SDK passes no per-property detail to the CLI.)
 */
export function updateWhenChanged(olds: object, news: object, keys: readonly string[]): { changes: boolean; replaces: string[]; deleteBeforeReplace: boolean } {
  const o = olds as Record<string, unknown>;
  const n = news as Record<string, unknown>;
  const changes = keys.some((k) => JSON.stringify(o[k] ?? null) !== JSON.stringify(n[k] ?? null));
  return { changes, replaces: [], deleteBeforeReplace: false };
}
