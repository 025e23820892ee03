// Real-CLI stack tests: the project copied to a temporary directory (so tests may edit migrations
// and declarations), a file backend of its own, the CLI that scripts/bootstrap.sh built.
import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { LocalWorkspace, PulumiCommand, type ConfigMap, type Stack } from "@pulumi/pulumi/automation";
import { SECRET_KEYS } from "../../config/names";
import { DATABASE_URL, MONGODB_URL, REDIS_URL, uniqueSuffix } from "./env";

export const PROJECT_ROOT = path.resolve(__dirname, "..", "..");
/** What the program needs to run: what a stack test copies. */
export const PROGRAM_FILES = ["Pulumi.yaml", "package.json", "tsconfig.json", "boot.cjs", "index.ts", "program.ts", "config", "components", "providers", "engines", "sql", "mongo", "redis"];

/** The CLI root (…/bin/pulumi inside); scripts/env.sh exports it. */
export function pulumiRoot(): string {
  const root = process.env.PULUMI_ROOT;
  if (!root) throw new Error("PULUMI_ROOT is not set: run the tests through `npm test` (scripts/test.sh sources scripts/env.sh)");
  return root;
}

export interface ProjectCopy {
  dir: string;
  backend: string;
  remove(): void;
}

/** A throwaway copy of the program with node_modules linked, and an empty file backend beside it. */
export function projectCopy(prefix = "nexus-stack-"): ProjectCopy {
  const base = mkdtempSync(path.join(tmpdir(), prefix));
  const dir = path.join(base, "project");
  const backend = path.join(base, "state");
  for (const entry of PROGRAM_FILES) cpSync(path.join(PROJECT_ROOT, entry), path.join(dir, entry), { recursive: true });
  symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
  mkdirSync(backend, { recursive: true });
  return { dir, backend, remove: () => rmSync(base, { recursive: true, force: true }) };
}

/** The environment a stack operation runs in: the CLI on PATH, a local backend, no downloads. */
export function stackEnv(backendDir: string): Record<string, string> {
  const root = pulumiRoot();
  return {
    PATH: `${path.join(root, "bin")}:${process.env.PATH ?? ""}`,
    PULUMI_HOME: process.env.PULUMI_HOME ?? path.join(backendDir, ".pulumi-home"),
    PULUMI_BACKEND_URL: `file://${backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "nexus-db-local-dev",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
  };
}

/** Creates a stack of the copied project with the given config (secrets flagged). */
export async function createStack(copy: ProjectCopy, stackName: string, config: ConfigMap): Promise<Stack> {
  const pulumiCommand = await PulumiCommand.get({ root: pulumiRoot() });
  const stack = await LocalWorkspace.createStack(
    { stackName, workDir: copy.dir },
    { pulumiCommand, envVars: stackEnv(copy.backend) },
  );
  await stack.setAllConfig(config);
  return stack;
}

/** JSON paths inside `value` whose string contains `needle`. */
export function pathsHolding(value: unknown, needle: string, at = "$"): string[] {
  if (typeof value === "string") return value.includes(needle) ? [at] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => pathsHolding(v, needle, `${at}[${i}]`));
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => pathsHolding(v, needle, `${at}.${k}`));
  return [];
}

/** The stack files of a file backend as stored on disk (secrets encrypted), concatenated. */
export function storedStateText(backendDir: string): string {
  const { readdirSync, readFileSync, statSync } = require("node:fs") as typeof import("node:fs");
  const walk = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(path.join(d, f)).isDirectory() ? walk(path.join(d, f)) : [path.join(d, f)]));
  return walk(path.join(backendDir, ".pulumi", "stacks")).map((f) => readFileSync(f, "utf8")).join("\n");
}

/** The passwords a local stack test supplies (the stack would otherwise generate them): all but the servers' admins'. */
const LOCAL_PASSWORD_KEYS = SECRET_KEYS.filter((k) => k.endsWith("Password") && k !== "postgresAdminPassword" && k !== "mongoAdminPassword");

/** Names and passwords of a local stack on this machine's test servers, unique to one test file. */
export interface LocalStackFixture {
  suffix: string;
  /** The PostgreSQL and MongoDB database. */
  db: string;
  roles: { owner: string; app: string; readonly: string };
  mongoUsers: { app: string; analytics: string };
  aclUsers: { admin: string; app: string; readonly: string; warmup: string };
  keyPrefix: string;
  /** Every supplied secret by config key (the JWT secret only when asked for). */
  passwords: Record<string, string>;
  /** The stack config: external backends on the test servers, every name above, secrets flagged. */
  config(): ConfigMap;
}

/**
 * A local stack's names and config, tagged (`e2e`, `upg`, …) so that test files running at the same
 * time use different databases, roles, users and keys on the shared servers.
 */
export function localStackFixture(tag: string, opts: { jwtSecret?: boolean } = {}): LocalStackFixture {
  const suffix = uniqueSuffix();
  const name = (role: string) => `${tag}_${suffix}_${role}`;
  const db = `nexus_${tag}_${suffix}`;
  const roles = { owner: name("owner"), app: name("app"), readonly: name("ro") };
  const mongoUsers = { app: name("app"), analytics: name("analytics") };
  const aclUsers = { admin: name("admin"), app: name("app"), readonly: name("ro"), warmup: name("warm") };
  const keyPrefix = `${tag}${suffix}:`;
  const passwords: Record<string, string> = Object.fromEntries(LOCAL_PASSWORD_KEYS.map((k) => [k, randomBytes(18).toString("base64url")]));
  // The spec's minimum for the JWT signing secret is 32 characters.
  if (opts.jwtSecret) passwords.jwtSecret = randomBytes(36).toString("base64url");
  const config = (): ConfigMap => {
    const pg = new URL(DATABASE_URL);
    const mongo = new URL(MONGODB_URL);
    const redis = new URL(REDIS_URL);
    const json = (v: unknown) => ({ value: JSON.stringify(v) });
    const c: ConfigMap = {
      "nexus-db:environment": { value: "local" },
      "nexus-db:postgres": json({
        backend: "external",
        database: db,
        roles,
        external: { host: pg.hostname, port: Number(pg.port || 5432), adminUser: decodeURIComponent(pg.username || "postgres"), adminDatabase: pg.pathname.slice(1) || "postgres", sslMode: "disable" },
      }),
      "nexus-db:mongo": json({
        backend: "external",
        external: { host: mongo.hostname, port: Number(mongo.port || 27017), adminUser: "" },
        settings: {
          database: db,
          allowMissingFeatures: ["validators", "collMod", "ttlIndexes", "partialIndexes", "textIndexes", "users"],
          users: { app: { name: mongoUsers.app }, analytics: { name: mongoUsers.analytics } },
        },
      }),
      "nexus-db:redis": json({
        backend: "external",
        external: { host: redis.hostname, port: Number(redis.port || 6379), adminUser: "default" },
        settings: { keyPrefix, acl: { users: Object.fromEntries(Object.entries(aclUsers).map(([k, n]) => [k, { name: n }])) } },
      }),
    };
    for (const [k, v] of Object.entries(passwords)) c[`nexus-db:${k}`] = { value: v, secret: true };
    return c;
  };
  return { suffix, db, roles, mongoUsers, aclUsers, keyPrefix, passwords, config };
}
