// Roles, grants and seed data of the platform database as dynamic resources over
// engines/postgres/roles.ts and seed.ts:
//   PostgresRoles     — the owner, app and read-only roles and the database (before migrations);
//   PostgresGrants    — privileges on what the migrations created, re-applied when the schema moves;
//   PostgresSeedData  — sql/seeds, reloaded when a seed file changes (dev and test stacks only).
// None of them is ever replaced, and none drops anything on delete unless the stack allows it.
import * as pulumi from "@pulumi/pulumi";
import type { SchemaConnection } from "../engines/postgres/schema-resource";
import type { PlatformRoles, RolePasswords } from "../engines/postgres/roles";
import { NexusDynamicResource } from "./resource";
import { loadEngine, outputsOf, projectRoot, updateWhenChanged } from "./runtime";

type RolesEngine = typeof import("../engines/postgres/roles");
type SeedEngine = typeof import("../engines/postgres/seed");
type SchemaEngine = typeof import("../engines/postgres/schema-resource");

function pgConfig(c: SchemaConnection) {
  return loadEngine<SchemaEngine>("engines/postgres/schema-resource").clientConfig(c);
}

/**
 * The first resource to connect: a docker stack's server is created in the same `up` and not waited
 * for until healthy, so the wait for it to accept connections is here (as for the schema).
 */
async function untilAccepting(admin: SchemaConnection): Promise<void> {
  const { waitUntilAccepting } = loadEngine<typeof import("../engines/postgres/migrator")>("engines/postgres/migrator");
  await waitUntilAccepting(pgConfig(admin), loadEngine<SchemaEngine>("engines/postgres/schema-resource").SERVER_START_WAIT_MS);
}

// --- PostgresRoles ----------------------------------------------------------------------------------

interface RolesInputs {
  admin: SchemaConnection;
  database: string;
  roles: PlatformRoles;
  passwords: RolePasswords;
  appConnectionLimit: number;
  /** Drop the roles and the database on delete (ephemeral dev stacks only). */
  dropOnDelete: boolean;
}

const ROLE_KEYS = ["database", "roles", "appConnectionLimit", "dropOnDelete"];
const ROLE_CREDENTIALS = ["admin", "passwords"];
/** delete drops with the admin connection: only then does it stay in the outputs (secret). */
const rolesKept = (i: RolesInputs) => (i.dropOnDelete ? ["admin"] : []);

export const postgresRolesProvider: pulumi.dynamic.ResourceProvider<RolesInputs> = {
  async diff(_id, olds, news) {
    return updateWhenChanged(olds, news, ROLE_KEYS, ROLE_CREDENTIALS);
  },
  async create(inputs) {
    const e = loadEngine<RolesEngine>("engines/postgres/roles");
    await untilAccepting(inputs.admin);
    const report = await e.ensureRoles({ ...inputs, admin: pgConfig(inputs.admin) });
    return { id: `roles/${inputs.database}`, outs: outputsOf(inputs, ROLE_CREDENTIALS, { createdDatabase: report.createdDatabase }, rolesKept(inputs)) };
  },
  async update(_id, olds, news) {
    const e = loadEngine<RolesEngine>("engines/postgres/roles");
    await untilAccepting(news.admin);
    const report = await e.ensureRoles({ ...news, admin: pgConfig(news.admin) });
    // Whether this resource created the database stays true once it did.
    const createdDatabase = Boolean((olds as { createdDatabase?: boolean }).createdDatabase) || report.createdDatabase;
    return { outs: outputsOf(news, ROLE_CREDENTIALS, { createdDatabase }, rolesKept(news)) };
  },
  async delete(_id, olds) {
    if (!olds.dropOnDelete) return; // the roles and the database stay: data is never lost by a destroy
    if (!olds.admin) throw new Error("dropOnDelete is set but the state holds no admin connection; run `pulumi up` once before destroying, or drop the roles by hand");
    const e = loadEngine<RolesEngine>("engines/postgres/roles");
    await e.dropRoles({ admin: pgConfig(olds.admin), database: olds.database, roles: olds.roles, dropDatabase: true });
  },
};

export interface PostgresRolesArgs {
  /** Administrative connection to a maintenance database (secret). Required. */
  admin: pulumi.Input<SchemaConnection>;
  /** The platform database. Required. */
  database: pulumi.Input<string>;
  /** Role names. Required. */
  roles: pulumi.Input<PlatformRoles>;
  /** Role passwords (secret). Required. */
  passwords: pulumi.Input<RolePasswords>;
  /** CONNECTION LIMIT of the app role. Default -1 (none). */
  appConnectionLimit?: pulumi.Input<number>;
  /** Drop roles and database on delete. Default false; ephemeral dev stacks only. */
  dropOnDelete?: pulumi.Input<boolean>;
}

export class PostgresRoles extends NexusDynamicResource {
  declare readonly createdDatabase: pulumi.Output<boolean>;
  constructor(name: string, args: PostgresRolesArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      { type: "PostgresRoles", credentials: ROLE_CREDENTIALS },
      { module: "providers/postgres-roles.ts", name: "postgresRolesProvider" },
      name,
      {
        admin: args.admin,
        database: args.database,
        roles: args.roles,
        passwords: args.passwords,
        appConnectionLimit: args.appConnectionLimit ?? -1,
        dropOnDelete: args.dropOnDelete ?? false,
        createdDatabase: undefined,
      },
      opts,
    );
  }
}

// --- PostgresGrants ---------------------------------------------------------------------------------

interface GrantsInputs {
  admin: SchemaConnection;
  roles: PlatformRoles;
  schema: string;
  ownerOnlyTables: string[];
  /** The schema version the grants were applied at: a new migration re-applies them. */
  schemaVersion: number | null;
}

const GRANT_KEYS = ["roles", "schema", "ownerOnlyTables", "schemaVersion"];
const GRANT_CREDENTIALS = ["admin"];

export const postgresGrantsProvider: pulumi.dynamic.ResourceProvider<GrantsInputs> = {
  async diff(_id, olds, news) {
    return updateWhenChanged(olds, news, GRANT_KEYS, GRANT_CREDENTIALS);
  },
  async create(inputs) {
    const e = loadEngine<RolesEngine>("engines/postgres/roles");
    const r = await e.applyGrants({ ...inputs, admin: pgConfig(inputs.admin) });
    return { id: `grants/${inputs.schema}`, outs: outputsOf(inputs, GRANT_CREDENTIALS, { statements: r.statements }) };
  },
  async update(_id, _olds, news) {
    const e = loadEngine<RolesEngine>("engines/postgres/roles");
    const r = await e.applyGrants({ ...news, admin: pgConfig(news.admin) });
    return { outs: outputsOf(news, GRANT_CREDENTIALS, { statements: r.statements }) };
  },
  // Revoking on delete would break the running backend; privileges go with the roles.
  async delete() {},
};

export interface PostgresGrantsArgs {
  /** Administrative connection to the platform database (secret). Required. */
  admin: pulumi.Input<SchemaConnection>;
  roles: pulumi.Input<PlatformRoles>;
  /** Default "public". */
  schema?: pulumi.Input<string>;
  /** Tables only the owner writes. Default ["public.schema_migrations"]. */
  ownerOnlyTables?: pulumi.Input<string[]>;
  /** The migrations' current version (an output of PostgresSchema). Required. */
  schemaVersion: pulumi.Input<number | null>;
}

export class PostgresGrants extends NexusDynamicResource {
  declare readonly statements: pulumi.Output<number>;
  constructor(name: string, args: PostgresGrantsArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      { type: "PostgresGrants", credentials: GRANT_CREDENTIALS },
      { module: "providers/postgres-roles.ts", name: "postgresGrantsProvider" },
      name,
      {
        admin: args.admin,
        roles: args.roles,
        schema: args.schema ?? "public",
        ownerOnlyTables: args.ownerOnlyTables ?? ["public.schema_migrations"],
        schemaVersion: args.schemaVersion,
        statements: undefined,
      },
      opts,
    );
  }
}

// --- PostgresSeedData -------------------------------------------------------------------------------

interface SeedInputs {
  connection: SchemaConnection;
  seedsDir: string;
  /** name → sha256 of each seed file: a changed file reloads the seeds. */
  checksums: Record<string, string>;
}

const SEED_CREDENTIALS = ["connection"];

/** Loads every seed file (they are written to load again harmlessly); the outputs say which. */
async function loadSeedFiles(inputs: SeedInputs) {
  const path = require("node:path") as typeof import("node:path");
  const e = loadEngine<SeedEngine>("engines/postgres/seed");
  const seeds = e.listSeeds(path.resolve(projectRoot(), inputs.seedsDir));
  const r = await e.loadSeeds(pgConfig(inputs.connection), seeds);
  return outputsOf(inputs, SEED_CREDENTIALS, { loaded: r.loaded });
}

export const postgresSeedProvider: pulumi.dynamic.ResourceProvider<SeedInputs> = {
  async diff(_id, olds, news) {
    return updateWhenChanged(olds, news, ["seedsDir", "checksums"], SEED_CREDENTIALS);
  },
  async create(inputs) {
    return { id: `seeds/${inputs.seedsDir}`, outs: await loadSeedFiles(inputs) };
  },
  // As create: the seed files load again.
  async update(_id, _olds, news) {
    return { outs: await loadSeedFiles(news) };
  },
  // Seed rows are data: a delete leaves them (the database goes with an ephemeral stack's roles).
  async delete() {},
};

/** Seed file name → sha256, read when the program runs (so the preview shows a changed seed). */
export function seedChecksums(dir = "sql/seeds"): Record<string, string> {
  const path = require("node:path") as typeof import("node:path");
  const e = loadEngine<SeedEngine>("engines/postgres/seed");
  return Object.fromEntries(e.listSeeds(path.resolve(projectRoot(), dir)).map((s) => [s.name, s.checksum]));
}

export interface PostgresSeedDataArgs {
  /** The owner's connection to the platform database (secret). Required. */
  connection: pulumi.Input<SchemaConnection>;
  /** Default "sql/seeds". */
  seedsDir?: string;
}

export class PostgresSeedData extends NexusDynamicResource {
  declare readonly loaded: pulumi.Output<string[]>;
  constructor(name: string, args: PostgresSeedDataArgs, opts?: pulumi.CustomResourceOptions) {
    const seedsDir = args.seedsDir ?? "sql/seeds";
    super(
      { type: "PostgresSeedData", credentials: SEED_CREDENTIALS },
      { module: "providers/postgres-roles.ts", name: "postgresSeedProvider" },
      name,
      { connection: args.connection, seedsDir, checksums: seedChecksums(seedsDir), loaded: undefined },
      opts,
    );
  }
}
