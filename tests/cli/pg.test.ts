// `nexus-db pg …` as operators and CI run it: exit status and the engine's messages.
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli";
import { freshDatabase, type FreshDatabase } from "../helpers/pg";
import { FIXTURES, ROOT, scratchDir } from "../engines/postgres/support";

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = runCli(["pg", ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL: "" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Every call starts a Node process: slow on a busy machine.
const CLI_TIMEOUT = 300_000;

let db: FreshDatabase;
beforeEach(async () => {
  db = await freshDatabase("pgcli");
});
afterEach(async () => {
  await db.drop();
});

describe("nexus-db pg", () => {
  it("plan, migrate, status: what would run, what ran, what is applied", () => {
    const dir = path.relative(ROOT, path.join(FIXTURES, "basic"));
    const plan = cli("plan", "--url", db.url, "--dir", dir);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/apply {2}001_users {2}[0-9a-f]{12}\n.*\n.*\napply {2}004_submissions_created_idx/);
    expect(plan.stdout).toContain("no version → version 4");

    const migrate = cli("migrate", "--url", db.url, "--dir", dir);
    expect(migrate.code).toBe(0);
    expect(migrate.stdout).toMatch(/apply +001_users … ok \(\d+ ms\)/);
    expect(migrate.stdout).toContain("is now at version 4");

    const status = cli("status", "--url", db.url, "--dir", dir);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^4 +004_submissions_created_idx +applied +[0-9a-f]{12} /m);
    expect(status.stdout).toContain("current version: version 4; pending: 0");

    expect(cli("migrate", "--url", db.url, "--dir", dir).stdout).toContain("nothing to do");
  }, CLI_TIMEOUT);

  it("exits non-zero with the engine's message on a failing migration and on an edited file", () => {
    const failing = cli("migrate", "--url", db.url, "--dir", path.relative(ROOT, path.join(FIXTURES, "failing")));
    expect(failing.code).toBe(1);
    expect(failing.stderr).toContain("003_broken.sql:4: 003_broken failed: ERROR 42P01");
    expect(failing.stderr).toContain("not run: 004_after_broken");

    const s = scratchDir("failing");
    try {
      s.write("002_engines.sql", "-- edited after it was applied\n");
      for (const command of ["status", "plan", "migrate"]) {
        const edited = cli(command, "--url", db.url, "--dir", s.dir);
        expect({ command, code: edited.code }).toEqual({ command, code: 1 });
        expect(edited.stderr).toContain("002_engines.sql was changed after it was applied");
        expect(edited.stderr).toContain(`repairChecksums: ["002_engines"]`);
      }
    } finally {
      s.cleanup();
    }
  }, CLI_TIMEOUT);

  it("lint exits 1 on findings, 0 when they are allowed by name or absent", () => {
    const lintDir = path.relative(ROOT, path.join(FIXTURES, "lint"));
    const lint = cli("lint", "--dir", lintDir);
    expect(lint.code).toBe(1);
    expect(lint.stdout).toContain(`error [drop-column] ${lintDir}/003_drop_column.sql:1: column accounts.legacy`);
    const names = ["002_drop_table", "003_drop_column", "004_drop_schema", "005_alter_type", "006_set_not_null", "007_blocking_index", "008_truncate", "009_delete_all", "010_update_all"];
    expect(cli("lint", "--dir", lintDir, ...names.flatMap((n) => ["--allow-destructive", n])).code).toBe(0);
    expect(cli("lint", "--dir", path.relative(ROOT, path.join(FIXTURES, "basic"))).code).toBe(0);
  }, CLI_TIMEOUT);

  it("bad usage exits 2; an unreachable database exits 1 naming it without its password", () => {
    expect(cli("frobnicate").code).toBe(2);
    expect(cli("migrate", "--dir", "x").code).toBe(2); // no --url
    expect(cli("migrate", "--url", db.url, "--target", "two").code).toBe(2);
    const down = cli("status", "--url", "postgres://u:hunter2@127.0.0.1:1/x", "--dir", path.relative(ROOT, path.join(FIXTURES, "basic")));
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("cannot connect to postgres://u:***@127.0.0.1:1/x");
    expect(down.stderr).not.toContain("hunter2");
  }, CLI_TIMEOUT);
});
