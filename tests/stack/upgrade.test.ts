// A stack deployed by an earlier version of this program, previewed and updated by this one: the
// dynamic resources changed their type tokens (one convention, `nexus:db:<Name>`) and stopped
// returning credentials as outputs. Their `aliases` must carry the state over — the preview shows
// no create, delete or replace, only updates — and after `up` the state holds no credential
// outputs and a second preview is quiet.
//
// The earlier version is the commit below, read from this clone's git history (`git archive`): a
// shallow clone lacks it and this test says so.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { LocalWorkspace, PulumiCommand, type EngineEvent, type Stack } from "@pulumi/pulumi/automation";
import IORedis from "ioredis";
import { MongoClient } from "mongodb";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_URL, MONGODB_URL, REDIS_URL } from "../helpers/env";
import { PROJECT_ROOT, localStackFixture, pathsHolding, projectCopy, pulumiRoot, stackEnv, type ProjectCopy } from "../helpers/stack";

/** The last landed commit (before the one-shape change) whose dynamic resources had the old type tokens and returned their inputs (credentials included) as outputs. */
const OLD_COMMIT = "fdb9ac1";
const OLD_TREE = ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts", "config", "components", "providers", "engines", "sql", "mongo", "redis"];

const fx = localStackFixture("upg");
const { suffix, db, roles, aclUsers, passwords } = fx;
const stackName = `upgrade-${suffix}`;
const stackConfig = fx.config;

/** The old program: OLD_COMMIT's tree in a directory of its own, this clone's node_modules linked. */
function oldProject(base: string): string {
  const dir = path.join(base, "old-project");
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync("git", ["-C", PROJECT_ROOT, "cat-file", "-e", `${OLD_COMMIT}^{commit}`], { stdio: "ignore" });
  } catch {
    throw new Error(`commit ${OLD_COMMIT} is not in this clone's history (a shallow clone?): run \`git fetch --unshallow\` and try again`);
  }
  const tar = execFileSync("git", ["-C", PROJECT_ROOT, "archive", "--format=tar", OLD_COMMIT, ...OLD_TREE], { maxBuffer: 256 * 1024 * 1024 });
  execFileSync("tar", ["-x", "-C", dir], { input: tar });
  symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
  return dir;
}

/** Steps of an operation by kind, from its engine events: `create nexus-postgres-roles (pulumi-nodejs:dynamic/…)`. */
function stepsOf(events: EngineEvent[]): { op: string; name: string; type: string }[] {
  return events
    .map((e) => e.resourcePreEvent?.metadata)
    .filter((m): m is NonNullable<typeof m> => m !== undefined)
    .map((m) => ({ op: m.op, name: m.urn.split("::").pop() ?? m.urn, type: m.type }));
}

const jwtSecret = randomBytes(36).toString("base64url");

/** The state as `pulumi stack export` gives an operator (the Automation API's exportStack shows secrets). */
function exportedState(): { resources: { type: string; outputs?: Record<string, unknown> }[] } {
  const out = execFileSync(path.join(pulumiRoot(), "bin", "pulumi"), ["stack", "export", "--stack", stackName], {
    cwd: current.dir,
    env: { ...process.env, ...stackEnv(current.backend) },
    encoding: "utf8",
  });
  return (JSON.parse(out) as { deployment: { resources: { type: string; outputs?: Record<string, unknown> }[] } }).deployment;
}

/** Where the state holds a credential the stack was given in plain text: `key at $.path`. */
function plainCredentials(state: unknown): string[] {
  return Object.entries({ ...passwords, jwtSecret }).flatMap(([k, v]) => pathsHolding(state, v).map((p) => `${k} at ${p}`));
}

async function pgQuery(url: string, sql: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

let base: string;
let current: ProjectCopy;
let oldStack: Stack;
let newStack: Stack;

describe("a stack deployed by the previous version", () => {
  beforeAll(async () => {
    base = mkdtempSync(path.join(tmpdir(), "nexus-upgrade-"));
    const oldDir = oldProject(base);
    current = projectCopy("nexus-upgrade-new-");
    const env = stackEnv(current.backend);
    const pulumiCommand = await PulumiCommand.get({ root: pulumiRoot() });
    oldStack = await LocalWorkspace.createStack({ stackName, workDir: oldDir }, { pulumiCommand, envVars: env });
    await oldStack.setAllConfig(stackConfig());
    const up = await oldStack.up({ color: "never" });
    expect(up.summary.result).toBe("succeeded");
    // The same stack (same backend, same stack file with its encryption salt) under the current program.
    copyFileSync(path.join(oldDir, `Pulumi.${stackName}.yaml`), path.join(current.dir, `Pulumi.${stackName}.yaml`));
    newStack = await LocalWorkspace.selectStack({ stackName, workDir: current.dir }, { pulumiCommand, envVars: env });
    // The current program also hands the backend a JWT signing secret, which the previous version
    // had no key for: supplied here, so the upgrade previews only the moved resources.
    await newStack.setConfig("nexus-db:jwtSecret", { value: jwtSecret, secret: true });
  }, 900_000);

  afterAll(async () => {
    try {
      await newStack?.destroy({ color: "never" }).catch(() => undefined);
      await (newStack ?? oldStack)?.workspace.removeStack(stackName, { force: true }).catch(() => undefined);
    } finally {
      current?.remove();
      if (base) rmSync(base, { recursive: true, force: true });
      await pgQuery(DATABASE_URL, `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`).catch(() => undefined);
      for (const r of [roles.app, roles.readonly, roles.owner]) await pgQuery(DATABASE_URL, `DROP ROLE IF EXISTS "${r}"`).catch(() => undefined);
      const m = await MongoClient.connect(MONGODB_URL);
      await m.db(db).dropDatabase().catch(() => undefined);
      await m.close();
      const r = new IORedis(REDIS_URL);
      for (const u of Object.values(aclUsers)) await r.call("ACL", "DELUSER", u).catch(() => undefined);
      for (let d = 0; d < 16; d++) {
        await r.select(d);
        const keys = await r.keys(`upg${suffix}:*`);
        if (keys.length > 0) await r.del(...keys);
      }
      r.disconnect();
    }
  }, 600_000);

  it("the old state had the old type tokens and credentials among the dynamic resources' outputs", async () => {
    const state = exportedState();
    const types = state.resources.map((r) => r.type);
    expect(types).toContain("pulumi-nodejs:dynamic/nexus:PostgresSchema");
    expect(types.filter((t) => t === "pulumi-nodejs:dynamic:Resource")).toHaveLength(2);
    const roles = state.resources.find((r) => r.type === "pulumi-nodejs:dynamic/nexus:db:PostgresRoles")!;
    expect(Object.keys(roles.outputs ?? {})).toEqual(expect.arrayContaining(["admin", "passwords"]));
  });

  it("previews no create, delete or replace under the current program: every dynamic resource is found by its alias", async () => {
    const events: EngineEvent[] = [];
    const p = await newStack.preview({ color: "never", onEvent: (e) => events.push(e) });
    const steps = stepsOf(events);
    const structural = steps.filter((s) => !["same", "update"].includes(s.op));
    expect(structural).toEqual([]);
    expect(Object.keys(p.changeSummary).filter((op) => !["same", "update"].includes(op))).toEqual([]);
    // The renamed ones are previewed under their new tokens (found through their aliases).
    const dynamic = steps.filter((s) => s.type.startsWith("pulumi-nodejs:dynamic")).map((s) => `${s.type} ${s.name}`).sort();
    expect(dynamic).toEqual(
      [
        "pulumi-nodejs:dynamic/nexus:db:MongoSchema nexus-mongo-schema",
        "pulumi-nodejs:dynamic/nexus:db:PostgresGrants nexus-postgres-grants",
        "pulumi-nodejs:dynamic/nexus:db:PostgresRoles nexus-postgres-roles",
        "pulumi-nodejs:dynamic/nexus:db:PostgresSchema nexus-postgres-schema",
        "pulumi-nodejs:dynamic/nexus:db:PostgresSeedData nexus-postgres-seed",
        "pulumi-nodejs:dynamic/nexus:db:RedisServerSettings nexus-redis-settings",
        "pulumi-nodejs:dynamic/nexus:db:RedisWarmup nexus-redis-warmup",
      ].sort(),
    );
  }, 600_000);

  it("up moves the state: no credential among the outputs, none in plain text, the roles keep createdDatabase; then a quiet preview", async () => {
    const up = await newStack.up({ color: "never" });
    expect(up.summary.result).toBe("succeeded");
    expect(Object.keys(up.summary.resourceChanges ?? {}).filter((op) => !["same", "update"].includes(op))).toEqual([]);

    const state = exportedState();
    expect(state.resources.map((r) => r.type)).not.toContain("pulumi-nodejs:dynamic:Resource");
    expect(plainCredentials(state)).toEqual([]);
    for (const r of state.resources.filter((x) => x.type.startsWith("pulumi-nodejs:dynamic/nexus:db:"))) {
      const credentialOutputs = ["admin", "passwords", "connection", "connections", "users"].filter((k) => r.outputs && k in r.outputs);
      expect([r.type, credentialOutputs]).toEqual([r.type, []]);
    }
    const roles = state.resources.find((r) => r.type === "pulumi-nodejs:dynamic/nexus:db:PostgresRoles")!;
    expect(roles.outputs?.createdDatabase).toBe(true);

    const events: EngineEvent[] = [];
    const p = await newStack.preview({ color: "never", onEvent: (e) => events.push(e) });
    expect(stepsOf(events).filter((s) => s.op !== "same")).toEqual([]);
    expect(Object.keys(p.changeSummary).filter((op) => op !== "same")).toEqual([]);
  }, 900_000);
});
