// The local stack (Pulumi.local.yaml: this machine's servers, external backend) run through the
// program itself (program.ts, which index.ts loads) under the mock runtime, with the stack's secrets set as secret config:
// no container, no generated password, the exact inputs of the dynamic resources, secret exports.
import { beforeAll, describe, expect, it } from "vitest";
import type * as pulumi from "@pulumi/pulumi";
import { installMocks, isSecret, valueOf } from "../helpers/mocks";
import { stackFileValues } from "../helpers/stack-files";

const SECRETS: Record<string, string> = {
  postgresOwnerPassword: "owner-local-pw-0001",
  postgresAppPassword: "app-local-pw-00002",
  postgresReadonlyPassword: "ro-local-pw-000003",
  mongoAppPassword: "mongo-app-pw-00004",
  mongoAnalyticsPassword: "mongo-an-pw-000005",
  redisAdminPassword: "redis-admin-pw-006",
  redisAppPassword: "redis-app-pw-00007",
  redisReadonlyPassword: "redis-ro-pw-000008",
  redisWarmupPassword: "redis-warm-pw-0009",
  jwtSecret: "jwt-local-signing-secret-0000000000000010",
};

// The config as the CLI hands it to the program: full keys, objects JSON-encoded, secrets decrypted.
const config: Record<string, string> = {};
for (const [k, v] of Object.entries(stackFileValues("local"))) config[`nexus-db:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
for (const [k, v] of Object.entries(SECRETS)) config[`nexus-db:${k}`] = v;
const mocks = installMocks({ stack: "local", config, secretKeys: Object.keys(SECRETS).map((k) => `nexus-db:${k}`) });

let program: Record<string, unknown>;
beforeAll(async () => {
  // program.ts: what index.ts (the head starts, run by the real-CLI tests) loads once they have left,
  // given the config index.ts has read.
  const { databaseLayerProgram } = await import("../../program");
  const { readStackConfig } = await import("../../config/read");
  program = databaseLayerProgram(readStackConfig());
  await mocks.settle();
});

const inputs = (name: string) => {
  const { __provider, ...rest } = mocks.byName(name).inputs;
  expect(typeof __provider, `${name} is a dynamic resource`).toBe("string");
  return rest;
};

describe("the local stack through program.ts", () => {
  it("registers no container, network, certificate or generated password", () => {
    expect(mocks.registered.map((r) => `${r.type} ${r.name}`).sort()).toEqual(
      [
        "nexus:db:DatabaseLayer nexus",
        "nexus:db:Postgres nexus-postgres",
        "nexus:db:Mongo nexus-mongo",
        "nexus:db:Redis nexus-redis",
        "pulumi-nodejs:dynamic/nexus:db:PostgresRoles nexus-postgres-roles",
        "pulumi-nodejs:dynamic/nexus:db:PostgresSchema nexus-postgres-schema",
        "pulumi-nodejs:dynamic/nexus:db:PostgresGrants nexus-postgres-grants",
        "pulumi-nodejs:dynamic/nexus:db:PostgresSeedData nexus-postgres-seed",
        "pulumi-nodejs:dynamic/nexus:db:MongoSchema nexus-mongo-schema",
        "pulumi-nodejs:dynamic/nexus:db:RedisServerSettings nexus-redis-settings",
        // The cache warmup comes with its own change; once wired, it belongs to the graph.
        ...(mocks.registered.some((r) => r.name === "nexus-redis-warmup") ? ["pulumi-nodejs:dynamic/nexus:db:RedisWarmup nexus-redis-warmup"] : []),
      ].sort(),
    );
  });

  const conn = (user: string, database: string, password?: string) => ({ host: "127.0.0.1", port: 55432, database, user, sslMode: "disable", ...(password ? { password } : {}) });
  const roles = { owner: "nexus_owner", app: "nexus_app", readonly: "nexus_readonly" };

  it("PostgreSQL roles: the admin without a password (the test server's local trust), the configured passwords", () => {
    expect(inputs("nexus-postgres-roles")).toEqual({
      admin: conn("postgres", "postgres"),
      database: "nexus_security",
      roles,
      passwords: { owner: SECRETS.postgresOwnerPassword, app: SECRETS.postgresAppPassword, readonly: SECRETS.postgresReadonlyPassword },
      appConnectionLimit: 200,
      dropOnDelete: false,
    });
  });

  it("PostgreSQL schema, grants, seeds: owner, admin on the platform database, owner", () => {
    const schema = inputs("nexus-postgres-schema");
    expect(schema.connection).toEqual(conn("nexus_owner", "nexus_security", SECRETS.postgresOwnerPassword));
    expect(schema.appliedBy).toBe("pulumi:local");
    expect(schema.settings).toMatchObject({ protected: false, dropOnDelete: false });
    expect(inputs("nexus-postgres-grants")).toEqual({
      admin: conn("postgres", "nexus_security"),
      roles,
      schema: "public",
      ownerOnlyTables: ["public.schema_migrations"],
      schemaVersion: 3,
    });
    expect(inputs("nexus-postgres-seed")).toMatchObject({ connection: conn("nexus_owner", "nexus_security", SECRETS.postgresOwnerPassword), seedsDir: "sql/seeds" });
  });

  it("MongoDB: no admin credentials (the test server has no auth), the features FerretDB lacks allowed", () => {
    const m = inputs("nexus-mongo-schema");
    expect(m.connection).toEqual({ url: "mongodb://127.0.0.1:57027/admin", tls: expect.objectContaining({ enabled: false }) });
    expect(m.allowMissingFeatures).toEqual([]);
    expect(m.protected).toBe(false);
    expect(m.users).toEqual({
      app: { name: "nexus_app", password: SECRETS.mongoAppPassword },
      analytics: { name: "nexus_analytics", password: SECRETS.mongoAnalyticsPassword },
    });
  });

  it("Redis: the existing server's settings applied as the default user, every ACL password", () => {
    const r = inputs("nexus-redis-settings");
    expect(r.admin).toEqual({ host: "127.0.0.1", port: 56379, username: "default", password: SECRETS.redisAdminPassword, useTls: false });
    expect(r.passwords).toEqual({ admin: SECRETS.redisAdminPassword, app: SECRETS.redisAppPassword, readonly: SECRETS.redisReadonlyPassword, warmup: SECRETS.redisWarmupPassword });
    expect(r.dev).toBe(true);
    expect(r.control).toBe("full");
  });

  it("exports the backend's variables as secrets, with the configured passwords", async () => {
    const out = program as Record<string, pulumi.Output<string>> & { urls: Record<string, pulumi.Output<string>> };
    expect(await valueOf(out.DATABASE_URL)).toBe(`postgresql://nexus_app:${SECRETS.postgresAppPassword}@127.0.0.1:55432/nexus_security?sslmode=disable`);
    expect(program.DATABASE_MAX_CONNECTIONS).toBe(100);
    expect(await valueOf(out.MONGODB_URL)).toBe(`mongodb://nexus_app:${SECRETS.mongoAppPassword}@127.0.0.1:57027/nexus_security?authSource=nexus_security`);
    expect(await valueOf(out.REDIS_URL)).toBe(`redis://nexus_app:${SECRETS.redisAppPassword}@127.0.0.1:56379`);
    for (const k of ["DATABASE_URL", "MONGODB_URL", "REDIS_URL"]) expect(await isSecret(out[k]), k).toBe(true);
    for (const [k, o] of Object.entries(out.urls)) expect(await isSecret(o), `urls.${k}`).toBe(true);
    expect(program.caCertPem).toBeNull();
    expect(program.devTools).toBeNull();
    expect(program.environment).toBe("local");
  });

  it("exports what the backend receives as one secret, from the same values as the variables", async () => {
    const out = program as Record<string, pulumi.Output<unknown>>;
    expect(await isSecret(out.backend)).toBe(true);
    const b = (await valueOf(out.backend)) as import("../../config/backend-handoff").BackendHandoff;
    expect(b.postgres.url).toBe(await valueOf(out.DATABASE_URL));
    expect(b.mongo.url).toBe(`${await valueOf(out.MONGODB_URL)}&appName=NexusSecurity&maxPoolSize=50&minPoolSize=5&connectTimeoutMS=10000&serverSelectionTimeoutMS=30000`);
    expect(b.redis.url).toBe(await valueOf(out.REDIS_URL));
    expect(b.jwt.secret).toBe(SECRETS.jwtSecret);
    expect(b.tls).toEqual({});
    expect(b.postgres.maxConnections).toBe(program.DATABASE_MAX_CONNECTIONS);
    expect(b.redis.keyPrefix).toBe("nexus:");
  });

  it("exports the keyspace layout as plain data", () => {
    const { keyspaceLayout, layoutDocument } = require("../../config/redis-layout-document") as typeof import("../../config/redis-layout-document");
    expect(program.redisLayout).toEqual(layoutDocument(keyspaceLayout()));
  });

  it("no resource input holds a configured password outside a secret", () => {
    const leaks = mocks.registered.flatMap((r) =>
      r.plainStrings.filter((x) => x.path !== "__provider" && Object.values(SECRETS).some((pw) => x.value.includes(pw))).map((x) => `${r.name}: ${x.path}`),
    );
    expect(leaks).toEqual([]);
    expect(mocks.byName("nexus-postgres-roles").plainStrings.some((x) => x.path.startsWith("passwords"))).toBe(false);
  });

  it("the non-secret exports hold no password", async () => {
    const redis = program.redis as { endpoint: pulumi.Output<unknown> };
    const text = JSON.stringify(await valueOf(redis.endpoint));
    for (const v of Object.values(SECRETS)) expect(text).not.toContain(v);
  });
});
