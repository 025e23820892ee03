// `npm run env`: the .env text from a stack's outputs, written owner-only, with the CA beside it.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { envValue, formatEnvFile, main, parseArgs, writeEnvFiles, type StackOutputs } from "../../scripts/env-file";

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

/** Outputs as `pulumi stack output --json --show-secrets` prints them for a docker stack. */
const dockerOutputs: StackOutputs = {
  DATABASE_URL: "postgresql://nexus_app:Abc123@127.0.0.1:5432/nexus_security?sslmode=verify-full",
  DATABASE_MAX_CONNECTIONS: 100,
  MONGODB_URL: "mongodb://nexus_app:Def456@127.0.0.1:27017/nexus_security?authSource=nexus_security&tls=true",
  REDIS_URL: "rediss://nexus_app:Ghi789@127.0.0.1:6379",
  caCertPem: CA,
  urls: { postgresOwner: "postgresql://nexus_owner:x@127.0.0.1:5432/nexus_security" },
  environment: "dev",
};
/** …and for the local stack: no TLS, no CA. */
const localOutputs: StackOutputs = {
  DATABASE_URL: "postgresql://nexus_app:pw@127.0.0.1:55432/nexus_security?sslmode=disable",
  DATABASE_MAX_CONNECTIONS: 100,
  MONGODB_URL: "mongodb://nexus_app:pw@127.0.0.1:57017/nexus_security?authSource=nexus_security",
  REDIS_URL: "redis://nexus_app:pw@127.0.0.1:56379",
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

describe("formatEnvFile", () => {
  it("a TLS stack: the four variables, the URLs pointing at the CA file, the CA path", () => {
    expect(formatEnvFile(dockerOutputs, { stack: "dev", caFile: "/app/.env.ca.pem" })).toBe(
      [
        '# Written by `npm run env` from the outputs of the stack "dev". It holds passwords: do not commit it.',
        "",
        "# PostgreSQL",
        "DATABASE_URL=postgresql://nexus_app:Abc123@127.0.0.1:5432/nexus_security?sslmode=verify-full&sslrootcert=%2Fapp%2F.env.ca.pem",
        "DATABASE_MAX_CONNECTIONS=100",
        "",
        "# MongoDB",
        "MONGODB_URL=mongodb://nexus_app:Def456@127.0.0.1:27017/nexus_security?authSource=nexus_security&tls=true&tlsCAFile=%2Fapp%2F.env.ca.pem",
        "",
        "# Redis",
        "REDIS_URL=rediss://nexus_app:Ghi789@127.0.0.1:6379",
        "",
        "# The CA the stores' certificates are signed with",
        "NEXUS_DB_CA_FILE=/app/.env.ca.pem",
        "PGSSLROOTCERT=/app/.env.ca.pem",
        "",
      ].join("\n"),
    );
  });

  it("a stack without TLS: the URLs as they are, no CA lines", () => {
    const text = formatEnvFile(localOutputs, { stack: "local", caFile: "/app/.env.ca.pem" });
    expect(text).toContain(`DATABASE_URL=${localOutputs.DATABASE_URL}\n`);
    expect(text).toContain(`MONGODB_URL=${localOutputs.MONGODB_URL}\n`);
    expect(text).toContain(`REDIS_URL=${localOutputs.REDIS_URL}\n`);
    expect(text).not.toMatch(/CA_FILE|PGSSLROOTCERT|sslrootcert|tlsCAFile/);
  });

  it("names every missing output", () => {
    expect(() => formatEnvFile({ DATABASE_URL: "postgresql://x@y/z", REDIS_URL: "" }, { stack: "dev" })).toThrow(
      'stack "dev" has no output DATABASE_MAX_CONNECTIONS, MONGODB_URL, REDIS_URL: run `pulumi up --stack dev` first',
    );
  });

  it("quotes values that need it", () => {
    expect(envValue("redis://u:p@h:1")).toBe("redis://u:p@h:1");
    expect(envValue('a b"$c\\')).toBe('"a b\\"\\$c\\\\"');
  });
});

describe("writeEnvFiles", () => {
  it("writes .env readable by its owner only, and the CA beside it", () => {
    const d = tmp();
    const r = writeEnvFiles(dockerOutputs, { stack: "dev", envFile: join(d, ".env") });
    expect(r).toEqual({ envFile: join(d, ".env"), caFile: join(d, ".env.ca.pem") });
    expect(statSync(r.envFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(r.caFile!, "utf8")).toBe(CA);
    expect(readFileSync(r.envFile, "utf8")).toContain(`NEXUS_DB_CA_FILE=${r.caFile}`);
  });

  it("tightens an existing world-readable .env and removes a stale CA file", () => {
    const d = tmp();
    writeFileSync(join(d, ".env"), "OLD=1\n", { mode: 0o644 });
    writeFileSync(join(d, ".env.ca.pem"), CA);
    writeEnvFiles(localOutputs, { stack: "local", envFile: join(d, ".env") });
    expect(statSync(join(d, ".env")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(d, ".env"), "utf8")).not.toContain("OLD=1");
    expect(existsSync(join(d, ".env.ca.pem"))).toBe(false);
  });
});

describe("the command", () => {
  it("parses the stack, --out and --from-json; refuses unknown options", () => {
    expect(parseArgs([])).toEqual({ stack: "local", out: ".env" });
    expect(parseArgs(["dev", "--out", "x.env"])).toEqual({ stack: "dev", out: "x.env" });
    expect(parseArgs(["--stack", "ci", "--from-json", "o.json"])).toEqual({ stack: "ci", out: ".env", fromJson: "o.json" });
    expect(() => parseArgs(["--bogus"])).toThrow(/unknown option --bogus/);
    expect(() => parseArgs(["--out"])).toThrow(/--out needs a value/);
  });

  it("writes the files from a JSON of outputs", () => {
    const d = tmp();
    writeFileSync(join(d, "outputs.json"), JSON.stringify(dockerOutputs));
    expect(main(["dev", "--from-json", join(d, "outputs.json")], d)).toBe(`wrote ${join(d, ".env")} and ${join(d, ".env.ca.pem")} from stack "dev"`);
    expect(readFileSync(join(d, ".env"), "utf8")).toContain("REDIS_URL=rediss://nexus_app:Ghi789@127.0.0.1:6379\n");
  });
});
