// What the backend receives: one description rendered as .env and config.toml. The .env is read
// back by bash (`set -a; . ./.env`) and by the dotenv package, config.toml by a TOML parser; each
// must give back exactly the values of the description.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEnv } from "node:util";
import { parse as parseDotenv } from "dotenv";
import { parse as parseToml } from "smol-toml";
import { afterAll, describe, expect, it } from "vitest";
import {
  backendHandoff,
  envValue,
  envVariables,
  exampleHandoff,
  mongoClientUrl,
  postgresConnectionBudget,
  renderConfigToml,
  renderEnvFile,
  setQueryParams,
  withCaFile,
  type BackendHandoff,
} from "../../config/backend-handoff";
import { parseStackConfig } from "../../config/schema";
import { serverMaxConnections } from "../../components/postgres";

const dir = mkdtempSync(join(tmpdir(), "nexus-handoff-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The variables bash sees after `set -a; . <file>` in an otherwise empty environment. */
function sourcedInBash(text: string): Record<string, string> {
  const file = join(dir, `env-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, text);
  const out = execFileSync("bash", ["--norc", "--noprofile", "-c", 'set -a; . "$1"; set +a; wait; env -0', "bash", file], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const vars: Record<string, string> = {};
  for (const entry of out.split("\0")) {
    const i = entry.indexOf("=");
    if (i > 0) vars[entry.slice(0, i)] = entry.slice(i + 1);
  }
  return vars;
}

const dev = parseStackConfig({ environment: "dev" }, "dev");
const values = {
  databaseUrl: "postgresql://nexus_app:Abc123@127.0.0.1:5432/nexus_security?sslmode=verify-full",
  mongoUrl: "mongodb://nexus_app:Def456@127.0.0.1:27017/nexus_security?authSource=nexus_security&tls=true",
  redisUrl: "rediss://nexus_app:Ghi789@127.0.0.1:6379",
  jwtSecret: "k".repeat(64),
  caCertPem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
};

/** Every variable of the .env with the value it must read back as. */
function expectedVariables(h: BackendHandoff): Record<string, string> {
  return Object.fromEntries(envVariables(h).flatMap((g) => g.vars));
}

describe("the description", () => {
  it("takes the pool sizes from the config, consistent with the server's max_connections", () => {
    const cfg = parseStackConfig({ environment: "dev", postgres: { poolMaxConnections: 40, services: 3 }, clients: { postgres: { minConnections: 4 } } }, "dev");
    const h = backendHandoff(cfg, values);
    expect(h.postgres).toMatchObject({ maxConnections: 40, minConnections: 4, connectTimeoutSeconds: 30, idleTimeoutSeconds: 600, maxLifetimeSeconds: 1800, runMigrations: false });
    // The server the components size holds every service's pool at its maximum, plus the reserve.
    expect(h.postgres.budget).toEqual({ perService: 40, services: 3, appRoleLimit: 120, serverMaxConnections: 140 });
    expect(serverMaxConnections(cfg.postgres)).toBe(h.postgres.budget.serverMaxConnections);
    expect(postgresConnectionBudget(dev.postgres).serverMaxConnections).toBe(220);
  });

  it("the spec's defaults: pool 100/10, Mongo appName and pool 50, Redis pool 50, prefix nexus:, TTL 3600", () => {
    const h = backendHandoff(dev, values);
    expect(h.postgres.maxConnections).toBe(100);
    expect(h.postgres.minConnections).toBe(10);
    expect(h.mongo).toMatchObject({ appName: "NexusSecurity", maxPoolSize: 50, database: "nexus_security" });
    expect(h.redis).toMatchObject({ maxConnections: 50, connectionTimeoutSeconds: 5, poolTimeoutSeconds: 10, enableCluster: false, keyPrefix: "nexus:", defaultTtlSeconds: 3600 });
    expect(h.redis.ttlSeconds).toEqual({ analysisCache: 86400, tempFiles: 3600 });
    expect(h.jwt.secret).toBe(values.jwtSecret);
    expect(h.tls.caCertPem).toBe(values.caCertPem);
  });

  it("puts the Mongo client settings into the URL, also for a URL listing several hosts", () => {
    const url = mongoClientUrl("mongodb://u:p@a:27017,b:27017/db?replicaSet=rs0", dev.clients.mongo);
    expect(url).toBe("mongodb://u:p@a:27017,b:27017/db?replicaSet=rs0&appName=NexusSecurity&maxPoolSize=50&minPoolSize=5&connectTimeoutMS=10000&serverSelectionTimeoutMS=30000");
    expect(setQueryParams("redis://h:1", { a: "1" })).toBe("redis://h:1?a=1");
  });

  it("with the CA written, the URLs name its file; without TLS they stay as they are", () => {
    const h = withCaFile(backendHandoff(dev, values), "/app/.env.ca.pem");
    expect(h.postgres.url).toBe(`${values.databaseUrl}&sslrootcert=%2Fapp%2F.env.ca.pem`);
    expect(h.mongo.url).toMatch(/&tlsCAFile=%2Fapp%2F\.env\.ca\.pem$/);
    expect(h.tls.caFile).toBe("/app/.env.ca.pem");
    const plain = { ...values, databaseUrl: "postgresql://a:b@h:1/d?sslmode=disable", mongoUrl: "mongodb://a:b@h:2/d", caCertPem: undefined };
    const p = withCaFile(backendHandoff(dev, plain), "/x.pem");
    expect(p.postgres.url).toBe(plain.databaseUrl);
    expect(p.tls.caFile).toBeUndefined();
    expect(Object.keys(expectedVariables(p))).not.toContain("NEXUS_DB_CA_FILE");
  });
});

describe(".env", () => {
  const awkward = [
    "plain-Value_1.2:3@4%5+6,7=8",
    "postgresql://u:p@h:5432/db?sslmode=verify-full&sslrootcert=%2Fx",
    "with space",
    "dollar $HOME and ${PATH} and $(id) and `id`",
    'double " quote and back\\slash\\',
    "hash # not a comment",
    "single ' quote only",
    "tab\there; semicolon | pipe > gt < lt * star ? question [brackets] ~tilde !bang",
    "",
  ];

  it("bash and dotenv read every awkward value back unchanged, alone and in the rendered file", () => {
    const text = awkward.map((v, i) => `V${i}=${envValue(v, `V${i}`)}`).join("\n") + "\n";
    const bash = sourcedInBash(text);
    const dotenv = parseDotenv(text);
    // Node's own reader too (`node --env-file`, util.parseEnv: what `nexus-db --env-file` uses).
    const node = parseEnv(text);
    awkward.forEach((v, i) => {
      expect(bash[`V${i}`], `bash ${JSON.stringify(v)}`).toBe(v);
      expect(dotenv[`V${i}`], `dotenv ${JSON.stringify(v)}`).toBe(v);
      expect(node[`V${i}`], `node ${JSON.stringify(v)}`).toBe(v);
    });
    const secret = awkward[3];
    const rendered = renderEnvFile(backendHandoff(dev, { ...values, jwtSecret: secret }), ["test"]);
    expect(sourcedInBash(rendered).JWT_SECRET).toBe(secret);
    expect(parseDotenv(rendered).JWT_SECRET).toBe(secret);
  });

  it("every variable reads back as the description says, in bash and in dotenv", () => {
    const h = withCaFile(backendHandoff(dev, values), "/srv/app/.env.ca.pem");
    const text = renderEnvFile(h, ["header"]);
    const want = expectedVariables(h);
    const bash = sourcedInBash(text);
    const dotenv = parseDotenv(text);
    for (const [k, v] of Object.entries(want)) {
      expect(bash[k], `bash ${k}`).toBe(v);
      expect(dotenv[k], `dotenv ${k}`).toBe(v);
    }
    expect(Object.keys(dotenv).sort()).toEqual(Object.keys(want).sort());
    expect(want.DATABASE_URL).toContain("&sslrootcert=");
    expect(want.MONGODB_URL).toContain("&appName=NexusSecurity&maxPoolSize=50");
  });

  it("the old bare `&` really loses the variable in bash (what the quoting prevents)", () => {
    const bash = sourcedInBash(`DATABASE_URL=${values.mongoUrl}\n`);
    expect(bash.DATABASE_URL).not.toBe(values.mongoUrl);
  });

  it("refuses a value no quoting keeps intact, naming the variable", () => {
    expect(() => envValue("it's \"both\"", "JWT_SECRET")).toThrow(/^JWT_SECRET: the value holds both kinds of quote or a line break/);
    expect(() => renderEnvFile(backendHandoff(dev, { ...values, jwtSecret: "a\nb" }), [])).toThrow(/^JWT_SECRET:/);
  });
});

describe("config.toml", () => {
  it("is the spec's [database] and [redis] shape plus [mongodb], [tls], [jwt], and parses back to the description", () => {
    const h = withCaFile(backendHandoff(dev, { ...values, jwtSecret: 'q"uo\\te\u00e9' }), "/srv/ca.pem");
    const doc = parseToml(renderConfigToml(h, ["header"])) as Record<string, Record<string, unknown>>;
    expect(doc.database).toEqual({
      url: h.postgres.url,
      max_connections: 100,
      min_connections: 10,
      connection_timeout_seconds: 30,
      idle_timeout_seconds: 600,
      max_lifetime_seconds: 1800,
      enable_logging: false,
      run_migrations: false,
    });
    expect(doc.redis).toEqual({
      url: values.redisUrl,
      max_connections: 50,
      connection_timeout_seconds: 5,
      pool_timeout_seconds: 10,
      enable_cluster: false,
      key_prefix: "nexus:",
      default_ttl_seconds: 3600,
      ttl_seconds: { analysis_cache: 86400, temp_files: 3600 },
    });
    expect(doc.mongodb).toMatchObject({ url: h.mongo.url, database: "nexus_security", app_name: "NexusSecurity", max_pool_size: 50 });
    expect(doc.tls).toEqual({ ca_file: "/srv/ca.pem" });
    expect(doc.jwt).toEqual({ secret: 'q"uo\\te\u00e9' });
  });

  it("the examples carry placeholders, never a real credential shape", () => {
    const h = exampleHandoff();
    expect(h.postgres.url).toContain(":CHANGE_ME@");
    expect(h.jwt.secret).toMatch(/^CHANGE_ME/);
  });
});
