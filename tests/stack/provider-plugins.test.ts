// The resource provider plugins, for real: random, tls and postgresql resources created by the
// real CLI on a private PostgreSQL that logs every statement, previewed (no changes) and destroyed;
// docker resources previewed against a real Docker engine. No mock runtime here.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, PulumiCommand, type PulumiFn, type Stack } from "@pulumi/pulumi/automation";
import * as postgresql from "@pulumi/postgresql";
import * as random from "@pulumi/random";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DOCKER_PLUGIN } from "../../components/docker-store";
import { Certificates } from "../../components/tls";
import { scramVerifier } from "../../engines/postgres/roles";
import { uniqueSuffix } from "../helpers/env";
import { startPrivatePostgres, type PrivatePostgres } from "../helpers/private-pg";
import { PROJECT_ROOT, pulumiRoot, stackEnv, storedStateText } from "../helpers/stack";

const TIMEOUT = 240_000;

function pluginList(): { name: string; version: string }[] {
  // PULUMI_HOME (the plugin cache) comes from scripts/env.sh, as for every stack of the project.
  const out = execFileSync(path.join(pulumiRoot(), "bin", "pulumi"), ["plugin", "ls", "--json"], { encoding: "utf8" });
  return (JSON.parse(out) as { kind: string; name: string; version: string }[]).filter((p) => p.kind === "resource");
}

/** An inline-program stack under the project (so @pulumi/* resolve), on a backend of its own. */
async function inlineStack(name: string, program: PulumiFn): Promise<{ stack: Stack; backend: string; remove(): Promise<void> }> {
  mkdirSync(path.join(PROJECT_ROOT, ".tmp"), { recursive: true });
  const base = mkdtempSync(path.join(PROJECT_ROOT, ".tmp", "plugins-"));
  const backend = path.join(base, "state");
  mkdirSync(backend);
  const stack = await LocalWorkspace.createStack(
    { stackName: name, projectName: "nexus-db-plugins-test", program },
    {
      workDir: base,
      pulumiCommand: await PulumiCommand.get({ root: pulumiRoot() }),
      envVars: stackEnv(backend),
      projectSettings: { name: "nexus-db-plugins-test", runtime: "nodejs", backend: { url: `file://${backend}` } },
    },
  );
  return {
    stack,
    backend,
    async remove() {
      try {
        await stack.destroy({ color: "never" });
        await stack.workspace.removeStack(name, { force: true });
      } finally {
        rmSync(base, { recursive: true, force: true });
      }
    },
  };
}

describe("provider plugins installed from the shared sources", () => {
  it("random, tls and postgresql are installed at the versions of their npm packages, docker at the one its resources ask for", () => {
    const plugins = pluginList();
    const wanted: Record<string, string> = { docker: DOCKER_PLUGIN.version };
    for (const name of ["random", "tls", "postgresql"]) wanted[name] = require(`@pulumi/${name}/package.json`).version as string;
    for (const [name, version] of Object.entries(wanted)) {
      expect(plugins.filter((p) => p.name === name).map((p) => p.version), `pulumi-resource-${name}`).toContain(version);
    }
  });
});

describe("pulumi about, for every stack file of the repository", () => {
  // `pulumi about` lists the plugins the program's packages name. On this machine two of them
  // cannot be had: aws and mongodbatlas have no source here and no download (a normal machine's
  // CLI downloads them on first use), and docker's package names 5.2.0 while every docker
  // resource asks for 5.1.0 (DOCKER_PLUGIN), which is installed. Everything else must be there.
  const NOT_HERE = new Set(["aws", "mongodbatlas", "docker@5.2.0"]);
  const stacks = readdirSync(PROJECT_ROOT)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => !!s);

  it("lists no error and no plugin that is not installed (but the ones this machine cannot have)", () => {
    expect(stacks).toEqual(expect.arrayContaining(["local", "dev", "staging", "prod"]));
    const backend = mkdtempSync(path.join(tmpdir(), "nexus-about-"));
    const env = { ...process.env, ...stackEnv(backend) };
    const pulumiBin = path.join(pulumiRoot(), "bin", "pulumi");
    const installed = new Set(pluginList().map((p) => `${p.name}@${p.version}`));
    try {
      for (const stack of stacks) {
        execFileSync(pulumiBin, ["stack", "init", stack, "--non-interactive"], { cwd: PROJECT_ROOT, env, stdio: "pipe" });
        const about = JSON.parse(execFileSync(pulumiBin, ["about", "--json", "--stack", stack], { cwd: PROJECT_ROOT, env, encoding: "utf8" })) as {
          plugins: { name: string; version: string; kind: string }[];
          errors?: string[];
        };
        expect(about.errors ?? [], stack).toEqual([]);
        const missing = about.plugins
          .filter((p) => p.kind === "resource" && !installed.has(`${p.name}@${p.version}`))
          .map((p) => `${p.name}@${p.version}`)
          .filter((p) => !NOT_HERE.has(p) && !NOT_HERE.has(p.split("@")[0]));
        expect(missing, `${stack}: plugins named but not installed`).toEqual([]);
        expect(about.plugins.map((p) => p.name), stack).toEqual(expect.arrayContaining(["random", "tls", "postgresql", "docker", "nodejs"]));
      }
    } finally {
      rmSync(backend, { recursive: true, force: true });
    }
  }, 240_000);
});

describe("random, tls and postgresql resources with the real CLI", () => {
  let pg: PrivatePostgres;
  const suffix = uniqueSuffix();
  const role = `plug_${suffix}_app`;
  const database = `plug_${suffix}`;
  let plainPassword = "";
  let verifier = "";

  beforeAll(async () => {
    // Every statement the server receives is logged: a password in any of them would show.
    pg = await startPrivatePostgres({ conf: ["log_statement = 'all'", "password_encryption = 'scram-sha-256'"] });
  }, 60_000);
  afterAll(() => pg?.stop());

  const program: PulumiFn = async () => {
    const password = new random.RandomPassword("app-password", { length: 32, special: false });
    const salt = new random.RandomBytes("app-password-salt", { length: 16 });
    const certs = new Certificates("plugins-tls", { stack: "plugins-test", validityHours: 24 });
    const admin = new postgresql.Provider("admin", { host: "127.0.0.1", port: pg.port, username: "postgres", sslmode: "disable", superuser: true, database: "postgres" });
    // The server receives the SCRAM verifier only; it stores a verifier given as a password as it is.
    const secretVerifier = pulumi.secret(pulumi.all([password.result, salt.base64]).apply(([p, s]) => scramVerifier(p, Buffer.from(s, "base64"))));
    const appRole = new postgresql.Role("app-role", { name: role, login: true, password: secretVerifier, connectionLimit: 10 }, { provider: admin });
    const db = new postgresql.Database("db", { name: database, owner: "postgres" }, { provider: admin });
    new postgresql.Grant("connect", { database: db.name, role: appRole.name, objectType: "database", privileges: ["CONNECT"] }, { provider: admin });
    new postgresql.DefaultPrivileges("tables", { database: db.name, role: appRole.name, owner: "postgres", schema: "public", objectType: "table", privileges: ["SELECT", "INSERT", "UPDATE", "DELETE"] }, { provider: admin });
    return { password: password.result, verifier: secretVerifier, caCertPem: certs.caCertPem, serverCert: certs.servers.postgres.certPem };
  };

  it("up creates them, the role logs in, no password reaches the server's log or the state, preview is quiet, destroy removes them", async () => {
    const { stack, backend, remove } = await inlineStack(`plugins-${suffix}`, program);
    try {
      const up = await stack.up({ color: "never" });
      expect(up.summary.result).toBe("succeeded");
      const counts = up.summary.resourceChanges ?? {};
      expect(counts.create).toBeGreaterThanOrEqual(12);
      plainPassword = up.outputs.password.value as string;
      verifier = up.outputs.verifier.value as string;
      expect(up.outputs.password.secret).toBe(true);
      expect(verifier).toMatch(/^SCRAM-SHA-256\$4096:/);

      // The CA signed the server certificate (tls plugin).
      const ca = new (require("node:crypto").X509Certificate)(up.outputs.caCertPem.value as string);
      const leaf = new (require("node:crypto").X509Certificate)(up.outputs.serverCert.value as string);
      expect(leaf.verify(ca.publicKey)).toBe(true);
      expect(leaf.checkIP("127.0.0.1")).toBe("127.0.0.1");

      const admin = new Client({ connectionString: pg.url });
      await admin.connect();
      try {
        const stored = await admin.query("SELECT rolpassword, rolconnlimit FROM pg_authid WHERE rolname = $1", [role]);
        expect(stored.rows[0]).toEqual({ rolpassword: verifier, rolconnlimit: 10 });
        expect((await admin.query("SELECT datname FROM pg_database WHERE datname = $1", [database])).rowCount).toBe(1);
      } finally {
        await admin.end();
      }
      const asRole = new Client({ host: "127.0.0.1", port: pg.port, user: role, password: plainPassword, database });
      await asRole.connect();
      expect((await asRole.query("SELECT current_user AS u")).rows[0].u).toBe(role);
      await asRole.end();

      expect(pg.log()).toContain("CREATE ROLE");
      expect(pg.log()).not.toContain(plainPassword);

      // As stored by the backend: secrets are ciphertext there (`stack export` would decrypt them).
      const stored = storedStateText(backend);
      expect(stored).toContain("ciphertext");
      expect(stored).not.toContain(plainPassword);
      expect(stored).not.toContain(verifier);

      const preview = await stack.preview({ color: "never", diff: true });
      expect(preview.changeSummary.create ?? 0).toBe(0);
      expect(preview.changeSummary.update ?? 0).toBe(0);
      expect(preview.changeSummary.replace ?? 0).toBe(0);
      expect(preview.changeSummary.delete ?? 0).toBe(0);
    } finally {
      await remove();
    }
    const after = new Client({ connectionString: pg.url });
    await after.connect();
    try {
      expect((await after.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role])).rowCount).toBe(0);
      expect((await after.query("SELECT 1 FROM pg_database WHERE datname = $1", [database])).rowCount).toBe(0);
    } finally {
      await after.end();
    }
  }, TIMEOUT);
});
