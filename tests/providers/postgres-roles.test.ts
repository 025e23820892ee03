// The PostgresRoles provider called as Pulumi calls it, against a real server: its outputs carry no
// credential (a fingerprint stands for them, so a rotated password is still an update), `update`
// keeps the `createdDatabase` output, and only a drop-on-delete stack keeps the admin connection
// (which delete needs) among the outputs.
import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { postgresRolesProvider as provider } from "../../providers/postgres-roles";
import { CREDENTIALS_FINGERPRINT } from "../../providers/runtime";
import { DATABASE_URL, uniqueSuffix } from "../helpers/env";

const suffix = uniqueSuffix();
const database = `nexus_roles_${suffix}`;
const roles = { owner: `r_${suffix}_owner`, app: `r_${suffix}_app`, readonly: `r_${suffix}_ro` };
const pw = () => randomBytes(18).toString("base64url");
const u = new URL(DATABASE_URL);
const admin = { host: u.hostname, port: Number(u.port || 5432), database: u.pathname.slice(1) || "postgres", user: decodeURIComponent(u.username || "postgres"), sslMode: "disable" as const };
const inputs = (passwords = { owner: "owner-Pw-never-shown-1", app: "app-Pw-never-shown-22", readonly: "ro-Pw-never-shown-333" }, dropOnDelete = false) => ({
  admin,
  database,
  roles,
  passwords,
  appConnectionLimit: 10,
  dropOnDelete,
});

afterAll(async () => {
  const c = new Client({ connectionString: DATABASE_URL });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    for (const r of Object.values(roles)) await c.query(`DROP ROLE IF EXISTS "${r}"`);
  } finally {
    await c.end();
  }
});

describe("PostgresRoles provider", () => {
  it("create: outputs without credentials; same inputs no change; a rotated password an update that keeps createdDatabase", async () => {
    const first = inputs();
    const created = await provider.create(first);
    const outs = created.outs as Record<string, unknown>;
    expect(outs.createdDatabase).toBe(true);
    expect(Object.keys(outs)).not.toContain("admin");
    expect(Object.keys(outs)).not.toContain("passwords");
    expect(JSON.stringify(outs)).not.toMatch(/Pw-never-shown/);
    expect(outs[CREDENTIALS_FINGERPRINT]).toMatch(/^sha256:[0-9a-f]{64}$/);

    expect((await provider.diff!(created.id, outs, inputs())).changes).toBe(false);
    const rotated = inputs({ ...first.passwords, app: pw() });
    expect((await provider.diff!(created.id, outs, rotated)).changes).toBe(true);

    const updated = (await provider.update!(created.id, outs, rotated)).outs as Record<string, unknown>;
    // The database exists now (ensureRoles adopts it), yet this resource created it: the output stays.
    expect(updated.createdDatabase).toBe(true);
    expect(Object.keys(updated)).not.toContain("passwords");
    expect((await provider.diff!(created.id, updated, rotated)).changes).toBe(false);

    // The new password is in effect.
    const c = new Client({ ...admin, database, user: roles.app, password: rotated.passwords.app });
    await c.connect();
    await c.end();
  });

  it("state written by the previous version (credentials among the outputs, no fingerprint) is an update, never a replace", async () => {
    const old = { ...inputs(), createdDatabase: true };
    expect(await provider.diff!(`roles/${database}`, old, inputs())).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  });

  it("a drop-on-delete stack keeps the admin connection (delete needs it), and delete drops", async () => {
    const outs = (await provider.update!(`roles/${database}`, {}, inputs(undefined, true))).outs as Record<string, unknown>;
    expect(outs.admin).toEqual(admin);
    expect(Object.keys(outs)).not.toContain("passwords");
    await provider.delete!(`roles/${database}`, outs);
    const c = new Client({ connectionString: DATABASE_URL });
    await c.connect();
    try {
      expect((await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [database])).rowCount).toBe(0);
    } finally {
      await c.end();
    }
  });
});
