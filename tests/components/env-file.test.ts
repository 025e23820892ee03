// `npm run env`: the stack's `backend` output written as .env and config.toml, owner-only, with
// the CA beside them; an older stack without the output is refused with what to do.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseDotenv } from "dotenv";
import { parse as parseToml } from "smol-toml";
import { afterEach, describe, expect, it } from "vitest";
import { backendHandoff } from "../../config/backend-handoff";
import { parseStackConfig } from "../../config/schema";
import { handoffFromOutputs, main, parseArgs, writeBackendFiles, type StackOutputs } from "../../scripts/env-file";

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

/** Outputs as `pulumi stack output --json --show-secrets` prints them for a docker stack. */
const dockerOutputs: StackOutputs = {
  DATABASE_URL: "postgresql://nexus_app:Abc123@127.0.0.1:5432/nexus_security?sslmode=verify-full",
  backend: backendHandoff(parseStackConfig({ environment: "dev" }, "dev"), {
    databaseUrl: "postgresql://nexus_app:Abc123@127.0.0.1:5432/nexus_security?sslmode=verify-full",
    mongoUrl: "mongodb://nexus_app:Def456@127.0.0.1:27017/nexus_security?authSource=nexus_security&tls=true",
    redisUrl: "rediss://nexus_app:Ghi789@127.0.0.1:6379",
    jwtSecret: "J".repeat(64),
    caCertPem: CA,
  }),
  environment: "dev",
};
/** …and for the local stack: no TLS, no CA. */
const localOutputs: StackOutputs = {
  backend: backendHandoff(parseStackConfig({ environment: "local" }, "local"), {
    databaseUrl: "postgresql://nexus_app:pw@127.0.0.1:55432/nexus_security?sslmode=disable",
    mongoUrl: "mongodb://nexus_app:pw@127.0.0.1:57017/nexus_security?authSource=nexus_security",
    redisUrl: "redis://nexus_app:pw@127.0.0.1:56379",
    jwtSecret: "L".repeat(64),
  }),
};

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "nexus-env-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("writeBackendFiles", () => {
  it("writes .env and config.toml readable by their owner only, the CA beside them, the URLs naming it", () => {
    const d = tmp();
    const r = writeBackendFiles(dockerOutputs, { stack: "dev", envFile: join(d, ".env"), tomlFile: join(d, "config.toml") });
    expect(r).toEqual({ envFile: join(d, ".env"), tomlFile: join(d, "config.toml"), caFile: join(d, ".env.ca.pem") });
    for (const f of [r.envFile, r.tomlFile, r.caFile!]) expect(statSync(f).mode & 0o777, f).toBe(0o600);
    expect(readFileSync(r.caFile!, "utf8")).toBe(CA);
    const env = parseDotenv(readFileSync(r.envFile, "utf8"));
    const toml = parseToml(readFileSync(r.tomlFile, "utf8")) as Record<string, Record<string, unknown>>;
    expect(env.NEXUS_DB_CA_FILE).toBe(r.caFile);
    expect(env.DATABASE_URL).toBe(`${dockerOutputs.DATABASE_URL}&sslrootcert=${encodeURIComponent(r.caFile!)}`);
    expect(toml.database.url).toBe(env.DATABASE_URL);
    expect(toml.mongodb.url).toBe(env.MONGODB_URL);
    expect(toml.tls.ca_file).toBe(r.caFile);
    expect(toml.jwt.secret).toBe(env.JWT_SECRET);
    expect(env.JWT_SECRET).toBe("J".repeat(64));
  });

  it("tightens an existing world-readable .env and removes a stale CA file", () => {
    const d = tmp();
    writeFileSync(join(d, ".env"), "OLD=1\n", { mode: 0o644 });
    writeFileSync(join(d, ".env.ca.pem"), CA);
    writeBackendFiles(localOutputs, { stack: "local", envFile: join(d, ".env"), tomlFile: join(d, "config.toml") });
    expect(statSync(join(d, ".env")).mode & 0o777).toBe(0o600);
    const text = readFileSync(join(d, ".env"), "utf8");
    expect(text).not.toContain("OLD=1");
    expect(text).not.toMatch(/CA_FILE|PGSSLROOTCERT|sslrootcert|tlsCAFile/);
    expect(existsSync(join(d, ".env.ca.pem"))).toBe(false);
  });

  it("an unrenderable value leaves the old files in place", () => {
    const d = tmp();
    writeFileSync(join(d, ".env"), "OLD=1\n");
    const bad = { backend: { ...localOutputs.backend!, jwt: { secret: "it's \"both\"" } } };
    expect(() => writeBackendFiles(bad, { stack: "local", envFile: join(d, ".env"), tomlFile: join(d, "config.toml") })).toThrow(/^JWT_SECRET:/);
    expect(readFileSync(join(d, ".env"), "utf8")).toBe("OLD=1\n");
    expect(existsSync(join(d, "config.toml"))).toBe(false);
  });

  it("a stack without the backend output (never deployed, or deployed by an older version) is refused with the fix", () => {
    expect(() => handoffFromOutputs({ DATABASE_URL: "postgresql://x@y/z" }, "dev")).toThrow(
      'stack "dev" has no output backend: run `npm run up -- dev` (or `pulumi up --stack dev`) first',
    );
    expect(() => handoffFromOutputs({ backend: { ...localOutputs.backend!, jwt: undefined } as never }, "ci")).toThrow(/no output backend\.jwt/);
  });
});

describe("the command", () => {
  it("parses the stack, --out, --toml, --from-json, --examples; refuses unknown options", () => {
    expect(parseArgs([])).toEqual({ stack: "local", out: ".env", toml: "config.toml" });
    expect(parseArgs(["dev", "--out", "x.env", "--toml", "x.toml"])).toEqual({ stack: "dev", out: "x.env", toml: "x.toml" });
    expect(parseArgs(["--stack", "ci", "--from-json", "o.json"])).toEqual({ stack: "ci", out: ".env", toml: "config.toml", fromJson: "o.json" });
    expect(parseArgs(["--examples", "--check"])).toMatchObject({ examples: true, check: true });
    expect(() => parseArgs(["--bogus"])).toThrow(/unknown option --bogus/);
    expect(() => parseArgs(["--out"])).toThrow(/--out needs a value/);
  });

  it("writes the files from a JSON of outputs", () => {
    const d = tmp();
    writeFileSync(join(d, "outputs.json"), JSON.stringify(dockerOutputs));
    expect(main(["dev", "--from-json", join(d, "outputs.json")], d)).toBe(`wrote ${join(d, ".env")}, ${join(d, "config.toml")} and ${join(d, ".env.ca.pem")} from stack "dev"`);
    expect(readFileSync(join(d, ".env"), "utf8")).toContain("REDIS_URL=rediss://nexus_app:Ghi789@127.0.0.1:6379\n");
  });

  it("--examples --check fails on stale examples and passes once they are written", () => {
    const d = tmp();
    expect(() => main(["--examples", "--check"], d)).toThrow(/\.env\.example and config\.example\.toml out of date/);
    expect(main(["--examples"], d)).toBe("wrote .env.example, config.example.toml");
    expect(main(["--examples", "--check"], d)).toBe("examples up to date");
  });
});
