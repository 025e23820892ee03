// The CA every CLI command trusts: --ca, else NEXUS_DB_CA_FILE, applied the way each driver takes it;
// --env-file fills what the environment lacks (unset or empty); the day-2 commands' targets take the
// same CA. The real CLI against the docker stack's TLS stores
// is exercised in tests/docker.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { resolveTargets } from "../../cli/targets";
import { caFile, loadEnvFiles, pgUrlWithCa, redisTarget } from "../../cli/tls";

const dir = mkdtempSync(join(tmpdir(), "nexus-cli-tls-"));
const ca = join(dir, "ca.pem");
writeFileSync(ca, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe("caFile", () => {
  it("--ca wins over NEXUS_DB_CA_FILE; neither means the system's CAs", () => {
    process.env.NEXUS_DB_CA_FILE = join(dir, "other.pem");
    writeFileSync(process.env.NEXUS_DB_CA_FILE, "x");
    expect(caFile(ca)).toBe(ca);
    expect(caFile(undefined)).toBe(process.env.NEXUS_DB_CA_FILE);
    delete process.env.NEXUS_DB_CA_FILE;
    expect(caFile(undefined)).toBeUndefined();
  });
  it("a missing file is named, with where it came from", () => {
    expect(() => caFile(join(dir, "nope.pem"))).toThrow(/nope\.pem \(--ca\) does not exist/);
    process.env.NEXUS_DB_CA_FILE = join(dir, "gone.pem");
    expect(() => caFile(undefined)).toThrow(/gone\.pem \(NEXUS_DB_CA_FILE\)/);
  });
});

describe("pgUrlWithCa", () => {
  it("adds sslrootcert to a TLS URL that names no CA", () => {
    expect(new URL(pgUrlWithCa("postgresql://u:p@127.0.0.1:5432/db?sslmode=verify-full", ca)).searchParams.get("sslrootcert")).toBe(ca);
  });
  it("leaves plain URLs, URLs with their own CA and no-CA calls alone", () => {
    for (const url of ["postgresql://u@h/db", "postgresql://u@h/db?sslmode=disable", "postgresql://u@h/db?sslmode=require&sslrootcert=/x.pem"]) {
      expect(pgUrlWithCa(url, ca)).toBe(url);
    }
    expect(pgUrlWithCa("postgresql://u@h/db?sslmode=verify-full", undefined)).toBe("postgresql://u@h/db?sslmode=verify-full");
  });
});

describe("redisTarget", () => {
  it("rediss:// with a CA → ioredis options with tls.ca; no SNI for an address (DEP0123)", () => {
    const t = redisTarget("rediss://nexus_warmup:s%3Acret@127.0.0.1:6390/2", ca);
    expect(t).toEqual({ host: "127.0.0.1", port: 6390, username: "nexus_warmup", password: "s:cret", db: 2, tls: { ca: expect.stringContaining("BEGIN CERTIFICATE") } });
    expect(redisTarget("rediss://u:p@cache.internal:6379", ca)).toMatchObject({ host: "cache.internal", tls: { servername: "cache.internal" } });
  });
  it("plain redis:// or no CA: the URL as given", () => {
    expect(redisTarget("redis://127.0.0.1:6379", ca)).toBe("redis://127.0.0.1:6379");
    expect(redisTarget("rediss://127.0.0.1:6379", undefined)).toBe("rediss://127.0.0.1:6379");
  });
});

describe("loadEnvFiles", () => {
  it("reads the .env of `npm run env` without overriding the environment, and drops the option", () => {
    const env = join(dir, ".env");
    writeFileSync(env, `DATABASE_URL="postgresql://a@h/db?sslmode=verify-full"\nNEXUS_DB_CA_FILE=${ca}\nREDIS_URL=rediss://x\n`);
    process.env.REDIS_URL = "redis://mine";
    delete process.env.NEXUS_DB_CA_FILE;
    delete process.env.DATABASE_URL;
    expect(loadEnvFiles(["pg", "status", "--env-file", env, "--json"])).toEqual({ args: ["pg", "status", "--json"], files: [env] });
    expect(process.env.NEXUS_DB_CA_FILE).toBe(ca);
    expect(process.env.DATABASE_URL).toBe("postgresql://a@h/db?sslmode=verify-full");
    expect(process.env.REDIS_URL).toBe("redis://mine");
  });
  it("an empty variable of the environment is filled: the commands read empty as unset", () => {
    const env = join(dir, ".env-empty");
    writeFileSync(env, `DATABASE_URL=postgresql://a@h/db\nNEXUS_DB_CA_FILE=${ca}\n`);
    process.env.DATABASE_URL = "";
    process.env.NEXUS_DB_CA_FILE = "";
    loadEnvFiles([`--env-file=${env}`]);
    expect(process.env.DATABASE_URL).toBe("postgresql://a@h/db");
    expect(caFile(undefined)).toBe(ca);
  });
  it("a missing file is an error", () => {
    expect(() => loadEnvFiles([`--env-file=${join(dir, "none")}`])).toThrow(/does not exist/);
  });
});

describe("resolveTargets (backup, restore, doctor, stats)", () => {
  it("--env with NEXUS_DB_CA_FILE: PostgreSQL verifies against it, Redis over TLS trusts it; --ca wins", () => {
    process.env.DATABASE_URL = "postgresql://u@127.0.0.1:5432/db?sslmode=verify-full";
    process.env.REDIS_URL = "rediss://u:p@127.0.0.1:6390";
    delete process.env.MONGODB_URL;
    process.env.NEXUS_DB_CA_FILE = ca;
    const t = resolveTargets({ env: true }, dir).targets;
    expect(new URL(t.postgres!.url).searchParams.get("sslrootcert")).toBe(ca);
    expect(t.redis!.options).toEqual({ tls: { ca: expect.stringContaining("BEGIN CERTIFICATE") } });
    const other = join(dir, "other-ca.pem");
    writeFileSync(other, "x");
    expect(new URL(resolveTargets({ env: true, ca: other }, dir).targets.postgres!.url).searchParams.get("sslrootcert")).toBe(other);
  });
  it("a CA file that does not exist is a usage error naming it", () => {
    expect(() => resolveTargets({ url: ["postgresql://u@h/db"], ca: join(dir, "missing.pem") }, dir)).toThrow(/missing\.pem \(--ca\) does not exist/);
  });
});
