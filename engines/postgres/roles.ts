// Roles of the platform database and their privileges: an owner that owns the database (and so, on
// PostgreSQL 15+, the `public` schema) and runs migrations, an application role with DML and
// EXECUTE but no DDL, a read-only role with SELECT. Default privileges make objects that later
// migrations create follow; grants on existing objects cover what was there before
// (cyrilgdn/terraform-provider-postgresql#533). Passwords travel to the server only as SCRAM
// verifiers, so they never show up in server logs (DDL logging is on for the audit trail).
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import type { Client } from "pg";
import { connect, type ConnectionInput } from "./migrator";

export interface PlatformRoles {
  owner: string;
  app: string;
  readonly: string;
}

export interface RolePasswords {
  owner: string;
  app: string;
  readonly: string;
}

export interface EnsureRolesInput {
  /** An administrative connection (superuser, or a managed service's admin role) to a maintenance database. */
  admin: ConnectionInput;
  /** The platform database; created (owned by the owner role) when missing. */
  database: string;
  roles: PlatformRoles;
  passwords: RolePasswords;
  /** The schema the platform's objects live in. Default "public". */
  schema?: string;
  /** Connection limit of the application role (the backend pools' sum, plus headroom). Default -1 (none). */
  appConnectionLimit?: number;
}

export interface RolesReport {
  createdRoles: string[];
  updatedRoles: string[];
  createdDatabase: boolean;
  /** Ownership of an existing database that was moved to the owner role. */
  adoptedDatabase: boolean;
}

/** The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802/7677 with PostgreSQL's format). */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password.normalize("NFKC"), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

function ident(name: string, what: string): string {
  if (!IDENT.test(name)) throw new Error(`${what} "${name}" is not a plain lower-case SQL identifier`);
  return `"${name}"`;
}

function lit(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function checkInput(input: EnsureRolesInput): void {
  const names = [input.roles.owner, input.roles.app, input.roles.readonly];
  if (new Set(names).size !== names.length) throw new Error(`the owner, app and read-only roles need distinct names (got ${names.join(", ")})`);
  for (const [k, v] of Object.entries(input.passwords)) {
    if (!v) throw new Error(`no password for the ${k} role`);
  }
}

/** Creates or updates the three roles and the platform database. Idempotent. */
export async function ensureRoles(input: EnsureRolesInput): Promise<RolesReport> {
  checkInput(input);
  const report: RolesReport = { createdRoles: [], updatedRoles: [], createdDatabase: false, adoptedDatabase: false };
  const admin = await connect(input.admin, "roles");
  try {
    const attrs: Record<keyof PlatformRoles, string> = {
      owner: "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS",
      app: `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT ${input.appConnectionLimit ?? -1}`,
      readonly: "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS",
    };
    for (const key of ["owner", "app", "readonly"] as const) {
      const name = input.roles[key];
      const exists = (await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [name])).rowCount === 1;
      const verb = exists ? "ALTER" : "CREATE";
      await admin.query(`${verb} ROLE ${ident(name, "role")} WITH ${attrs[key]} PASSWORD ${lit(scramVerifier(input.passwords[key]))}`);
      (exists ? report.updatedRoles : report.createdRoles).push(name);
    }
    // A managed service's admin is no superuser: it must be a member of the owner role to hand it
    // the database and to set the owner's default privileges.
    const isSuper = (await admin.query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).rows[0]?.rolsuper === true;
    if (!isSuper) await admin.query(`GRANT ${ident(input.roles.owner, "role")} TO CURRENT_USER`);
    await admin.query(`ALTER ROLE ${ident(input.roles.readonly, "role")} SET default_transaction_read_only = on`);

    const db = await admin.query<{ owner: string }>(
      "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1",
      [input.database],
    );
    if (db.rowCount === 0) {
      await admin.query(`CREATE DATABASE ${ident(input.database, "database")} OWNER ${ident(input.roles.owner, "role")} ENCODING 'UTF8'`);
      report.createdDatabase = true;
    } else if (db.rows[0].owner !== input.roles.owner) {
      await admin.query(`ALTER DATABASE ${ident(input.database, "database")} OWNER TO ${ident(input.roles.owner, "role")}`);
      report.adoptedDatabase = true;
    }
    const d = ident(input.database, "database");
    await admin.query(`REVOKE ALL ON DATABASE ${d} FROM PUBLIC`);
    await admin.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${d} TO ${ident(input.roles.app, "role")}, ${ident(input.roles.readonly, "role")}`);
  } finally {
    await admin.end().catch(() => undefined);
  }
  return report;
}

export interface GrantsInput {
  /** An administrative connection to the platform database itself. */
  admin: ConnectionInput;
  roles: PlatformRoles;
  schema?: string;
  /** Tables nobody but the owner writes (the migration history), schema-qualified. */
  ownerOnlyTables?: string[];
}

/** The statements that give the app and read-only roles their privileges (exported for tests and previews). */
export function grantStatements(roles: PlatformRoles, schema = "public", ownerOnlyTables: string[] = []): string[] {
  const s = ident(schema, "schema");
  const owner = ident(roles.owner, "role");
  const app = ident(roles.app, "role");
  const ro = ident(roles.readonly, "role");
  const stmts = [
    `REVOKE CREATE ON SCHEMA ${s} FROM PUBLIC`,
    `GRANT USAGE ON SCHEMA ${s} TO ${app}, ${ro}`,
    // What exists now …
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${app}`,
    `GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA ${s} TO ${app}`,
    `GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${s} TO ${app}`,
    `GRANT SELECT ON ALL TABLES IN SCHEMA ${s} TO ${ro}`,
    `GRANT SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO ${ro}`,
    // … and what the owner's later migrations create.
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${app}`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${s} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO ${app}`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${s} GRANT EXECUTE ON FUNCTIONS TO ${app}`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${s} GRANT SELECT ON TABLES TO ${ro}`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${s} GRANT SELECT ON SEQUENCES TO ${ro}`,
  ];
  for (const t of ownerOnlyTables) {
    const [ts, tn] = t.split(".");
    stmts.push(`DO $$ BEGIN IF to_regclass(${lit(t)}) IS NOT NULL THEN REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ${ident(ts, "schema")}.${ident(tn, "table")} FROM ${app}; END IF; END $$`);
  }
  return stmts;
}

/** Grants on existing objects and default privileges, in one transaction. Idempotent. */
export async function applyGrants(input: GrantsInput): Promise<{ statements: number }> {
  const stmts = grantStatements(input.roles, input.schema ?? "public", input.ownerOnlyTables ?? []);
  const admin = await connect(input.admin, "grants");
  try {
    await inTransaction(admin, async () => {
      for (const sql of stmts) await admin.query(sql);
    });
  } finally {
    await admin.end().catch(() => undefined);
  }
  return { statements: stmts.length };
}

export interface DropRolesInput {
  admin: ConnectionInput;
  database: string;
  roles: PlatformRoles;
  /** Drop the database too (its data is gone). */
  dropDatabase: boolean;
}

/** Dev stacks' delete: the database (if asked) and the three roles. Never called on protected stacks. */
export async function dropRoles(input: DropRolesInput): Promise<void> {
  const admin = await connect(input.admin, "roles");
  try {
    if (input.dropDatabase) await admin.query(`DROP DATABASE IF EXISTS ${ident(input.database, "database")} WITH (FORCE)`);
    for (const name of [input.roles.app, input.roles.readonly, input.roles.owner]) {
      const exists = (await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [name])).rowCount === 1;
      if (!exists) continue;
      // Objects in other databases would block DROP ROLE; then the role stays and the error says why.
      await admin.query(`DROP ROLE ${ident(name, "role")}`);
    }
  } finally {
    await admin.end().catch(() => undefined);
  }
}

async function inTransaction(c: Client, fn: () => Promise<void>): Promise<void> {
  await c.query("BEGIN");
  try {
    await fn();
    await c.query("COMMIT");
  } catch (err) {
    await c.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}
