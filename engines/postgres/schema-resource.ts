// The logic of the `PostgresSchema` dynamic resource, kept here (no Pulumi import) so tests call it
// directly and the provider stays a thin adapter: check = normalize inputs, diff = plan against the
// live history and the recorded state, create/update = migrate, delete = drop only if told to.
import * as path from "node:path";
import type { ClientConfig } from "pg";
import { canonicalJson } from "../shared/canonical-json";
import { isLoopback } from "../shared/net";
import { MigrationError } from "./errors";
import { migrate, planAgainstDatabase, readDatabase, revertAll, waitUntilAccepting, type ConnectionInput, type DatabaseView } from "./migrator";
import { driftBetween, planMigrations, type Drift, type MigrationPlan } from "./plan";
import { migrationSettingsSchema, parseMigrationSettings, type MigrationSettings } from "./settings";
import { DirectoryMigrationSource, type Migration, type MigrationRef, type MigrationSource } from "./source";

/** Where the database is: a URL, or separate fields (how the stack's role passwords arrive). */
export type SchemaConnection =
  | string
  | {
      host: string;
      port?: number;
      database: string;
      user: string;
      password?: string;
      /** libpq sslmode. Default "disable" for loopback hosts, else "verify-full". */
      sslMode?: "disable" | "require" | "verify-ca" | "verify-full";
      /** PEM of the CA that signed the server certificate. Default: the system's CAs. */
      caPem?: string;
    };

/** The resource's inputs as the provider receives them (after `check`). */
export interface SchemaInputs {
  connection: SchemaConnection;
  /** Every migration file: version, name, checksum (the program computes it from the directory). */
  migrations: MigrationRef[];
  /** The migration files, relative to the project root. */
  migrationsDir: string;
  settings: MigrationSettings;
  /** Recorded in the history table's applied_by. Default: the database user. */
  appliedBy?: string;
}

/** The resource's outputs: what is applied. No secret, except `connection` on dropOnDelete stacks (delete needs it; the resource marks it secret). */
export interface SchemaOutputs {
  appliedVersions: number[];
  currentVersion: number | null;
  /** The applied migrations with their checksums, for the next diff's checksum and drift checks. */
  applied: MigrationRef[];
  migrationsDir: string;
  settings: MigrationSettings;
  /**
   * What the last update found changed outside the stack (rows applied or removed by someone else),
   * one message each; [] when nothing. Dynamic providers cannot log to the engine, so it is kept here.
   */
  driftAtLastUpdate: string[];
  connection?: SchemaConnection;
}

export interface SchemaCheckFailure {
  property: string;
  reason: string;
}

/**
 * Whether a value is not known yet (during a preview, an input that depends on a resource not
 * created yet). The caller knows how its runtime marks such values; the engine only asks.
 */
export type IsPending = (value: unknown) => boolean;
const nothingPending: IsPending = () => false;

/** `pg` client settings for a connection. */
export function clientConfig(c: SchemaConnection): ConnectionInput {
  if (typeof c === "string") return c;
  const loopback = isLoopback(c.host);
  const mode = c.sslMode ?? (loopback ? "disable" : "verify-full");
  const config: ClientConfig = { host: c.host, port: c.port ?? 5432, database: c.database, user: c.user, password: c.password };
  if (mode === "require") config.ssl = { rejectUnauthorized: false };
  else if (mode === "verify-ca") config.ssl = { rejectUnauthorized: true, ca: c.caPem, checkServerIdentity: () => undefined };
  else if (mode === "verify-full") config.ssl = { rejectUnauthorized: true, ca: c.caPem };
  return config;
}

/** The resource id: where the history lives, without credentials. */
export function schemaId(c: SchemaConnection, settings: MigrationSettings): string {
  if (typeof c === "string") {
    const u = new URL(c);
    return `${u.hostname}:${u.port || 5432}${u.pathname}#${settings.historyTable}`;
  }
  return `${c.host}:${c.port ?? 5432}/${c.database}#${settings.historyTable}`;
}

const REF = /^sha256:[0-9a-f]{64}$/;

/** `check`: fills the settings' defaults and lists every invalid input by its property path. */
export function checkSchemaInputs(news: Record<string, unknown>, containsUnknown: IsPending = nothingPending): { inputs: Record<string, unknown>; failures: SchemaCheckFailure[] } {
  const failures: SchemaCheckFailure[] = [];
  const inputs: Record<string, unknown> = { ...news };
  if (news.connection === undefined || news.connection === null || news.connection === "") failures.push({ property: "connection", reason: "a connection (URL or host/database/user) is required" });
  if (typeof news.migrationsDir !== "string" && !containsUnknown(news.migrationsDir)) failures.push({ property: "migrationsDir", reason: "the migrations directory is required" });
  if (!containsUnknown(news.settings)) {
    const r = migrationSettingsSchema.safeParse(news.settings ?? {});
    if (r.success) inputs.settings = r.data;
    else for (const i of r.error.issues) failures.push({ property: ["settings", ...i.path.map(String)].join("."), reason: i.message });
  }
  if (!containsUnknown(news.migrations)) {
    const list = news.migrations;
    if (!Array.isArray(list)) failures.push({ property: "migrations", reason: "a list of { version, name, checksum }" });
    else {
      const seen = new Set<number>();
      list.forEach((m: Partial<MigrationRef>, i) => {
        if (!Number.isInteger(m?.version) || (m.version as number) < 0) failures.push({ property: `migrations[${i}].version`, reason: "a whole number" });
        else if (seen.has(m.version!)) failures.push({ property: `migrations[${i}].version`, reason: `version ${m.version} appears twice` });
        else seen.add(m.version!);
        if (typeof m?.name !== "string" || !/^\d+_[A-Za-z0-9][A-Za-z0-9_-]*$/.test(m.name)) failures.push({ property: `migrations[${i}].name`, reason: "a migration name like 003_blockchain" });
        if (typeof m?.checksum !== "string" || !REF.test(m.checksum)) failures.push({ property: `migrations[${i}].checksum`, reason: "sha256:<64 hex digits>" });
      });
      if (failures.length === 0) inputs.migrations = [...(list as MigrationRef[])].sort((a, b) => a.version - b.version);
    }
  }
  return { inputs, failures };
}

/**
 * The files behind the input list, read from the project. A file that differs from the list
 * changed between the program's run and the provider's: refuse rather than apply something else.
 * A file the list does not name is refused too (`create`/`update`: it appeared while Pulumi ran),
 * or, with `unlisted: "ignore"`, left out: `diff` plans the list it is given, and a refresh diffs
 * the inputs of the last update — which never name a migration added since.
 */
export function schemaSource(root: string, inputs: Pick<SchemaInputs, "migrations" | "migrationsDir">, unlisted: "refuse" | "ignore" = "refuse"): MigrationSource {
  const dir = new DirectoryMigrationSource(path.resolve(root, inputs.migrationsDir));
  return {
    location: dir.location,
    async getMigrations(): Promise<Migration[]> {
      const files = await dir.getMigrations();
      const byVersion = new Map(files.map((m) => [m.version, m]));
      const problems: string[] = [];
      for (const ref of inputs.migrations) {
        const m = byVersion.get(ref.version);
        if (!m) problems.push(`${dir.location}: ${ref.name}.sql is in the resource's migration list but not on disk`);
        else if (m.name !== ref.name || m.checksum !== ref.checksum) problems.push(`${m.file} changed while Pulumi ran (the program read ${ref.name} ${ref.checksum}, the file is now ${m.checksum}); run again`);
      }
      const listed = new Set(inputs.migrations.map((m) => m.version));
      if (unlisted === "refuse") for (const m of files) if (!listed.has(m.version)) problems.push(`${m.file} appeared while Pulumi ran; run again`);
      if (problems.length > 0) throw new MigrationError("source", problems.join("\n"), { problems });
      return files.filter((m) => listed.has(m.version));
    },
  };
}

/**
 * What `check` puts into the `liveDrift` input at preview time, so that `pulumi preview --diff`
 * shows it (dynamic providers cannot `read`, and the SDK drops a diff's details): the live history
 * table against the migrations the previous update recorded (its list, up to its target).
 * Empty when there was no previous update or the database cannot be read.
 */
export async function previewDrift(olds: Partial<SchemaInputs> | undefined, news: SchemaInputs, containsUnknown: IsPending = nothingPending): Promise<string[]> {
  if (!olds?.migrations || containsUnknown(news.connection) || containsUnknown(olds.migrations)) return [];
  const previous = parseMigrationSettings(olds.settings ?? {});
  const recorded = olds.migrations.filter((m) => previous.targetVersion === undefined || m.version <= previous.targetVersion);
  const settings = parseMigrationSettings(news.settings ?? {});
  const view = await readDatabase(clientConfig(news.connection), settings);
  keepForDiff(news.connection, settings.historyTable, view);
  if (!view.history || view.history.length === 0) return [];
  return driftBetween(view.history, recorded).map((d) => d.message);
}

/**
 * The history `check` just read, for the `diff` the engine asks next of the same resource in the
 * same process: one read of the database per preview step instead of two. Taken once, and only
 * within a few seconds (a diff without a check before it reads again).
 */
const checkedViews = new Map<string, { view: DatabaseView; at: number }>();
const CHECKED_VIEW_MS = 5_000;

function viewKey(connection: SchemaConnection, historyTable: string): string {
  return canonicalJson([connection, historyTable]);
}

function keepForDiff(connection: SchemaConnection, historyTable: string, view: DatabaseView): void {
  if (!view.history) return; // an unreachable database is asked again
  const now = Date.now();
  for (const [k, v] of checkedViews) if (now - v.at > CHECKED_VIEW_MS) checkedViews.delete(k);
  checkedViews.set(viewKey(connection, historyTable), { view, at: now });
}

function takeCheckedView(connection: SchemaConnection, historyTable: string): DatabaseView | undefined {
  const key = viewKey(connection, historyTable);
  const kept = checkedViews.get(key);
  checkedViews.delete(key);
  return kept && Date.now() - kept.at <= CHECKED_VIEW_MS ? kept.view : undefined;
}

export interface SchemaDiff {
  /** True when `update` has work: migrations to run, rows to baseline or repair, drift to record, settings to store. */
  changes: boolean;
  plan: MigrationPlan;
  /** Names of the migrations an update would apply (up) or revert (down), in order. */
  pending: string[];
  drift: Drift[];
  /** Why the live database was not consulted (unknown during preview, or unreachable). */
  notConsulted?: string;
}

/**
 * `diff`: the plan against the live history when the database answers, else against the recorded
 * outputs. A refused plan (changed checksum, blocked lint, missing file…) throws the engine's
 * message, which fails the preview. Never a replace.
 */
export async function diffSchema(root: string, olds: Partial<SchemaOutputs>, news: SchemaInputs, containsUnknown: IsPending = nothingPending): Promise<SchemaDiff> {
  const settings = parseMigrationSettings(news.settings);
  const source = schemaSource(root, news, "ignore");
  const recorded = olds.applied ?? [];
  let plan: MigrationPlan;
  let notConsulted: string | undefined;
  if (containsUnknown(news.connection)) {
    notConsulted = "the connection is not known until apply";
    plan = await planMigrations({ migrations: await source.getMigrations(), recorded, settings, location: source.location });
  } else {
    const view = takeCheckedView(news.connection, settings.historyTable);
    const r = await planAgainstDatabase({ connection: clientConfig(news.connection), source, settings, recorded, view });
    plan = r.plan;
    notConsulted = r.unreachable;
  }
  if (plan.problems.length > 0) throw new MigrationError("validation", plan.problems.join("\n"), { problems: plan.problems });
  const pending = [...plan.toRevert, ...plan.toApply].map((m) => m.name);
  const settingsChanged = canonicalJson(olds.settings) !== canonicalJson(settings) || olds.migrationsDir !== news.migrationsDir;
  const connectionKept = settings.dropOnDelete && canonicalJson(olds.connection) !== canonicalJson(news.connection);
  const changes =
    pending.length > 0 || plan.toBaseline.length > 0 || plan.toRepair.length > 0 || plan.drift.length > 0 || settingsChanged || connectionKept;
  return { changes, plan, pending, drift: plan.drift, notConsulted };
}

/** How long `create`/`update` wait for a server that is still starting before they migrate. */
export const SERVER_START_WAIT_MS = 60_000;

/**
 * `create` and `update`: migrate, and return the outputs. Throws the engine's error on failure.
 * `recorded` (update only: the old outputs' applied list) is compared with the live history first.
 */
export async function applySchema(root: string, news: SchemaInputs, recorded?: MigrationRef[]): Promise<{ id: string; outs: SchemaOutputs }> {
  const settings = parseMigrationSettings(news.settings);
  // A container this `up` has just started again (found stopped by a refresh) may still be recovering.
  await waitUntilAccepting(clientConfig(news.connection), SERVER_START_WAIT_MS);
  let driftAtLastUpdate: string[] = [];
  if (recorded) {
    const before = await readDatabase(clientConfig(news.connection), settings);
    if (before.history) driftAtLastUpdate = driftBetween(before.history, recorded).map((d) => d.message);
  }
  const result = await migrate({
    connection: clientConfig(news.connection),
    source: schemaSource(root, news),
    settings,
    appliedBy: news.appliedBy,
  });
  if (result.error) {
    const ran = [...result.applied, ...result.reverted].map((m) => m.name);
    throw new Error(`${result.error.message}${ran.length > 0 ? `\n(before the failure, these ran and stay: ${ran.join(", ")})` : ""}`);
  }
  const view = await readDatabase(clientConfig(news.connection), settings);
  const applied = (view.history ?? []).map(({ version, name, checksum }) => ({ version, name, checksum }));
  return {
    id: schemaId(news.connection, settings),
    outs: {
      appliedVersions: applied.map((m) => m.version),
      currentVersion: applied.length > 0 ? applied[applied.length - 1].version : null,
      applied,
      migrationsDir: news.migrationsDir,
      settings,
      driftAtLastUpdate,
      ...(settings.dropOnDelete ? { connection: news.connection } : {}),
    },
  };
}

/**
 * `delete`: nothing, unless the stack set dropOnDelete (dev only): then every down file runs and
 * the history table is dropped.
 */
export async function deleteSchema(root: string, olds: SchemaOutputs): Promise<"kept" | "dropped"> {
  const settings = parseMigrationSettings(olds.settings);
  if (!settings.dropOnDelete) return "kept";
  if (!olds.connection) throw new Error("dropOnDelete is set but the state holds no connection; run `pulumi up` once before destroying, or drop the database by hand");
  const source = new DirectoryMigrationSource(path.resolve(root, olds.migrationsDir));
  const result = await revertAll({ connection: clientConfig(olds.connection), source, settings });
  if (result.error) throw new Error(result.error.message);
  return "dropped";
}
