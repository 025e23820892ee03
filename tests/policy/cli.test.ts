// The policy pack with the real CLI (Automation API): the nexus-db program on a stack the pack
// does not protect passes; the same program and config on a stack named like prod is refused by
// each rule it breaks; the program's own config validation refuses a protected config first; and
// small inline programs — registering what the program registers, by type, name and inputs —
// show a compliant protected stack passing and the rules the local servers cannot reach (docker
// ports, generated and supplied passwords) refusing.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { Stack } from "@pulumi/pulumi/automation";
import { describe, expect, it } from "vitest";
import { DOCKER_PLUGIN } from "../../components/docker-store";
import { uniqueSuffix } from "../helpers/env";
import {
  inlineStack,
  localStackConfig,
  previewWithPolicies,
  programStack,
  projectCopy,
  projectEnv,
  removeStack,
  setConfig,
} from "./support";

const env = projectEnv();
/** The full program's preview type-checks it with ts-node: up to a minute each on a busy machine. */
const PROGRAM_TIMEOUT = 600_000;
const INLINE_TIMEOUT = 240_000;
const STRONG = "Vq8xLr2NcT5wZp9KmB4sHd7F"; // 24 characters, used only on inline stacks that are never deployed

/** Echoes its inputs; captures nothing, so the engine can serialize it. */
const echoProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: unknown, news: unknown) {
    return { inputs: news as Record<string, unknown> };
  },
  async create(inputs: unknown) {
    return { id: "inline", outs: inputs as Record<string, unknown> };
  },
};

/** A dynamic resource with the program's type token and name: what the pack matches on. */
class Shape extends pulumi.dynamic.Resource {
  constructor(name: string, props: pulumi.Inputs, opts: pulumi.CustomResourceOptions, module?: string, type?: string) {
    super(echoProvider, name, props, opts, module, type);
  }
}

interface Variant {
  passwords?: { owner: string; app: string; readonly: string };
  docker?: boolean;
}

/** The resources of a protected nexus-db stack, compliant unless the variant says otherwise. */
function protectedStackProgram(v: Variant = {}): () => Promise<void> {
  return async () => {
    const pg = (user: string, database: string) => pulumi.secret({ host: "db.internal", port: 5432, database, user, password: STRONG, sslMode: "verify-full" });
    const passwords = v.passwords ?? { owner: STRONG, app: STRONG, readonly: STRONG };
    const roles = new Shape(
      "nexus-postgres-roles",
      { admin: pg("postgres", "postgres"), database: "nexus_security", passwords: pulumi.secret(passwords), dropOnDelete: false },
      { protect: true },
      "nexus:db",
      "PostgresRoles",
    );
    new Shape("nexus-postgres-schema", { connection: pg("nexus_owner", "nexus_security"), settings: { protected: true } }, { protect: true, dependsOn: [roles] }, "nexus", "PostgresSchema");
    new Shape("nexus-postgres-grants", { admin: pg("postgres", "nexus_security"), schema: "public" }, { dependsOn: [roles] }, "nexus:db", "PostgresGrants");
    new Shape(
      "nexus-mongo-schema",
      { connection: pulumi.secret({ url: `mongodb://admin:${STRONG}@mongo.internal:27017/admin?tls=true`, tls: { enabled: true } }), protected: true, dropCollectionsOnDelete: false },
      { protect: true },
    );
    new Shape(
      "nexus-redis-settings",
      { admin: pulumi.secret({ host: "redis.internal", port: 6379, username: "default", password: STRONG, useTls: true }), passwords: pulumi.secret({ admin: STRONG, app: STRONG, readonly: STRONG, warmup: STRONG }) },
      {},
      "nexus:db",
      "RedisServerSettings",
    );
    if (v.docker) {
      // The docker backend's shapes: a store container published beyond loopback, a short generated password.
      const pw = new random.RandomPassword("nexus-redis-app-password", { length: 8, special: false });
      new docker.Container(
        "nexus-postgres-container",
        { image: "postgres:16", name: "prod-postgres", ports: [{ internal: 5432, external: 5432, ip: "0.0.0.0", protocol: "tcp" }], envs: ["POSTGRES_PASSWORD=changeme", pulumi.interpolate`REDISCLI_AUTH=${pw.result}`] },
        { ...DOCKER_PLUGIN, protect: true },
      );
    }
  };
}

async function withStack<T>(make: () => Promise<Stack>, body: (s: Stack) => Promise<T>, dir?: string): Promise<T> {
  let stack: Stack | undefined;
  try {
    stack = await make();
    return await body(stack);
  } finally {
    await removeStack(stack, dir);
  }
}

describe("the nexus-db program with the policy pack", () => {
  it("passes on a stack the pack does not protect, and is refused by each rule it breaks on a stack named like prod", async () => {
    const dir = projectCopy("policy-program");
    const cfg = localStackConfig(env);
    const suffix = uniqueSuffix();
    try {
      const open = await withStack(
        async () => programStack(`policy-open-${suffix}`, projectCopy("policy-open"), env),
        async (s) => {
          await setConfig(s, cfg.plain, cfg.secrets);
          return previewWithPolicies(s);
        },
      );
      expect(open.output).toContain("nexus-db@v0.1.0");
      expect(open.ok, open.output).toBe(true);

      // The local config says environment local, so the program itself lets it through: TLS off,
      // nothing protected, seed data. The pack decides by the stack's name and refuses it.
      const prod = await withStack(
        async () => programStack(`prod-policy-${suffix}`, projectCopy("policy-prod"), env),
        async (s) => {
          await setConfig(s, cfg.plain, cfg.secrets);
          return previewWithPolicies(s);
        },
      );
      expect(prod.ok).toBe(false);
      expect(prod.output).toContain("[mandatory]  nexus-tls-required");
      expect(prod.output).toContain('nexus-postgres-schema: its PostgreSQL connection uses sslMode "disable"; a protected stack needs TLS on every store');
      expect(prod.output).toContain("nexus-mongo-schema: its MongoDB connection has TLS off");
      expect(prod.output).toContain("nexus-redis-settings: its Redis connection has TLS off");
      expect(prod.output).toContain("[mandatory]  nexus-deletion-protection");
      expect(prod.output).toContain("nexus-postgres-roles: holds data but is not protected");
      expect(prod.output).toContain("[mandatory]  nexus-no-seed-data");
      expect(prod.output).toContain("nexus-postgres-seed: loads sql/seeds into the database; a protected stack never loads seed data");
      // The local stack's passwords are long and no port is published: those rules stay quiet.
      expect(prod.output).not.toContain("nexus-strong-passwords");
      expect(prod.output).not.toContain("nexus-loopback-only");
    } finally {
      await removeStack(undefined, dir);
    }
  }, PROGRAM_TIMEOUT);

  it("a protected config is refused by the program's own validation before the pack sees a resource", async () => {
    const dir = projectCopy("policy-config");
    const cfg = localStackConfig(env);
    const out = await withStack(
      async () => programStack(`prod-config-${uniqueSuffix()}`, dir, env),
      async (s) => {
        await setConfig(s, { ...cfg.plain, "nexus-db:environment": "prod" }, cfg.secrets);
        return previewWithPolicies(s);
      },
      dir,
    );
    expect(out.ok).toBe(false);
    expect(out.output).toContain("nexus-db:postgres.external.sslMode: a protected stack needs TLS to PostgreSQL");
    expect(out.output).toContain("nexus-db:redis.external.tls: a protected stack needs TLS to Redis");
    expect(out.output).not.toContain("[mandatory]");
  }, PROGRAM_TIMEOUT);

  it("an `up` of a refused config leaves nothing of the program in the state, not even the provider of a plugin's head start", async () => {
    const dir = projectCopy("refused-up");
    const cfg = localStackConfig(env);
    // A docker store (whose plugin index.ts asks the engine for early) and a value the schema refuses.
    const redis = { ...(cfg.plain["nexus-db:redis"] as object), backend: "docker", settings: { maxmemoryPolicy: "evict-whatever" } };
    const out = await withStack(
      async () => programStack(`refused-up-${uniqueSuffix()}`, dir, env),
      async (s) => {
        await setConfig(s, { ...cfg.plain, "nexus-db:redis": redis }, cfg.secrets);
        const up = await s.up({ color: "never" }).then(
          () => "",
          (e: Error) => e.message,
        );
        return { up, resources: (await s.exportStack()).deployment.resources ?? [] };
      },
      dir,
    );
    expect(out.up).toContain('nexus-db:redis.settings.maxmemoryPolicy: Invalid option: expected one of "allkeys-lru"');
    // Only the stack's own resource, which the engine registers before the program runs.
    expect(out.resources.map((r: { type: string }) => r.type)).toEqual(["pulumi:pulumi:Stack"]);
  }, PROGRAM_TIMEOUT);
});

describe("inline programs with the program's resource shapes", () => {
  it("a compliant protected stack passes", async () => {
    const out = await withStack(
      async () => inlineStack(`prod-compliant-${uniqueSuffix()}`, protectedStackProgram(), env),
      (s) => previewWithPolicies(s),
    );
    expect(out.output).toContain("nexus-db@v0.1.0");
    expect(out.ok, out.output).toBe(true);
  }, INLINE_TIMEOUT);

  it("default and short passwords are refused without the pack printing them", async () => {
    const out = await withStack(
      async () => inlineStack(`prod-passwords-${uniqueSuffix()}`, protectedStackProgram({ passwords: { owner: "changeme", app: "short-pass", readonly: STRONG } }), env),
      (s) => previewWithPolicies(s),
    );
    expect(out.ok).toBe(false);
    expect(out.output).toContain("[mandatory]  nexus-strong-passwords");
    expect(out.output).toContain("nexus-postgres-roles: passwords.owner is a default password; a protected stack refuses default and short passwords");
    expect(out.output).toContain("nexus-postgres-roles: passwords.app has 10 characters (at least 16)");
    expect(out.output).not.toContain("short-pass");
    expect(out.output).not.toContain("nexus-tls-required");
  }, INLINE_TIMEOUT);

  it("a store published beyond loopback and a short generated password are refused (the real docker and random plugins)", async () => {
    const out = await withStack(
      async () => inlineStack(`prod-docker-${uniqueSuffix()}`, protectedStackProgram({ docker: true }), env),
      (s) => previewWithPolicies(s),
    );
    expect(out.ok).toBe(false);
    expect(out.output).toContain("[mandatory]  nexus-loopback-only");
    expect(out.output).toContain("nexus-postgres-container: host port 5432 is published on 0.0.0.0; a protected stack publishes no port beyond loopback");
    expect(out.output).toContain("nexus-redis-app-password: generates 8-character passwords (at least 16)");
    expect(out.output).toContain("nexus-postgres-container: envs POSTGRES_PASSWORD is a default password");
  }, INLINE_TIMEOUT);
});
