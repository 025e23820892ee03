// scripts/check-backend.ts (the deploy test's end-to-end check) against the test servers: a .env
// alone configures working clients of all three stores; a wrong URL, a short JWT secret and a
// secret found in a state file each fail, named.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { backendHandoff, renderEnvFile } from "../../config/backend-handoff";
import { parseStackConfig } from "../../config/schema";
import { DATABASE_URL, MONGODB_URL, REDIS_URL, uniqueSuffix } from "../helpers/env";

const ROOT = path.join(__dirname, "..", "..");
const dir = mkdtempSync(path.join(tmpdir(), "nexus-check-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const suffix = uniqueSuffix();
const JWT = `jwt-${suffix}-`.padEnd(48, "x");

function envFile(overrides: { redisUrl?: string; jwtSecret?: string } = {}): string {
  const cfg = parseStackConfig({ environment: "local", redis: { settings: { keyPrefix: `chk${suffix}:` } }, mongo: { settings: { database: `chk_${suffix}` } } }, "local");
  const mongo = new URL(MONGODB_URL);
  mongo.pathname = `/chk_${suffix}`;
  const h = backendHandoff(cfg, { databaseUrl: DATABASE_URL, mongoUrl: mongo.toString(), redisUrl: overrides.redisUrl ?? REDIS_URL, jwtSecret: overrides.jwtSecret ?? JWT });
  const file = path.join(dir, `env-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, renderEnvFile(h, ["check-backend test"]), { mode: 0o600 });
  return file;
}

function check(args: string[]) {
  const r = spawnSync(process.execPath, ["--require", require.resolve("tsx/cjs"), path.join(ROOT, "scripts/check-backend.ts"), ...args], { encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("check-backend", () => {
  it("a .env alone gives working PostgreSQL, MongoDB and Redis clients", () => {
    const r = check([envFile()]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ok {6}JWT_SECRET: 48 characters$/m);
    expect(r.stdout).toMatch(/^ok {6}PostgreSQL: \w+@\w+, \d+ tables$/m);
    expect(r.stdout).toMatch(new RegExp(`^ok {6}MongoDB: chk_${suffix}, \\d+ collections$`, "m"));
    expect(r.stdout).toMatch(new RegExp(`^ok {6}Redis: PONG as the app user, wrote and read chk${suffix}:tmpfile:deploy-check:[0-9a-f]+$`, "m"));
  });

  it("names what fails: a Redis URL nobody answers, a short JWT secret", () => {
    const r = check([envFile({ redisUrl: "redis://127.0.0.1:1", jwtSecret: "short-secret" })]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^FAILED {2}JWT_SECRET: 12 characters \(at least 32\)$/m);
    expect(r.stderr).toMatch(/^FAILED {2}Redis: .*ECONNREFUSED/m);
    expect(r.stdout).toMatch(/^ok {6}PostgreSQL/m);
  });

  it("--state: a secret of the .env found in plain text in the state fails, named", () => {
    const state = path.join(dir, "state.json");
    writeFileSync(state, JSON.stringify({ deployment: { resources: [{ outputs: { leaked: JWT } }] } }));
    const r = check([envFile(), "--state", state]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`FAILED  state: in plain text in ${state}: JWT_SECRET`);
    writeFileSync(state, JSON.stringify({ deployment: { resources: [{ outputs: { ciphertext: "v1:abc" } }] } }));
    expect(check([envFile(), "--state", state]).status).toBe(0);
  });
});
