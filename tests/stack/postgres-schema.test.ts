// `PostgresSchema` in a real stack through the Automation API: up, a preview with no changes, a
// merged migration shown in `preview --diff` and applied by `up`, an edited applied file failing the
// preview, no password in `pulumi stack export`, and a destroy that drops nothing.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniqueSuffix } from "../helpers/env";
import { freshDatabase, withClient, type FreshDatabase } from "../helpers/pg";
import { historyRows, ROOT, scratchDir, tableNames } from "../engines/postgres/support";

const PULUMI_VERSION = (require("@pulumi/pulumi/package.json") as { version: string }).version;
const PULUMI_BIN = path.join(process.env.NEXUS_CACHE ?? path.join(homedir(), ".cache/nexus-db"), "pulumi", PULUMI_VERSION, "bin");
const havePulumi = existsSync(path.join(PULUMI_BIN, "pulumi")) && existsSync(path.join(PULUMI_BIN, "pulumi-resource-pulumi-nodejs"));
if (!havePulumi) console.warn(`skipped: no Pulumi CLI ${PULUMI_VERSION} under ${PULUMI_BIN} (run scripts/bootstrap.sh)`);

// In CI the CLI is always built first: a missing one there is a failure, not a skip.
describe.skipIf(!havePulumi && !process.env.CI)("PostgresSchema in a real stack", () => {
  const suffix = uniqueSuffix();
  const role = `nexus_mig_${suffix}`;
  const password = `pw-${suffix}-Zq9`;
  // Inside the project, so the dynamic-provider plugin finds @pulumi/pulumi and tsx from its cwd.
  const workDir = path.join(ROOT, ".tmp", `pulumi-schema-${suffix}`);
  let db: FreshDatabase;
  let scratch: ReturnType<typeof scratchDir>;
  let stack: import("@pulumi/pulumi/automation").Stack;
  const env = {
    NEXUS_DB_ROOT: ROOT,
    PULUMI_CONFIG_PASSPHRASE: "schema-test-passphrase",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_HOME: path.join(workDir, "home"),
    // The test's own backend, whatever the environment points at (scripts/env.sh sets the project's).
    PULUMI_BACKEND_URL: `file://${path.join(workDir, "state")}`,
  };

  beforeAll(async () => {
    db = await freshDatabase("pgstack");
    await withClient(db.url, async (c) => {
      await c.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
      await c.query(`ALTER DATABASE ${db.name} OWNER TO ${role}`);
      await c.query(`ALTER SCHEMA public OWNER TO ${role}`);
    });
    scratch = scratchDir("basic");
    mkdirSync(path.join(workDir, "state"), { recursive: true });
    process.env.PATH = `${PULUMI_BIN}:${process.env.PATH}`;
    const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
    const port = Number(new URL(db.url).port);
    const migrationsDir = path.relative(ROOT, scratch.dir);
    stack = await LocalWorkspace.createOrSelectStack(
      {
        stackName: `schema-${suffix}`,
        projectName: "nexus-db-schema-test",
        program: async () => {
          const pulumi = await import("@pulumi/pulumi");
          const { PostgresSchema } = await import("../../providers/postgres-schema");
          const schema = new PostgresSchema("nexus-schema", {
            connection: { host: "127.0.0.1", port, database: db.name, user: role, password: pulumi.secret(password) as unknown as string, sslMode: "disable" },
            migrationsDir,
          });
          return { currentVersion: schema.currentVersion, appliedVersions: schema.appliedVersions };
        },
      },
      {
        workDir,
        projectSettings: { name: "nexus-db-schema-test", runtime: "nodejs", backend: { url: `file://${path.join(workDir, "state")}` } },
        envVars: env,
      },
    );
  }, 300_000);

  afterAll(async () => {
    try {
      await stack?.destroy().catch(() => undefined);
      await stack?.workspace.removeStack(stack.name).catch(() => undefined);
    } finally {
      scratch?.cleanup();
      rmSync(workDir, { recursive: true, force: true });
      await db?.drop();
      const { DATABASE_URL } = await import("../helpers/env");
      await withClient(DATABASE_URL, (c) => c.query(`DROP ROLE IF EXISTS ${role}`));
    }
  }, 300_000);

  it("up applies, preview shows no changes, a new migration is an update named in the diff, and up applies it", async () => {
    const up = await stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(up.outputs.currentVersion.value).toBe(4);
    expect((await historyRows(db.url)).map((r) => r.applied_by)).toEqual([role, role, role, role]);

    const quiet = await stack.preview();
    expect(quiet.changeSummary).toEqual({ same: 2 });

    scratch.write("005_reports.sql", "CREATE TABLE reports (id bigserial PRIMARY KEY);\n");
    const pending = await stack.preview({ diff: true });
    expect(pending.changeSummary).toMatchObject({ update: 1 });
    expect(pending.stdout).toContain("005_reports");
    expect(pending.stdout).not.toMatch(/replace/i);

    const up2 = await stack.up();
    expect(up2.outputs.currentVersion.value).toBe(5);
    expect(await tableNames(db.url)).toContain("reports");
  }, 300_000);

  it("an edited applied file fails the preview with the engine's message", async () => {
    const file = path.join(scratch.dir, "002_engines.sql");
    const original = readFileSync(file);
    writeFileSync(file, `${original}-- edited\n`);
    try {
      await expect(stack.preview()).rejects.toThrow(/002_engines\.sql was changed after it was applied: recorded checksum sha256:[0-9a-f]{64}, file now sha256:[0-9a-f]{64}/);
    } finally {
      writeFileSync(file, original);
    }
  }, 300_000);

  it("pulumi stack export (and the state file itself) holds no password in plain text", async () => {
    // The CLI itself: the Automation API's exportStack passes --show-secrets.
    const r = spawnSync(path.join(PULUMI_BIN, "pulumi"), ["stack", "export", "--stack", stack.name, "--non-interactive"], {
      cwd: workDir,
      encoding: "utf8",
      env: { ...process.env, ...env },
    });
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("pulumi-nodejs:dynamic/nexus:db:PostgresSchema");
    expect(r.stdout).not.toContain(password);
    expect(r.stdout).toMatch(/"ciphertext"/);
    const stateFiles = readdirSync(path.join(workDir, "state"), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".json"));
    expect(stateFiles.length).toBeGreaterThan(0);
    for (const f of stateFiles) expect(readFileSync(path.join(workDir, "state", f), "utf8")).not.toContain(password);
  }, 300_000);

  it("destroy drops nothing (no dropOnDelete)", async () => {
    const down = await stack.destroy();
    expect(down.summary.result).toBe("succeeded");
    expect(await tableNames(db.url)).toEqual(["engines", "reports", "schema_migrations", "submissions", "users"]);
  }, 300_000);
});
