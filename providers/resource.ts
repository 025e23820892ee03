// The one shape of every nexus-db dynamic resource (the program's side; providers/runtime.ts is the
// provider process's side):
//   - type token `pulumi-nodejs:dynamic/nexus:db:<Name>` — the module `nexus:db`, the class name —
//     so that policies and `pulumi stack export` tell the resources apart by type alone;
//   - the credential-bearing inputs wrapped in `pulumi.secret` here, whatever the caller passed,
//     and listed in `additionalSecretOutputs` (only a drop-on-delete connection is ever an output);
//   - a token the resource had before kept in `aliases`, so that the state moves without a replace;
//   - the provider named, not serialized: the state's `__provider` is a small constant module that
//     loads the named provider from the project checked out beside the stack (providers/runtime.ts
//     says why the provider's code is never frozen in state). The SDK's own path serializes each
//     provider's closure with the V8 inspector on every run of the program (≈ 0.4 s a preview for
//     seven providers); this string costs nothing and is the same on every machine.
import * as pulumi from "@pulumi/pulumi";
import { CREDENTIALS_FINGERPRINT } from "./runtime";

/** The module of every dynamic resource's type token. */
export const DYNAMIC_MODULE = "nexus:db";

/** `PostgresRoles` → `pulumi-nodejs:dynamic/nexus:db:PostgresRoles`. */
export function dynamicTypeToken(type: string): string {
  return `pulumi-nodejs:dynamic/${DYNAMIC_MODULE}:${type}`;
}

/** A provider object the provider process loads: a module under the project root and its export. */
export interface ProviderRef {
  /** Relative to the project root, with its extension: `providers/postgres-schema.ts`. */
  module: string;
  /** The export holding the `pulumi.dynamic.ResourceProvider`. */
  name: string;
}

/**
 * The plain-JavaScript packages the engines load, which the provider process loads before it
 * registers tsx: loaded after, each of their files would also pass through tsx's hook (the mongodb
 * driver: 0.27 s instead of 0.16 s; all four, ≈ 0.1 s of the first preview step). A package
 * missing here (an install without it) is only not preloaded.
 */
export const PRELOADED_PACKAGES = ["mongodb", "ioredis", "pg", "zod"] as const;

/**
 * The `__provider` module of a resource: its `handler()` returns the provider, which the provider
 * process (started in the project directory) loads through providers/runtime.ts's `loadEngine`.
 */
export function providerModuleSource(ref: ProviderRef): string {
  if (!/^[A-Za-z_$][\w$]*$/.test(ref.name)) throw new Error(`provider export name ${JSON.stringify(ref.name)} is not an identifier`);
  return [
    '"use strict";',
    "// nexus-db: the provider is loaded from the project checked out beside the stack.",
    "exports.handler = function () {",
    '  var root = process.env.NEXUS_DB_ROOT || process.cwd();',
    "  if (!globalThis.__nexusTsxRegistered) {",
    `    ${JSON.stringify(PRELOADED_PACKAGES)}.forEach(function (p) { try { require(p); } catch (e) { /* not installed: loaded, or not, on use */ } });`,
    '    require("tsx/cjs/api").register();',
    "    globalThis.__nexusTsxRegistered = true;",
    "  }",
    '  var runtime = require(require("path").join(root, "providers", "runtime.ts"));',
    `  return runtime.loadEngine(${JSON.stringify(ref.module)}).${ref.name};`,
    "};",
    "",
  ].join("\n");
}

/** What a dynamic resource declares about itself. */
export interface DynamicResourceSpec {
  /** The class name, last part of the type token. */
  type: string;
  /** Inputs that carry credentials: always secrets, never outputs (but see providers/runtime.ts). */
  credentials: readonly string[];
  /** Type tokens the resource was registered with before (kept as aliases). Default: none. */
  formerTypes?: readonly string[];
}

/**
 * A dynamic resource of the SDK's kind (`pulumi.dynamic.Resource` registers the same type tokens
 * and the same `__provider` input), with its provider named instead of serialized.
 */
export abstract class NexusDynamicResource extends pulumi.CustomResource {
  protected constructor(spec: DynamicResourceSpec, provider: ProviderRef, name: string, props: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
    if ("__provider" in props) throw new Error("A dynamic resource must not define the __provider key");
    const marked: pulumi.Inputs = { ...props, __provider: providerModuleSource(provider) };
    for (const k of spec.credentials) if (marked[k] !== undefined) marked[k] = pulumi.secret(marked[k]);
    super(
      dynamicTypeToken(spec.type),
      name,
      marked,
      pulumi.mergeOptions(opts, {
        additionalSecretOutputs: [...spec.credentials, CREDENTIALS_FINGERPRINT],
        aliases: (spec.formerTypes ?? []).map((type) => ({ type })),
      }),
    );
  }
}
