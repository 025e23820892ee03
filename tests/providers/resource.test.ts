// The `__provider` every nexus-db dynamic resource stores: a constant loader, not a serialized
// closure. Loaded the way the provider process loads it (a module compiled from the string, in the
// project directory), it yields the named provider of the checked-out project; it holds no path of
// the machine and is the same on every run.
import { createRequire } from "node:module";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PRESTART_TOKEN } from "../../providers/prestart";
import { dynamicTypeToken, providerModuleSource, type ProviderRef } from "../../providers/resource";

const ROOT = path.join(__dirname, "..", "..");
const PROVIDERS: ProviderRef[] = [
  { module: "providers/postgres-roles.ts", name: "postgresRolesProvider" },
  { module: "providers/postgres-roles.ts", name: "postgresGrantsProvider" },
  { module: "providers/postgres-roles.ts", name: "postgresSeedProvider" },
  { module: "providers/postgres-schema.ts", name: "postgresSchemaProvider" },
  { module: "providers/mongo-schema.ts", name: "mongoSchemaProvider" },
  { module: "providers/redis-settings.ts", name: "redisSettingsProvider" },
  { module: "providers/redis-warmup.ts", name: "redisWarmupProvider" },
];

/** What the provider process does with the string: compile it as a module (require-from-string, as the SDK's dynamic provider). */
function loadAsProviderProcess(source: string): { handler(): Record<string, unknown> } {
  const requireFromString = createRequire(path.join(ROOT, "package.json"))("require-from-string") as (code: string) => { handler(): Record<string, unknown> };
  const loaded = requireFromString(source);
  return {
    handler() {
      const cwd = process.cwd();
      process.chdir(ROOT); // the provider process runs in the project directory
      try {
        return loaded.handler();
      } finally {
        process.chdir(cwd);
      }
    },
  };
}

describe("dynamic resources name their provider", () => {
  it.each(PROVIDERS.map((p) => [p.name, p] as const))("%s: the stored module loads it from the project, with every method", (_n, ref) => {
    const source = providerModuleSource(ref);
    expect(source).toBe(providerModuleSource({ ...ref })); // the same string every run: no diff from it
    expect(source).not.toContain(ROOT);
    expect(source).not.toMatch(/["'`]\//); // no absolute path in any string of it
    const provider = loadAsProviderProcess(source).handler();
    const expected = createRequire(path.join(ROOT, ref.module))(path.join(ROOT, ref.module))[ref.name] as Record<string, unknown>;
    expect(Object.keys(provider).sort()).toEqual(Object.keys(expected).sort());
    for (const m of Object.keys(provider)) expect(typeof provider[m], m).toBe("function");
    expect(Object.keys(provider)).toContain("create");
  });

  it("refuses an export name that is not an identifier (the string is code)", () => {
    expect(() => providerModuleSource({ module: "providers/redis-warmup.ts", name: "x; process.exit(1)" })).toThrow(/not an identifier/);
  });

  it("a project directory without the module: the engine loader's message, naming it", () => {
    const source = providerModuleSource({ module: "providers/no-such-provider.ts", name: "p" });
    const previous = process.env.NEXUS_DB_ROOT;
    process.env.NEXUS_DB_ROOT = ROOT;
    try {
      expect(() => loadAsProviderProcess(source).handler()).toThrow(/engine module "providers\/no-such-provider.ts" not found/);
    } finally {
      if (previous === undefined) delete process.env.NEXUS_DB_ROOT;
      else process.env.NEXUS_DB_ROOT = previous;
    }
  });

  it("type tokens and the head start's token belong to the dynamic provider's package", () => {
    expect(dynamicTypeToken("PostgresSchema")).toBe("pulumi-nodejs:dynamic/nexus:db:PostgresSchema");
    expect(PRESTART_TOKEN.split(":")[0]).toBe("pulumi-nodejs");
  });
});
