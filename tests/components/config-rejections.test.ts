// Bad stack configs fail before any resource is registered, listing every problem by its config
// path; the defaults per environment. Pure: parseStackConfig, passwordProblems, and readStackConfig
// over the mock runtime's config.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { installMocks } from "../helpers/mocks";
import { StackConfigError, parseStackConfig } from "../../config/schema";
import { passwordProblems } from "../../components/secrets";
import { stackFileConfig } from "../helpers/stack-files";

const mocks = installMocks({ stack: "prod" });

/** The problems of a config that must not parse, as `path: message` lines. */
function problemsOf(values: Record<string, unknown>, stack = "test"): { path: string; message: string }[] {
  try {
    parseStackConfig(values, stack);
  } catch (e) {
    expect(e).toBeInstanceOf(StackConfigError);
    return (e as StackConfigError).problems;
  }
  throw new Error("the config parsed");
}
const paths = (values: Record<string, unknown>) => problemsOf(values).map((p) => p.path).sort();

describe("defaults per environment", () => {
  it("dev: docker everywhere, TLS generated, admin tools and seeds on, unprotected", () => {
    const c = parseStackConfig({ environment: "dev" }, "dev");
    expect([c.postgres.backend, c.mongo.backend, c.redis.backend]).toEqual(["docker", "docker", "docker"]);
    expect(c.tls.mode).toBe("generate");
    expect(c.docker).toEqual({ bindAddress: "127.0.0.1", devTools: true, devToolPorts: { pgAdmin: 5050, mongoExpress: 8081, redisCommander: 8082 }, devToolImages: {}, networkName: "dev-nexus-db" });
    expect(c.postgres.seedData).toBe(true);
    expect([c.protected, c.ephemeral]).toEqual([false, false]);
    expect(c.postgres.docker).toEqual({ image: "postgres:16", hostPort: 5432, memoryMb: 1024, cpus: 1 });
    expect(c.mongo.docker).toEqual({ image: "mongo:7", hostPort: 27017, memoryMb: 1024, cpus: 1 });
    expect(c.redis.docker).toEqual({ image: "redis:7", hostPort: 6379, memoryMb: 512, cpus: 0.5 });
    expect(c.postgres.poolMaxConnections).toBe(100);
    expect(c.postgres.roles).toEqual({ owner: "nexus_owner", app: "nexus_app", readonly: "nexus_readonly" });
    expect(c.stack).toBe("dev");
  });

  it("local and ci: existing servers, no TLS, seeds on, no admin tools", () => {
    for (const env of ["local", "ci"]) {
      const c = parseStackConfig({ environment: env }, env);
      expect([c.postgres.backend, c.mongo.backend, c.redis.backend], env).toEqual(["external", "external", "external"]);
      expect(c.tls.mode).toBe("none");
      expect(c.docker.devTools).toBe(false);
      expect(c.postgres.seedData).toBe(true);
      expect(c.protected).toBe(false);
      expect(c.postgres.external).toEqual({ host: "127.0.0.1", port: 5432, adminUser: "postgres", adminDatabase: "postgres", sslMode: "verify-full" });
    }
  });

  it("staging and prod: protected, TLS generated, no seeds, no admin tools", () => {
    for (const env of ["staging", "prod"]) {
      const c = parseStackConfig({ environment: env, redis: { external: { tls: true } } }, env);
      expect(c.protected, env).toBe(true);
      expect(c.tls.mode).toBe("generate");
      expect(c.postgres.seedData).toBe(false);
      expect(c.docker.devTools).toBe(false);
      expect(c.postgres.backend).toBe("external");
    }
  });

  it("the dev stack file holds no secret: its passwords are generated", () => {
    const text = readFileSync("Pulumi.dev.yaml", "utf8");
    expect(text).not.toMatch(/secure:|Password|tlsCaKeyPem/);
  });

  it("the committed stack files parse", () => {
    expect(stackFileConfig("dev").environment).toBe("dev");
    expect(stackFileConfig("local").postgres.external).toMatchObject({ port: 55432, sslMode: "disable" });
  });
});

describe("rejected configs list every problem with its path", () => {
  it("a missing or unknown environment", () => {
    expect(paths({})).toEqual(["nexus-db:environment"]);
    expect(paths({ environment: "production" })).toEqual(["nexus-db:environment"]);
  });

  it("an unknown key, anywhere, is a problem (a typo never falls back to a default)", () => {
    const p = problemsOf({ environment: "dev", postgres: { databse: "x", docker: { memory: 512 } }, tsl: {} });
    expect(p.map((x) => x.path).sort()).toEqual(["nexus-db:postgres.databse", "nexus-db:postgres.docker.memory", "nexus-db:tsl"]);
    expect(p[0].message).toMatch(/unknown key/);
  });

  it("an unknown key inside the engines' settings is named with the nearest valid key", () => {
    // mongo.settings is the Mongo engine's schema (a plain zod object, which strips what it does not know).
    const p = problemsOf({ environment: "dev", mongo: { settings: { ttl: { engineStats: -5 } } }, redis: { cloud: { nodeTyp: "cache.t4g.small" } }, postgress: {} });
    expect(p).toEqual(
      expect.arrayContaining([
        { path: "nexus-db:mongo.settings.ttl.engineStats", message: 'unknown key — did you mean "engineStatsSeconds"?' },
        { path: "nexus-db:redis.cloud.nodeTyp", message: 'unknown key — did you mean "nodeType"?' },
        { path: "nexus-db:postgress", message: 'unknown key — did you mean "postgres"?' },
      ]),
    );
    expect(p).toHaveLength(3);
  });

  it("field and cross-field problems are listed together in one run", () => {
    const p = problemsOf({ environment: "prod", postgres: { seedData: true, poolMaxConnections: "many" }, redis: { settings: { maxmemory: "lots" }, external: { tls: true } } });
    expect(p.map((x) => x.path).sort()).toEqual(["nexus-db:postgres.poolMaxConnections", "nexus-db:postgres.seedData", "nexus-db:redis.settings.maxmemory"]);
  });

  it("the error is one message Pulumi prints without a stack trace", () => {
    try {
      parseStackConfig({ environment: "prod", postgres: { seedData: true }, redis: { external: { tls: true } } }, "prod");
      throw new Error("parsed");
    } catch (e) {
      // The SDK's RunError mark: the language host logs the message alone.
      expect((e as { __pulumiRunError?: boolean }).__pulumiRunError).toBe(true);
      expect((e as Error).message).toBe("invalid stack config (1 problem):\n  nexus-db:postgres.seedData: a protected stack never loads seed data");
    }
  });

  it("a bad Redis maxmemory is named by its full path", () => {
    const p = problemsOf({ environment: "dev", redis: { settings: { maxmemory: "lots" } } });
    expect(p.map((x) => x.path)).toEqual(["nexus-db:redis.settings.maxmemory"]);
  });

  it("a protected stack: TLS none, seed data, ephemeral, a public bind address, plaintext PostgreSQL and Redis — all at once", () => {
    const p = problemsOf({
      environment: "prod",
      ephemeral: true,
      tls: { mode: "none" },
      docker: { bindAddress: "0.0.0.0" },
      postgres: { seedData: true, external: { sslMode: "disable" } },
      redis: { external: { tls: false } },
    });
    expect(p.map((x) => x.path).sort()).toEqual(
      [
        "nexus-db:docker.bindAddress",
        "nexus-db:ephemeral", // protected stacks are never ephemeral…
        "nexus-db:ephemeral", // …and only dev stacks are
        "nexus-db:postgres.external.sslMode",
        "nexus-db:postgres.seedData",
        "nexus-db:redis.external.tls",
        "nexus-db:tls.mode",
      ].sort(),
    );
    expect(p.find((x) => x.path === "nexus-db:postgres.seedData")!.message).toMatch(/never loads seed data/);
    expect(p.find((x) => x.path === "nexus-db:tls.mode")!.message).toMatch(/needs TLS/);
  });

  it("a dev stack marked protected is held to the same rules", () => {
    expect(paths({ environment: "dev", protected: true, tls: { mode: "none" } })).toEqual(["nexus-db:postgres.seedData", "nexus-db:tls.mode"]);
  });

  it("admin tools outside dev", () => {
    for (const env of ["local", "ci", "staging", "prod"]) {
      const p = problemsOf({ environment: env, docker: { devTools: true }, postgres: { seedData: false }, redis: { external: { tls: true } } });
      expect(p, env).toEqual([{ path: "nexus-db:docker.devTools", message: "the admin tools are for dev stacks only" }]);
    }
  });

  it("bad values: a port, an image, a digest, a role name, a pool size", () => {
    expect(
      paths({
        environment: "dev",
        postgres: { docker: { hostPort: 70000, image: "Postgres:16!", digest: "sha256:abc" }, roles: { app: "Nexus-App" }, poolMaxConnections: 0 },
      }),
    ).toEqual(
      ["nexus-db:postgres.docker.digest", "nexus-db:postgres.docker.hostPort", "nexus-db:postgres.docker.image", "nexus-db:postgres.poolMaxConnections", "nexus-db:postgres.roles.app"].sort(),
    );
  });

  it("client pools whose minimum exceeds their maximum", () => {
    expect(paths({ environment: "dev", postgres: { poolMaxConnections: 8 }, clients: { postgres: { minConnections: 9 }, mongo: { maxPoolSize: 4, minPoolSize: 5 } } })).toEqual([
      "nexus-db:clients.mongo.minPoolSize",
      "nexus-db:clients.postgres.minConnections",
    ]);
    expect(() => parseStackConfig({ environment: "dev", postgres: { poolMaxConnections: 8 }, clients: { postgres: { minConnections: 9 } } }, "dev")).toThrow(
      "nexus-db:clients.postgres.minConnections: more than the pool's maximum (postgres.poolMaxConnections 8)",
    );
  });

  it("a provided CA without its certificate", () => {
    expect(paths({ environment: "dev", tls: { mode: "provided" } })).toEqual(["nexus-db:tls.caCertPem"]);
  });

  it("the error message lists the problems one per line", () => {
    expect(() => parseStackConfig({ environment: "prod", tls: { mode: "none" }, postgres: { seedData: true } }, "prod")).toThrow(
      /invalid stack config \(\d+ problems\):\n {2}nexus-db:/,
    );
  });
});

describe("passwords", () => {
  it("the spec's `password` default and short passwords are refused outside dev", () => {
    expect(passwordProblems("postgresAppPassword", "password", "prod")).toEqual(['nexus-db:postgresAppPassword: a default password ("pa…") is refused outside dev']);
    expect(passwordProblems("redisAppPassword", "Password", "local")).toHaveLength(1);
    expect(passwordProblems("mongoAppPassword", "short-one", "staging")).toEqual(["nexus-db:mongoAppPassword: at least 16 characters outside dev (got 9)"]);
    expect(passwordProblems("mongoAppPassword", "a-long-enough-password", "prod")).toEqual([]);
    expect(passwordProblems("mongoAppPassword", undefined, "prod")).toEqual([]);
  });

  it("dev accepts the spec's defaults but not an empty password", () => {
    expect(passwordProblems("postgresAppPassword", "password", "dev")).toEqual([]);
    expect(passwordProblems("postgresAppPassword", "", "dev")).toEqual(["nexus-db:postgresAppPassword: empty password"]);
  });

  it("readStackConfig lists password problems together with the config's own", async () => {
    const { readStackConfig } = await import("../../config/read");
    const problems = (config: Record<string, string>) => {
      pulumiConfig(config);
      try {
        readStackConfig();
      } catch (e) {
        expect(e).toBeInstanceOf(StackConfigError);
        return (e as StackConfigError).problems.map((p) => p.path).sort();
      }
      throw new Error("the config was accepted");
    };
    const passwords = { "nexus-db:postgresAppPassword": "password", "nexus-db:redisAppPassword": "short" };
    // A cross-field problem and the passwords…
    expect(problems({ "nexus-db:environment": "prod", "nexus-db:postgres": JSON.stringify({ seedData: true }), "nexus-db:redis": JSON.stringify({ external: { tls: true } }), ...passwords })).toEqual(
      ["nexus-db:postgres.seedData", "nexus-db:postgresAppPassword", "nexus-db:redisAppPassword"].sort(),
    );
    // …and a field problem and the passwords. (Cross-field checks run once every field parses: zod
    // skips refinements of an object whose fields failed, so a seedData problem would show next run.)
    expect(problems({ "nexus-db:environment": "prod", "nexus-db:redis": JSON.stringify({ settings: { maxmemory: "lots" }, external: { tls: true } }), ...passwords })).toEqual(
      ["nexus-db:postgresAppPassword", "nexus-db:redis.settings.maxmemory", "nexus-db:redisAppPassword"].sort(),
    );
    expect(mocks.registered).toEqual([]);
  });
});

function pulumiConfig(c: Record<string, string>): void {
  (require("@pulumi/pulumi") as typeof import("@pulumi/pulumi")).runtime.setAllConfig(c, ["nexus-db:postgresAppPassword", "nexus-db:redisAppPassword"]);
}

describe("Redis's passwordless default user: loopback only, in every environment", () => {
  it("is on by default only where Redis is on loopback (the local and ci test servers)", () => {
    expect(parseStackConfig({ environment: "local" }, "local").redis.settings.acl.defaultUser).toBe(true);
    expect(parseStackConfig({ environment: "dev" }, "dev").redis.settings.acl.defaultUser).toBe(false);
    expect(parseStackConfig({ environment: "dev", redis: { backend: "external", external: { host: "cache.internal" } } }, "dev").redis.settings.acl.defaultUser).toBe(false);
    expect(parseStackConfig({ environment: "ci", redis: { external: { host: "localhost" } } }, "ci").redis.settings.acl.defaultUser).toBe(true);
  });

  it("is refused, naming the key and why, where Redis is reachable beyond loopback", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ environment: "dev", redis: { settings: { acl: { defaultUser: true } } } }, /docker network/],
      [{ environment: "dev", docker: { bindAddress: "0.0.0.0" }, redis: { settings: { acl: { defaultUser: true } } } }, /docker network/],
      [{ environment: "local", redis: { external: { host: "10.0.0.5" }, settings: { acl: { defaultUser: true } } } }, /10\.0\.0\.5 is not on loopback/],
    ];
    for (const [values, why] of cases) {
      expect(problemsOf(values)).toEqual([{ path: "nexus-db:redis.settings.acl.defaultUser", message: expect.stringMatching(why) }]);
    }
    // On loopback a dev-like stack may keep it.
    expect(parseStackConfig({ environment: "local", redis: { settings: { acl: { defaultUser: true } } } }, "local").redis.settings.acl.defaultUser).toBe(true);
  });
});
