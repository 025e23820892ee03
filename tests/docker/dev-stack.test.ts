// The dev stack on a real Docker engine, with the real CLI: PostgreSQL and Redis in containers of
// the project's images (scripts/images.sh), TLS from the stack's CA, roles, migrations, seeds and
// a warm cache; Mongo on a FerretDB outside Docker (no mongo image can be had here: the `mongo`
// container stays covered by the mock tests). Then what a developer does to it: preview, up again,
// restart the stores, kill PostgreSQL in the middle of a migration, destroy and come back, look at
// the admin tools in a browser, and throw an ephemeral stack away. Every container, volume and
// network it creates is removed at the end.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { connect as tlsConnect } from "node:tls";
import { Socket } from "node:net";
import type { OutputMap, Stack } from "@pulumi/pulumi/automation";
import IORedis from "ioredis";
import { chromium, type Page } from "playwright-core";
import { MongoClient } from "mongodb";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniqueSuffix } from "../helpers/env";
import { PROJECT_ROOT, createStack, projectCopy, type ProjectCopy } from "../helpers/stack";
import { writeBackendFiles } from "../../scripts/env-file";
import { docker, dockerStackConfig, dockerUnavailable, freePorts, imageRefs, leftovers, mongoUsers, removeTestStack, startBridgeFerret, type BridgeFerret } from "./support";

const skip = dockerUnavailable();
const suffix = uniqueSuffix();
const stackName = `dk${suffix}`;
const database = `nexus_${suffix}`;
const artifacts = path.join(PROJECT_ROOT, "test-results", "docker");
const STEP = 900_000;

let copy: ProjectCopy;
let stack: Stack;
let ferret: BridgeFerret;
let out: OutputMap;
let work: string;
let caFile: string;

const value = <T>(k: string): T => out[k]?.value as T;
const urls = () => value<Record<string, string>>("urls");

async function up(opts: { refresh?: boolean } = {}) {
  const r = await stack.up({ color: "never", refresh: opts.refresh });
  out = await stack.outputs();
  return r;
}

/** The resources an `up` replaced, by the lines of its output ("… replaced" / "… replacing"), for messages. */
function replacedIn(stdout: string): string[] {
  return stdout.split("\n").filter((l) => /\breplac(ed|ing)\b/.test(l)).map((l) => l.trim());
}

function changes(summary: Record<string, number | undefined>): Record<string, number> {
  return Object.fromEntries(Object.entries(summary).filter(([op, n]) => op !== "same" && (n ?? 0) > 0)) as Record<string, number>;
}

function health(container: string): string {
  return docker("inspect", "--format", "{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}", container);
}

async function waitHealthy(container: string): Promise<void> {
  for (let i = 0; i < 240; i++) {
    if (health(container) === "running/healthy") return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${container} is ${health(container)}, not healthy`);
}

/** A pg client over TLS verified against the stack's CA (or none). */
async function pg(url: string, tls: "verify" | "off" = "verify"): Promise<Client> {
  const u = new URL(url);
  u.searchParams.delete("sslmode");
  u.searchParams.delete("sslrootcert");
  const c = new Client({ connectionString: u.toString(), ssl: tls === "off" ? false : { ca: value<string>("caCertPem"), rejectUnauthorized: true } });
  await c.connect();
  return c;
}

async function query<T extends object>(url: string, sql: string): Promise<T[]> {
  const c = await pg(url);
  try {
    return (await c.query(sql)).rows as T[];
  } finally {
    await c.end();
  }
}

function redis(url: string): IORedis {
  const u = new URL(url);
  return new IORedis({
    host: u.hostname,
    port: Number(u.port),
    username: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    tls: { ca: value<string>("caCertPem") },
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
}

/** Row counts of the seeded tables and the migration history: what must survive restarts and destroys. */
async function dataFingerprint(): Promise<Record<string, number>> {
  const rows = await query<{ t: string; n: string }>(
    urls().postgresOwner,
    "SELECT 'users' AS t, count(*) AS n FROM users UNION ALL SELECT 'schema_migrations', count(*) FROM schema_migrations",
  );
  return Object.fromEntries(rows.map((r) => [r.t, Number(r.n)]));
}

/** The project's CLI, as an operator runs it. */
function cli(args: string[], env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, [path.join(PROJECT_ROOT, "bin/nexus-db.cjs"), ...args], {
    cwd: work,
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: "", REDIS_URL: "", MONGODB_URL: "", NEXUS_DB_CA_FILE: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/**
 * Headless Chromium (Debian's, scripts/browser.sh installs it) with a fresh profile, driven by
 * playwright-core, on the admin tool `tool` (its container is `<stack>-<tool>`). A failure keeps a
 * screenshot (`<tool>-failure.png`) and says what the page and the container's log showed.
 */
async function withBrowser<T>(tool: string, fn: (page: Page) => Promise<T>, httpCredentials?: { username: string; password: string }): Promise<T> {
  const executablePath = execFileSync("bash", [path.join(PROJECT_ROOT, "scripts/browser.sh")], { encoding: "utf8" }).trim();
  const profile = mkdtempSync(path.join(tmpdir(), "nexus-chromium-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 900 },
    ...(httpCredentials ? { httpCredentials } : {}),
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await ctx.newPage();
  try {
    return await fn(page);
  } catch (err) {
    await page.screenshot({ path: path.join(artifacts, `${tool}-failure.png`) }).catch(() => undefined);
    const body = await page.innerText("body").catch((e: Error) => `(no page: ${e.message})`);
    let logs: string;
    try {
      logs = execFileSync("sh", ["-c", 'docker logs --tail 20 "$0" 2>&1', `${stackName}-${tool}`], { encoding: "utf8" });
    } catch (e) {
      logs = `(${(e as Error).message})`;
    }
    throw new Error(`${(err as Error).message}\n--- page ---\n${body.slice(0, 800)}\n--- docker logs ${stackName}-${tool} ---\n${logs}`, { cause: err });
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

describe.skipIf(skip !== undefined)(`the dev stack on a real Docker engine${skip ? ` (skipped: ${skip})` : ""}`, () => {
  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    work = mkdtempSync(path.join(tmpdir(), "nexus-docker-e2e-"));
    ferret = await startBridgeFerret();
    copy = projectCopy("nexus-docker-");
    const refs = imageRefs();
    stack = await createStack(copy, stackName, dockerStackConfig({ refs, ports: await freePorts(), ferret, database }));
  }, STEP);

  afterAll(async () => {
    try {
      await removeTestStack(stack, stackName);
    } finally {
      await ferret?.dropDatabase(database, Object.values(mongoUsers(database))).catch(() => undefined);
      await ferret?.stop();
      copy?.remove();
      if (work) rmSync(work, { recursive: true, force: true });
    }
  }, STEP);

  it("up from nothing: network, volumes, containers, everything that connects; the health checks pass", async () => {
    const r = await up();
    expect(r.summary.result).toBe("succeeded");
    // up does not wait for Docker's first health check (5 s after the start): the roles, schema and
    // warmup waited for the servers themselves. The checks are there and pass.
    for (const c of ["postgres", "redis"]) expect(health(`${stackName}-${c}`), c).toMatch(/^running\/(starting|healthy)$/);
    for (const c of ["postgres", "redis"]) await waitHealthy(`${stackName}-${c}`);
    for (const c of ["redis-commander", "mongo-express"]) expect(health(`${stackName}-${c}`), c).toMatch(/^running\//);
    expect(leftovers(stackName).networks).toEqual([`${stackName}-nexus-db`]);
    expect(leftovers(stackName).volumes.sort()).toEqual([`${stackName}-postgres-data`, `${stackName}-redis-data`]);
    caFile = path.join(work, "ca.pem");
    writeFileSync(caFile, value<string>("caCertPem"));
  }, STEP);

  it("PostgreSQL: pg_hba refuses a client without TLS; verify-full with the stack's CA succeeds", async () => {
    await expect(pg(value<string>("DATABASE_URL"), "off")).rejects.toThrow(/pg_hba\.conf rejects connection .* no encryption/);
    const rows = await query<{ ssl: boolean; version: string }>(value<string>("DATABASE_URL"), "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    expect(rows[0].ssl).toBe(true);
    expect(rows[0].version).toMatch(/^TLSv1\.[23]$/);
    expect(new URL(value<string>("DATABASE_URL")).searchParams.get("sslmode")).toBe("verify-full");
  });

  it("Redis: TLS only on its port, the default user off", async () => {
    const port = Number(new URL(value<string>("REDIS_URL")).port);
    // Plain RESP on the TLS port gets no PONG.
    const plain = await new Promise<string>((resolve) => {
      const s = new Socket();
      let got = "";
      s.setTimeout(3000, () => { s.destroy(); resolve(got); });
      s.on("data", (d) => (got += d.toString("latin1")));
      s.on("close", () => resolve(got));
      s.on("error", () => resolve(got));
      s.connect(port, "127.0.0.1", () => s.write("PING\r\n"));
    });
    expect(plain).not.toContain("+PONG");
    // Over TLS but without AUTH: the default user is off, so nothing runs; nor does AUTH default.
    const answer = (cmds: string) =>
      new Promise<string>((resolve, reject) => {
        let got = "";
        const s = tlsConnect({ host: "127.0.0.1", port, ca: value<string>("caCertPem") }, () => s.write(cmds));
        s.on("data", (d) => (got += d.toString()));
        s.setTimeout(3000, () => { s.destroy(); resolve(got); });
        s.on("error", reject);
      });
    expect(await answer("PING\r\n")).toMatch(/^-NOAUTH/);
    expect(await answer("AUTH default x\r\n")).toMatch(/^-WRONGPASS/);
    // REDIS_URL logs in as the app user: CLIENT INFO names the connection's user (ACL WHOAMI is
    // not for the app: the ACL command is among the ones it is denied).
    const r = redis(value<string>("REDIS_URL"));
    await r.connect();
    try {
      expect(String(await r.call("CLIENT", "INFO"))).toMatch(/ user=nexus_app /);
      await expect(r.call("ACL", "WHOAMI")).rejects.toThrow(/^NOPERM/);
    } finally {
      r.disconnect();
    }
  });

  it("roles behave: the app cannot CREATE TABLE, read-only cannot INSERT", async () => {
    const app = await pg(urls().postgresApp);
    const ro = await pg(urls().postgresReadonly);
    try {
      // The table is there and readable by both: what follows is refused for the role, not for a missing table.
      expect(Number((await ro.query("SELECT count(*) AS n FROM users")).rows[0].n)).toBeGreaterThan(0);
      expect(Number((await app.query("SELECT count(*) AS n FROM users")).rows[0].n)).toBeGreaterThan(0);
      // insufficient_privilege: the app has no CREATE on the schema.
      await expect(app.query("CREATE TABLE e2e_not_allowed (id int)")).rejects.toMatchObject({ code: "42501" });
      // The read-only role's sessions are read-only (default_transaction_read_only): 25006 …
      await expect(ro.query("INSERT INTO users (username) VALUES ('x')")).rejects.toMatchObject({ code: "25006" });
      // … and a read-write transaction, which the role may open, still has no INSERT privilege: 42501.
      await ro.query("BEGIN READ WRITE");
      await expect(ro.query("INSERT INTO users (username) VALUES ('x')")).rejects.toMatchObject({ code: "42501" });
      await ro.query("ROLLBACK");
    } finally {
      await app.end();
      await ro.end();
    }
  });

  it("migrations, seeds and warm keys are there; the outputs' URLs and the CLI (with the stack's CA) connect", async () => {
    const history = await query<{ version: string }>(urls().postgresOwner, "SELECT version FROM schema_migrations ORDER BY version");
    expect(history.map((h) => Number(h.version))).toEqual([1, 2, 3, 4, 5]);
    expect((await dataFingerprint()).users).toBeGreaterThan(0);
    const counts = value<{ warmup: { counts: Record<string, number> } }>("redis").warmup.counts;
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);

    // The backend's .env, as `npm run env` writes it, then the CLI reads it (--env-file) and trusts its CA.
    const { envFile } = writeBackendFiles(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.value])), {
      stack: stackName,
      envFile: path.join(work, ".env"),
      tomlFile: path.join(work, "config.toml"),
    });
    // The environment has DATABASE_URL and NEXUS_DB_CA_FILE empty (cli()): the file fills them.
    expect(cli(["pg", "status", "--env-file", envFile])).toMatch(/^current version: version 5; pending: 0$/m);
    // A day-2 command takes the CA from the same file: the owner's verify-full URL is checked against it.
    const stats = JSON.parse(cli(["stats", "--env-file", envFile, "--url", urls().postgresOwner, "--json"])) as { postgres?: { database: string } };
    expect(stats.postgres?.database).toBe("nexus_security");
    expect(() => cli(["stats", "--url", urls().postgresOwner, "--json"])).toThrow(/self-signed certificate/);
    const status = cli(["redis", "status", "--ca", caFile, "--redis-url", urls().redisWarmup, "--database-url", urls().postgresReadonly]);
    expect(status).toMatch(/^up to date/m);
    // Without the CA the same command fails on the self-signed chain: the option is what made it work.
    expect(() => cli(["redis", "status", "--redis-url", urls().redisWarmup, "--database-url", urls().postgresReadonly])).toThrow(/self-signed certificate/);

    const r = redis(value<string>("REDIS_URL"));
    await r.connect();
    expect(await r.ping()).toBe("PONG");
    r.disconnect();
    // MONGODB_URL logs in as the stack's app user, which the reconciler made (FerretDB on DocumentDB checks the login).
    expect(ferret.allowMissingFeatures, `${ferret.server} keeps no users: the Mongo URL's login cannot be checked`).not.toContain("users");
    const m = new MongoClient(value<string>("MONGODB_URL"), { serverSelectionTimeoutMS: 10_000 });
    try {
      await m.connect();
      expect((await m.db().command({ ping: 1 })).ok).toBe(1);
      const status = await m.db().command({ connectionStatus: 1 });
      expect((status.authInfo.authenticatedUsers as { user: string }[]).map((u) => u.user)).toEqual([mongoUsers(database).app]);
    } finally {
      await m.close();
    }
  }, STEP);

  it("preview after up: no changes; a second up replaces nothing", async () => {
    const p = await stack.preview({ color: "never" });
    expect(changes(p.changeSummary)).toEqual({});
    const r = await up();
    expect(changes(r.summary.resourceChanges ?? {})).toEqual({});
  }, STEP);

  it("the admin tools answer on loopback: Redis Commander and Mongo Express, logged in with the stack's outputs", async () => {
    const tools = value<{ urls: Record<string, string>; logins: Record<string, string>; password: string }>("devTools");
    expect(Object.keys(tools.urls).sort()).toEqual(["mongoExpress", "redisCommander"]);
    for (const u of Object.values(tools.urls)) expect(new URL(u).hostname).toBe("127.0.0.1");

    // Redis Commander: its sign-in form, then the connection to the stack's Redis, then the warm engine-reputation keys (DB 3).
    const rc = await withBrowser("redis-commander", async (page) => {
      // On a busy machine the page's script can still be setting up the form when it is filled (the
      // tool then logs "Login failed"): the sign-in is tried again on a reloaded page. A wrong
      // password fails every attempt.
      await page.goto(tools.urls.redisCommander, { waitUntil: "networkidle" });
      for (let attempt = 1; ; attempt++) {
        await page.fill("#signinUsername", tools.logins.redisCommander);
        await page.fill("#signinPassword", tools.password);
        await page.click("#signinButton");
        const signedIn = await page.waitForSelector(`text=${stackName}-redis:6379`, { timeout: 30_000 }).then(() => true, () => false);
        if (signedIn) break;
        if (attempt === 3) throw new Error(`Redis Commander: no view of ${stackName}-redis:6379 after ${attempt} sign-ins`);
        await page.reload({ waitUntil: "networkidle" });
      }
      await page.click("#commandLine");
      await page.keyboard.type("select 3\n", { delay: 20 });
      await page.keyboard.type("scan 0 match nexus:engine:* count 1000\n", { delay: 20 });
      await page.waitForSelector("#commandLineOutput >> text=/nexus:engine:/", { timeout: 30_000 });
      await page.screenshot({ path: path.join(artifacts, "redis-commander.png") });
      return page.innerText("body");
    });
    expect(rc).toContain(`${stackName}-redis:6379`);
    expect(rc).toMatch(/nexus:engine:/);

    // Mongo Express: basic auth with the same login, the platform database and its collections.
    const me = await withBrowser("mongo-express", async (page) => {
      await page.goto(`${tools.urls.mongoExpress}/db/${database}/`);
      await page.waitForSelector("text=threat_indicators", { timeout: 60_000 });
      await page.screenshot({ path: path.join(artifacts, "mongo-express.png") });
      return page.innerText("body");
    }, { username: tools.logins.mongoExpress, password: tools.password });
    expect(me).toContain(database);
    expect(me).toContain("threat_indicators");
    // Without the login Mongo Express answers 401.
    const anonymous = await fetch(tools.urls.mongoExpress);
    expect(anonymous.status).toBe(401);
  }, STEP);

  it("docker restart of each store, then up: data intact, no changes", async () => {
    const before = await dataFingerprint();
    for (const c of ["postgres", "redis"]) docker("restart", `${stackName}-${c}`);
    for (const c of ["postgres", "redis"]) await waitHealthy(`${stackName}-${c}`);
    const r = await up();
    expect(changes(r.summary.resourceChanges ?? {})).toEqual({});
    expect(await dataFingerprint()).toEqual(before);
  }, STEP);

  it("docker kill of PostgreSQL in the middle of a migration: the next up completes, each migration once", async () => {
    writeFileSync(
      path.join(copy.dir, "sql/migrations/006_e2e_slow.sql"),
      "CREATE TABLE e2e_after_kill (id int PRIMARY KEY);\nSELECT pg_sleep(30);\nINSERT INTO e2e_after_kill VALUES (1);\n",
    );
    const running = up();
    running.catch(() => undefined);
    // Wait until the migration's sleep is running, then kill the server under it.
    let seen = false;
    for (let i = 0; i < 600 && !seen; i++) {
      await new Promise((r) => setTimeout(r, 500));
      seen = await query<{ n: string }>(urls().postgresOwner, "SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()")
        .then((rows) => Number(rows[0].n) > 0)
        .catch(() => false);
    }
    expect(seen).toBe(true);
    docker("kill", `${stackName}-postgres`);
    await expect(running).rejects.toThrow();
    // The refresh finds the container stopped (the provider then reads no published ports, which
    // forces a replace): it is created again on the same volume, the migration waiting for it to
    // accept; the killed migration's transaction was rolled back, so it runs once.
    const r = await up({ refresh: true });
    expect(r.summary.result).toBe("succeeded");
    await waitHealthy(`${stackName}-postgres`);
    const history = await query<{ version: string; n: string }>(urls().postgresOwner, "SELECT version, count(*) AS n FROM schema_migrations GROUP BY version ORDER BY version");
    expect(history.map((h) => [Number(h.version), Number(h.n)])).toEqual([[1, 1], [2, 1], [3, 1], [4, 1], [5, 1], [6, 1]]);
    expect(await query(urls().postgresOwner, "SELECT id FROM e2e_after_kill")).toEqual([{ id: 1 }]);
    const again = await up();
    expect(changes(again.summary.resourceChanges ?? {})).toEqual({});
  }, STEP);

  it("destroy: containers gone, volumes kept; the next up finds the data", async () => {
    const before = await dataFingerprint();
    await stack.destroy({ color: "never" });
    const l = leftovers(stackName);
    expect(l.containers).toEqual([]);
    expect(l.volumes.sort()).toEqual([`${stackName}-postgres-data`, `${stackName}-redis-data`]);
    const r = await up();
    expect(r.summary.result).toBe("succeeded");
    expect(await dataFingerprint()).toEqual(before);
  }, STEP);

  it("an ephemeral stack's destroy removes its volumes (turning ephemeral on replaces nothing)", async () => {
    await stack.setConfig("nexus-db:ephemeral", { value: "true" });
    const r = await up();
    expect(Object.keys(changes(r.summary.resourceChanges ?? {})).filter((op) => op !== "update"), replacedIn(r.stdout).join("\n")).toEqual([]);
    await stack.destroy({ color: "never" });
    expect(leftovers(stackName)).toEqual({ containers: [], volumes: [], networks: [] });
  }, STEP);
});
