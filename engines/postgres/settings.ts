// The migration settings of one stack. The stack config schema includes `migrationSettingsSchema`
// under its PostgreSQL section; the engine, the provider and the CLI all take the parsed result.
import { z } from "zod";

/** A migration named as its file is, without `.sql`: `003_blockchain`. */
const migrationName = z
  .string()
  .regex(/^\d+_[A-Za-z0-9][A-Za-z0-9_-]*$/, "a migration name like 003_blockchain (the file name without .sql)");

const version = z.number().int().nonnegative();

export const migrationSettingsSchema = z
  .strictObject({
    baselineVersion: version.optional().meta({ description: "Adopt a database whose schema was applied by hand: on a database without migration history, versions up to this one are recorded as applied without running them. Ignored once the history table has rows. Default: none (every migration runs)." }),
    targetVersion: version.optional().meta({ description: "Stop at this version. Below the current version, the `.down.sql` files of the versions above it run in reverse order. Default: none (apply every migration)." }),
    outOfOrder: z.boolean().default(false).meta({ description: "Apply a new migration whose version is below the latest applied one (e.g. after merging a branch) instead of failing. Default: false." }),
    repairChecksums: z.array(migrationName).default([]).meta({ description: "Migrations (by name) whose edited file is accepted: the history table's checksum is updated to the file's, nothing is run. For harmless edits only (comments, formatting). Default: []." }),
    lockTimeoutMs: z.number().int().positive().default(60_000).meta({ description: "How long to wait for another applier's lock before failing, in milliseconds. Default: 60000." }),
    statementLockTimeoutMs: z.number().int().positive().optional().meta({ description: "lock_timeout for the migrations' own statements, in milliseconds: a DDL statement queued behind a long transaction blocks every query on that table while it waits, so on a busy database it is better to fail (and retry later) than to wait. Default: none (wait as long as it takes)." }),
    allowDestructive: z.array(migrationName).default([]).meta({ description: "Migrations (by name) allowed to contain statements the linter flags (DROP, ALTER COLUMN TYPE, blocking CREATE INDEX, …) in a protected stack. Default: []." }),
    protected: z.boolean().default(false).meta({ description: "A production stack: a lint finding in a pending migration blocks `preview` and `up` unless the migration is listed in `allowDestructive`. Default: false." }),
    dropOnDelete: z.boolean().default(false).meta({ description: "When the resource is deleted, run every `.down.sql` down to version 0 and drop the history table. Dev stacks only; refused together with `protected`. Default: false (drop nothing)." }),
    historyTable: z
      .string()
      .regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, "schema.table in lower case, e.g. public.schema_migrations")
      .default("public.schema_migrations").meta({ description: "The history table, schema-qualified. Default: \"public.schema_migrations\"." }),
  })
  .superRefine((s, ctx) => {
    if (s.dropOnDelete && s.protected) {
      ctx.addIssue({ code: "custom", path: ["dropOnDelete"], message: "dropOnDelete cannot be set on a protected stack" });
    }
  });

/** The settings as written in stack config (every field optional). */
export type MigrationSettingsInput = z.input<typeof migrationSettingsSchema>;
/** The settings with every default filled in. */
export type MigrationSettings = z.output<typeof migrationSettingsSchema>;

/** Parses settings, listing every problem by its path. */
export function parseMigrationSettings(input: unknown = {}, where = "settings"): MigrationSettings {
  const r = migrationSettingsSchema.safeParse(input ?? {});
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `${[where, ...i.path.map(String)].join(".")}: ${i.message}`);
  throw new Error(`invalid PostgreSQL migration settings:\n  ${lines.join("\n  ")}`);
}
