// The stack config reference (docs/config-reference.md and the README's block) is generated from
// the config schema; these tests fail when the committed files drift from the schema, and check
// that defaults and doc comments land on the right keys.
import { beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENTS, stackConfigSchema, type Environment } from "../../config/schema";
import { buildReference, configPath, generatedFiles, type ConfigKey, type ConfigReference } from "../../scripts/config-reference";

let ref: ConfigReference;
let keys: Map<string, ConfigKey>;

beforeAll(() => {
  ref = buildReference();
  keys = new Map(ref.sections.flatMap((s) => s.keys).map((k) => [configPath(k.path), k]));
});

const key = (path: string): ConfigKey => {
  const k = keys.get(path);
  if (!k) throw new Error(`${path} is not in the reference`);
  return k;
};
const defaultIn = (path: string, env: Environment) => key(path).defaults[env];

describe("config reference", () => {
  it("the committed files are what the generator makes of the current schema", () => {
    const files = generatedFiles(undefined, ref);
    expect(files.map((f) => f.file)).toContain("docs/config-reference.md");
    for (const f of files) {
      // One message naming the file beats a 500-line diff.
      expect(f.current === f.wanted, `${f.file} is out of date: run \`npx tsx scripts/config-reference.ts\` and commit it`).toBe(true);
    }
  });

  it("lists each key by its config path with its type and per-environment default", () => {
    expect(defaultIn("nexus-db:postgres.backend", "dev")).toEqual({ kind: "value", value: "docker" });
    expect(defaultIn("nexus-db:postgres.backend", "local")).toEqual({ kind: "value", value: "external" });
    expect(defaultIn("nexus-db:postgres.backend", "prod")).toEqual({ kind: "value", value: "external" });
    expect(key("nexus-db:postgres.backend").type).toBe("one of `docker`, `external`, `cloud`");
    for (const env of ENVIRONMENTS) expect(defaultIn("nexus-db:redis.settings.maxmemoryPolicy", env)).toEqual({ kind: "value", value: "allkeys-lru" });
    expect(key("nexus-db:postgres.external.sslMode").type).toBe("one of `disable`, `require`, `verify-ca`, `verify-full`");
    expect(defaultIn("nexus-db:postgres.seedData", "ci")).toEqual({ kind: "value", value: true });
    expect(defaultIn("nexus-db:postgres.seedData", "staging")).toEqual({ kind: "value", value: false });
    expect(defaultIn("nexus-db:environment", "dev")).toEqual({ kind: "required" });
    expect(defaultIn("nexus-db:tls.mode", "dev")).toEqual({ kind: "unset" });
    expect(key("nexus-db:docker.devToolPorts.pgAdmin").type).toBe("integer 1–65535");
  });

  it("every key exists in every environment", () => {
    for (const k of keys.values()) for (const env of ENVIRONMENTS) expect(k.defaults[env].kind, `${configPath(k.path)} on ${env}`).not.toBe("absent");
  });

  it("maps doc comments through helpers, imports and spreads, and leaves unmapped ones empty", () => {
    expect(key("nexus-db:postgres.external.sslMode").description).toMatch(/^libpq sslmode for every connection/);
    // containerSchema(…), a helper function
    expect(key("nexus-db:redis.docker.image").description).toMatch(/^Image, pinned by tag/);
    // engines/redis/settings.ts, imported, and user(…) inside it
    expect(key("nexus-db:redis.settings.maxmemoryPolicy").description).toMatch(/^Eviction policy\. Default "allkeys-lru"/);
    expect(key("nexus-db:redis.settings.acl.users.app.enabled").description).toBe("Whether the user can log in. Default true.");
    // ...networkFields, spread into the RDS schema
    expect(key("nexus-db:postgres.cloud.vpcId").description).toMatch(/^The VPC the service lives in/);
    expect(key("nexus-db:postgres.migrations.lockTimeoutMs").description).toMatch(/^How long to wait for another applier's lock/);
    // No comment on these properties: nothing is guessed.
    expect(key("nexus-db:docker.devToolPorts.pgAdmin").description).toBe("");
    expect(key("nexus-db:redis.warmup.enabled").description).toBe("");
    // Sections take the property's comment, else the comment of the schema they are built from.
    expect(ref.sections.find((s) => s.path.join(".") === "tls")?.description).toMatch(/^Certificates: one CA per stack/);
  });

  it("the listed defaults are what the schema fills in", () => {
    const at = (o: unknown, p: string[]) => p.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], o);
    // Stacks that parse with nothing but their environment set (protected ones need more).
    for (const env of ["dev", "local", "ci"] as const) {
      const parsed = stackConfigSchema(env).parse({ environment: env });
      for (const k of keys.values()) {
        const d = k.defaults[env];
        if (d.kind === "value") expect(at(parsed, k.path), `${configPath(k.path)} on ${env}`).toEqual(d.value);
        if (d.kind === "unset") expect(at(parsed, k.path), `${configPath(k.path)} on ${env}`).toBeUndefined();
      }
    }
  });

  it("lists the secret keys", () => {
    expect(ref.secretKeys).toContain("postgresAppPassword");
    const md = generatedFiles(undefined, ref)[0].wanted;
    expect(md).toContain("- `nexus-db:postgresAppPassword`");
    expect(md).toContain("| `nexus-db:redis.settings.maxmemoryPolicy` |");
  });
});
