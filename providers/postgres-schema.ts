// `PostgresSchema`: the migrations of sql/migrations as a Pulumi resource. A thin dynamic provider
// over engines/postgres (see schema-resource.ts for the logic): `pulumi preview --diff` lists the
// migrations a merge adds, fails on an edited applied file or a blocked lint finding, and never
// replaces the schema.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { MigrationRef, MigrationSettingsInput } from "../engines/postgres";
import type { SchemaConnection, SchemaInputs, SchemaOutputs } from "../engines/postgres/schema-resource";
import { DirectoryMigrationSource, migrationRefs } from "../engines/postgres/source";
import { NexusDynamicResource } from "./resource";
import { hasUnknown, loadEngine, projectRoot } from "./runtime";

type SchemaEngine = typeof import("../engines/postgres/schema-resource");

/** Loaded at call time in the provider's process: the methods capture no driver and no engine code. */
function schemaEngine(): SchemaEngine {
  return loadEngine<SchemaEngine>("engines/postgres/schema-resource");
}

/** The provider: every method delegates to the engine. */
export const postgresSchemaProvider: pulumi.dynamic.ResourceProvider<SchemaInputs, SchemaOutputs> = {
  async check(olds, news) {
    const engine = schemaEngine();
    const { inputs, failures } = engine.checkSchemaInputs(news as unknown as Record<string, unknown>, hasUnknown);
    // Drift goes into an input, where `pulumi preview --diff` shows it.
    if (failures.length === 0) inputs.liveDrift = await engine.previewDrift(olds, inputs as unknown as SchemaInputs, hasUnknown);
    return { inputs: inputs as unknown as SchemaInputs, failures };
  },

  async diff(_id, olds, news) {
    const d = await schemaEngine().diffSchema(projectRoot(), olds, news, hasUnknown);
    // Nothing about a schema is ever replaced: a replace would drop and rebuild a database.
    return { changes: d.changes, replaces: [], deleteBeforeReplace: false };
  },

  async create(inputs) {
    return schemaEngine().applySchema(projectRoot(), inputs);
  },

  async update(_id, olds, news) {
    const { outs } = await schemaEngine().applySchema(projectRoot(), news, olds.applied ?? []);
    return { outs };
  },

  async delete(_id, olds) {
    await schemaEngine().deleteSchema(projectRoot(), olds);
  },
};

/** Arguments of `PostgresSchema`. */
export interface PostgresSchemaArgs {
  /** The database to migrate: a URL or host/port/database/user/password. Always stored as a secret. Required. */
  connection: pulumi.Input<SchemaConnection>;
  /** The migration files, relative to the project root. Default "sql/migrations". */
  migrationsDir?: pulumi.Input<string>;
  /** Every migration (version, name, checksum). Default: read from `migrationsDir` when the program runs. */
  migrations?: pulumi.Input<MigrationRef[]>;
  /** Migration settings of the stack (baselineVersion, targetVersion, protected, …). Default: the engine's defaults. */
  settings?: pulumi.Input<MigrationSettingsInput>;
  /** Recorded in the history table's applied_by. Default: the database user. */
  appliedBy?: pulumi.Input<string>;
}

/** Reads the migration list from the project when the program runs (the preview shows its diff). */
// (The program may import the engine directly: only the provider's methods are serialized.)
export function migrationList(dir = "sql/migrations"): MigrationRef[] {
  return migrationRefs(new DirectoryMigrationSource(path.resolve(projectRoot(), dir)).readSync());
}

export class PostgresSchema extends NexusDynamicResource {
  /** Versions in the history table after the last update. */
  declare readonly appliedVersions: pulumi.Output<number[]>;
  /** The highest applied version, null for none. */
  declare readonly currentVersion: pulumi.Output<number | null>;
  /** Rows the last update found applied or removed outside the stack, one message each. */
  declare readonly driftAtLastUpdate: pulumi.Output<string[]>;

  constructor(name: string, args: PostgresSchemaArgs, opts?: pulumi.CustomResourceOptions) {
    const migrationsDir = args.migrationsDir ?? "sql/migrations";
    super(
      // Registered as `pulumi-nodejs:dynamic/nexus:PostgresSchema` before the one convention.
      { type: "PostgresSchema", credentials: ["connection"], formerTypes: ["pulumi-nodejs:dynamic/nexus:PostgresSchema"] },
      { module: "providers/postgres-schema.ts", name: "postgresSchemaProvider" },
      name,
      {
        connection: args.connection,
        migrationsDir,
        migrations: args.migrations ?? pulumi.output(migrationsDir).apply((d) => migrationList(d)),
        settings: args.settings ?? {},
        appliedBy: args.appliedBy,
        appliedVersions: undefined,
        currentVersion: undefined,
        driftAtLastUpdate: undefined,
      },
      // The connection is an output only on dropOnDelete stacks (delete needs it), and then a secret.
      opts,
    );
  }
}
