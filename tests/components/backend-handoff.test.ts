// The backend output under the mock runtime: on the dev stack the JWT signing secret is a
// RandomPassword whose keeper is `jwtSecretVersion` (bumping it makes a new one), the whole
// description is one secret output, and no input or plain output holds the secret.
import { beforeAll, describe, expect, it } from "vitest";
import type { BackendHandoff } from "../../config/backend-handoff";
import type { DatabaseLayer } from "../../components/database-layer";
import { installMocks, isSecret, valueOf } from "../helpers/mocks";

const mocks = installMocks({ stack: "dev" });
const pw = (name: string) => `mockpw${name.replace(/[^A-Za-z0-9]/g, "")}`;

let v1: DatabaseLayer;
let v2: DatabaseLayer;
beforeAll(async () => {
  const { stackFileConfig } = await import("../helpers/stack-files");
  const { DatabaseLayer } = await import("../../components/database-layer");
  v1 = new DatabaseLayer("nexus", { config: stackFileConfig("dev") }, { transformations: [mocks.recordOptions] });
  v2 = new DatabaseLayer("rotated", { config: { ...stackFileConfig("dev", { jwtSecretVersion: 2, docker: { networkName: "rotated-net" } }) } });
  await mocks.settle();
});

describe("the backend output of a docker stack", () => {
  it("generates the JWT secret with @pulumi/random, 64 characters, jwtSecretVersion as its keeper", () => {
    const r = mocks.byName("nexus-jwt-secret");
    expect(r.type).toBe("random:index/randomPassword:RandomPassword");
    expect(r.inputs).toMatchObject({ length: 64, special: false, keepers: { version: "1" } });
    expect(mocks.byName("rotated-jwt-secret").inputs.keepers).toEqual({ version: "2" });
    expect(mocks.optionsOf("nexus-jwt-secret").parent).toBe(v1);
  });

  it("is one secret holding the URLs, pools, layout settings, CA and the secret", async () => {
    expect(await isSecret(v1.backend)).toBe(true);
    const b: BackendHandoff = await valueOf(v1.backend);
    expect(b.jwt.secret).toBe(pw("nexus-jwt-secret"));
    expect(b.postgres.url).toBe(await valueOf(v1.env.DATABASE_URL));
    expect(b.postgres.budget).toEqual({ perService: 100, services: 2, appRoleLimit: 200, serverMaxConnections: 220 });
    expect(b.mongo.url).toMatch(/[?&]tls=true&appName=NexusSecurity&maxPoolSize=50&/);
    expect(b.redis.url).toMatch(/^rediss:\/\//);
    expect(b.tls.caCertPem).toBe(await valueOf(v1.caCertPem!));
    expect(b.stack).toBe("dev");
    expect((await valueOf(v2.backend)).jwt.secret).toBe(pw("rotated-jwt-secret"));
  });

  it("the secret appears in no resource input outside a secret", () => {
    const secret = pw("nexus-jwt-secret");
    const leaks = mocks.registered.flatMap((r) => r.plainStrings.filter((x) => x.value.includes(secret)).map((x) => `${r.name}: ${x.path}`));
    expect(leaks).toEqual([]);
  });
});

describe("a supplied jwtSecret", () => {
  it("outside dev: at least 32 characters, checked with the other secrets before anything is registered", async () => {
    const { passwordProblems } = await import("../../components/secrets");
    expect(passwordProblems("jwtSecret", "x".repeat(31), "staging")).toEqual(["nexus-db:jwtSecret: at least 32 characters outside dev (got 31)"]);
    expect(passwordProblems("jwtSecret", "x".repeat(32), "prod")).toEqual([]);
    expect(passwordProblems("postgresAppPassword", "x".repeat(16), "prod")).toEqual([]);
  });
});

