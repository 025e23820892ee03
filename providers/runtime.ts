// How dynamic providers reach the engines.
//
// Pulumi runs a dynamic provider in a separate Node.js process (the `pulumi-nodejs` plugin), started
// from the project directory, and evaluates the module kept in the resource's `__provider` input.
// The SDK's `pulumi.dynamic.Resource` serializes the provider's closure into that input; ours
// (providers/resource.ts) keeps there only a constant loader that names the provider's module and
// export, so the provider process loads the provider — and, at call time, its engine — from the
// project checked out next to the stack, never a stale copy frozen in state (pulumi/pulumi#6490,
// #6285). Providers still load their engine lazily:
//
//   async create(inputs) {
//     const { applyMigrations } = loadEngine<typeof import("../engines/postgres/migrator")>("engines/postgres/migrator");
//     ...
//   }
//
// so that the program, which imports the resource classes beside them, never loads an engine or a
// driver (pg, mongodb, ioredis) it does not use.
//
// Secrets: credentials arrive as secret inputs and are not returned as outputs. `diff` receives the
// old *outputs*, so a resource returns the credentials' fingerprint (`outputsOf`) and compares it
// (`updateWhenChanged`). The one exception is a connection that `delete` needs (a dev stack that
// drops on delete): it stays in the outputs, and providers/resource.ts marks it secret.

import { canonicalJson } from "../engines/shared/canonical-json";

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
    // As the program does (boot.cjs): the engines and their drivers compiled once, then reused.
    (require("node:module") as { enableCompileCache?: () => unknown }).enableCompileCache?.();
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

export { canonicalJson };

/** The output that stands for a resource's credentials: a hash, so that `diff` sees a rotated password without the state keeping it. */
export const CREDENTIALS_FINGERPRINT = "credentialsFingerprint";

/** sha256 of the credential-bearing inputs, in canonical JSON (what `diff` compares across runs). */
export function credentialsFingerprint(inputs: object, credentials: readonly string[]): string {
  const crypto = require("node:crypto") as typeof import("node:crypto");
  const i = inputs as Record<string, unknown>;
  const picked = Object.fromEntries(credentials.map((k) => [k, i[k] ?? null]));
  return `sha256:${crypto.createHash("sha256").update(canonicalJson(picked)).digest("hex")}`;
}

/**
 * A dynamic resource's outputs: its inputs without the credential-bearing ones, the credentials'
 * fingerprint in their place, and what the engine reported. `keep` names credential inputs that
 * stay (delete needs them: a drop-on-delete dev stack) — the resource marks them secret.
 */
export function outputsOf<T extends object, E extends object>(inputs: T, credentials: readonly string[], extra: E, keep: readonly string[] = []): T & E {
  const outs: Record<string, unknown> = { ...(inputs as Record<string, unknown>) };
  for (const k of credentials) if (!keep.includes(k)) delete outs[k];
  outs[CREDENTIALS_FINGERPRINT] = credentialsFingerprint(inputs, credentials);
  return { ...outs, ...extra } as T & E;
}

/**
 * The diff of a resource whose update re-applies its inputs: an update when any of `keys` changed
 * by value, or the credentials changed (by fingerprint; an unknown one counts as changed), never a
 * replace. (The SDK passes no per-property detail to the CLI.)
 */
export function updateWhenChanged(olds: object, news: object, keys: readonly string[], credentials: readonly string[] = []): { changes: boolean; replaces: string[]; deleteBeforeReplace: boolean } {
  const o = olds as Record<string, unknown>;
  const n = news as Record<string, unknown>;
  const plain = keys.some((k) => canonicalJson(o[k]) !== canonicalJson(n[k]));
  const secret =
    credentials.length > 0 && (credentials.some((k) => hasUnknown(n[k])) || o[CREDENTIALS_FINGERPRINT] !== credentialsFingerprint(n, credentials));
  return { changes: plain || secret, replaces: [], deleteBeforeReplace: false };
}
