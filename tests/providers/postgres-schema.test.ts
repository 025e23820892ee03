// The `PostgresSchema` dynamic provider called as Pulumi calls it — check, then diff/create/update/
// delete with the old outputs — against a real database; after closure serialization; and the
// resource's registered inputs under Pulumi's mock runtime.
import { readFileSync, writeFileSync } from "node:fs";
import Module from "node:module";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checksumOf, DirectoryMigrationSource, migrate, migrationRefs } from "../../engines/postgres";
import type { SchemaInputs } from "../../engines/postgres/schema-resource";
import { UNKNOWN } from "../../providers/runtime";
import { postgresSchemaProvider as provider } from "../../providers/postgres-schema";
import { freshDatabase, type FreshDatabase } from "../helpers/pg";
import { historyRows, ROOT, scratchDir, tableNames } from "../engines/postgres/support";
import { installMocks } from "../helpers/mocks";

let db: FreshDatabase;
let scratch: ReturnType<typeof scratchDir>;
beforeEach(async () => {
  db = await freshDatabase("pgprov");
  scratch = scratchDir("basic");
});
afterEach(async () => {
  scratch.cleanup();
  await db.drop();
});

/** Raw inputs as the program would send them (the migrations dir relative to the project root). */
async function rawInputs(settings: object = {}): Promise<Record<string, unknown>> {
  return {
    connection: db.url,
    migrationsDir: path.relative(ROOT, scratch.dir),
    migrations: migrationRefs(await new DirectoryMigrationSource(scratch.dir).getMigrations()),
    settings,
  };
}

/** `check` as the engine runs it before diff/create/update. */
async function checked(olds: object, news: Record<string, unknown>): Promise<SchemaInputs> {
  const r = await provider.check!(olds as SchemaInputs, news as unknown as SchemaInputs);
  expect(r.failures).toEqual([]);
  return r.inputs!;
}

describe("PostgresSchema provider", () => {
  it("create applies everything; an unchanged diff is no change; a new migration is an update that applies it alone", async () => {
    const inputs = await checked({}, await rawInputs());
    expect(inputs.settings).toMatchObject({ lockTimeoutMs: 60_000, protected: false });
    const created = await provider.create!(inputs);
    expect(created.id).toBe(`127.0.0.1:55432/${db.name}#public.schema_migrations`.replace("55432", new URL(db.url).port));
    const outs = created.outs!;
    expect(outs.appliedVersions).toEqual([1, 2, 3, 4]);
    expect(outs.currentVersion).toBe(4);
    expect(JSON.stringify(outs)).not.toContain("postgres://"); // no connection in the outputs

    // A second create (e.g. after a lost state) is idempotent.
    expect((await provider.create!(inputs)).outs!.appliedVersions).toEqual([1, 2, 3, 4]);

    const same = await provider.diff!(created.id, outs, await checked(inputs, await rawInputs()));
    expect(same).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });

    scratch.write("005_reports.sql", "CREATE TABLE reports (id bigserial PRIMARY KEY);\n");
    const news = await checked(inputs, await rawInputs());
    expect(news.migrations.map((m) => m.name)).toContain("005_reports"); // what preview --diff shows
    const diff = await provider.diff!(created.id, outs, news);
    expect(diff).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    const engine = await import("../../engines/postgres/schema-resource");
    expect((await engine.diffSchema(ROOT, outs, news)).pending).toEqual(["005_reports"]);

    const updated = await provider.update!(created.id, outs, news);
    expect(updated.outs!.appliedVersions).toEqual([1, 2, 3, 4, 5]);
    expect(await tableNames(db.url)).toContain("reports");
  });

  it("a refresh diffs the last update's inputs: a migration added since is no error and no change; an update still refuses a file its list lacks", async () => {
    const inputs = await checked({}, await rawInputs());
    const { id, outs } = await provider.create!(inputs);
    scratch.write("005_reports.sql", "CREATE TABLE reports (id int);\n");
    // `pulumi refresh` (and `up --refresh`) call diff with the inputs of the last update.
    expect(await provider.diff!(id, outs!, inputs)).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
    // A file that appeared after the program read the list is not applied in its place.
    await expect(provider.update!(id, outs!, inputs)).rejects.toThrow("005_reports.sql appeared while Pulumi ran; run again");
    expect(await tableNames(db.url)).not.toContain("reports");
  });

  it("a changed applied file fails the diff with the engine's message, before anything runs", async () => {
    const inputs = await checked({}, await rawInputs());
    const { id, outs } = await provider.create!(inputs);
    const file = path.join(scratch.dir, "002_engines.sql");
    const before = readFileSync(file);
    writeFileSync(file, `${before}-- edited\n`);
    scratch.write("005_reports.sql", "CREATE TABLE reports (id int);\n");
    const news = await checked(inputs, await rawInputs());
    await expect(provider.diff!(id, outs!, news)).rejects.toThrow(
      `002_engines.sql was changed after it was applied: recorded checksum ${checksumOf(before)}, file now ${checksumOf(readFileSync(file))}`,
    );
    // Even with the database out of reach, the recorded checksums catch it.
    await expect(provider.diff!(id, outs!, { ...news, connection: "postgres://nobody@127.0.0.1:1/x" })).rejects.toThrow("002_engines.sql was changed after it was applied");
    await expect(provider.diff!(id, outs!, { ...news, connection: UNKNOWN })).rejects.toThrow("002_engines.sql was changed after it was applied");
    expect(await tableNames(db.url)).not.toContain("reports");
  });

  it("reports drift: a migration applied outside the stack makes an update that records it", async () => {
    const inputs = await checked({}, await rawInputs());
    const { id, outs } = await provider.create!(inputs);
    scratch.write("005_reports.sql", "CREATE TABLE reports (id int);\n");
    expect((await migrate({ connection: db.url, source: new DirectoryMigrationSource(scratch.dir) })).ok).toBe(true); // e.g. the CLI
    const news = await checked(inputs, await rawInputs());
    const engine = await import("../../engines/postgres/schema-resource");
    const d = await engine.diffSchema(ROOT, outs!, news);
    expect(d.pending).toEqual([]);
    expect(d.drift.map((x) => [x.kind, x.name])).toEqual([["applied-outside", "005_reports"]]);
    expect((await provider.diff!(id, outs!, news)).changes).toBe(true);
    const updated = await provider.update!(id, outs!, news);
    expect(updated.outs!.appliedVersions).toEqual([1, 2, 3, 4, 5]);
    expect(updated.outs!.driftAtLastUpdate).toEqual([expect.stringMatching(/^005_reports was applied outside this stack by postgres on /)]);
    expect((await engine.diffSchema(ROOT, updated.outs!, news)).changes).toBe(false);
  });

  it("a diff right after check plans on check's read of the history (one read per step); the next diff reads again", async () => {
    const inputs = await checked({}, await rawInputs());
    const { id, outs } = await provider.create!(inputs);
    const news = await checked(inputs, await rawInputs());
    // Between the check and its diff (never so in a real step), a migration is applied outside the stack.
    scratch.write("005_reports.sql", "CREATE TABLE reports (id int);\n");
    expect((await migrate({ connection: db.url, source: new DirectoryMigrationSource(scratch.dir) })).ok).toBe(true);
    expect((await provider.diff!(id, outs!, news)).changes).toBe(false); // check's read: nothing outside yet
    // Read again: the new row (which this step's migration list, made before the file, does not name).
    await expect(provider.diff!(id, outs!, news)).rejects.toThrow("005_reports (version 5) is recorded as applied");
  });

  it("a protected stack's blocked lint finding fails the diff; allowing it by name lets it through", async () => {
    const inputs = await checked({}, await rawInputs({ protected: true }));
    const { id, outs } = await provider.create!(inputs);
    scratch.write("005_drop.sql", "DROP TABLE submissions CASCADE;\n");
    await expect(provider.diff!(id, outs!, await checked(inputs, await rawInputs({ protected: true })))).rejects.toThrow(/005_drop\.sql:1: table submissions: drops a table.*allowDestructive: \["005_drop"\]/);
    const allowed = await checked(inputs, await rawInputs({ protected: true, allowDestructive: ["005_drop"] }));
    expect((await provider.diff!(id, outs!, allowed)).changes).toBe(true);
  });

  it("check lists invalid inputs by property path", async () => {
    const r = await provider.check!({} as SchemaInputs, { connection: "", migrationsDir: "x", migrations: [{ version: 1, name: "bad name", checksum: "md5" }], settings: { lockTimeoutMs: 0, nope: 1 } } as never);
    expect(r.failures!.map((f) => f.property).sort()).toEqual(["connection", "migrations[0].checksum", "migrations[0].name", "settings", "settings.lockTimeoutMs"].sort());
  });

  it("delete drops nothing, unless dropOnDelete: then the down files run and the history table goes", async () => {
    const kept = await checked({}, await rawInputs());
    const a = await provider.create!(kept);
    await provider.delete!(a.id, a.outs!);
    expect(await tableNames(db.url)).toEqual(["engines", "schema_migrations", "submissions", "users"]);

    const dropping = await checked(kept, await rawInputs({ dropOnDelete: true }));
    expect((await provider.diff!(a.id, a.outs!, dropping)).changes).toBe(true); // the outputs must learn the connection
    const b = await provider.update!(a.id, a.outs!, dropping);
    expect(b.outs!.connection).toBe(db.url); // kept for delete; the resource marks it secret
    await provider.delete!(a.id, b.outs!);
    expect(await tableNames(db.url)).toEqual([]);
  });
});

describe("after Pulumi's closure serialization", () => {
  it("captures no driver, no engine code and no connection, and still migrates", async () => {
    const { serializeFunction } = require("@pulumi/pulumi/runtime/closure/serializeClosure") as typeof import("@pulumi/pulumi/runtime/closure/serializeClosure");
    const sf = await serializeFunction(() => provider, { allowSecrets: true });
    expect(sf.text).not.toMatch(/require\("pg"\)|escapeLiteral|pg_advisory_lock|postgres:\/\//);
    expect(sf.text.length).toBeLessThan(20_000);

    // Load it the way the pulumi-nodejs dynamic provider does (a module from a string).
    const m = new Module("serialized-provider", module as unknown as Module) as Module & { _compile(code: string, file: string): void };
    m.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(ROOT);
    m._compile(sf.text, path.join(ROOT, "serialized-provider.js"));
    const revived = (m.exports as { handler(): typeof provider }).handler();
    const inputs = (await revived.check!({} as SchemaInputs, (await rawInputs()) as unknown as SchemaInputs)).inputs!;
    const created = await revived.create!(inputs);
    expect(created.outs!.appliedVersions).toEqual([1, 2, 3, 4]);
    expect((await historyRows(db.url)).length).toBe(4);
  });
});

describe("PostgresSchema resource", () => {
  it("registers a distinct type, a secret connection, the migration list and no replace-prone options", async () => {
    const mocks = installMocks({ stack: "test", outputs: (type) => (type.endsWith(":PostgresSchema") ? { appliedVersions: [1, 2, 3, 4], currentVersion: 4 } : undefined) });
    const registered = mocks.registered;
    const { PostgresSchema } = await import("../../providers/postgres-schema");
    // A plain string on purpose: the resource itself makes the connection secret.
    const schema = new PostgresSchema("nexus-schema", { connection: db.url, migrationsDir: path.relative(ROOT, scratch.dir) });
    const version = await new Promise<unknown>((resolve) => schema.currentVersion.apply(resolve));
    expect(version).toBe(4);
    expect(registered).toHaveLength(1);
    const r = registered[0];
    expect([r.type, r.name]).toEqual(["pulumi-nodejs:dynamic/nexus:db:PostgresSchema", "nexus-schema"]);
    expect(r.inputs.migrations).toEqual(migrationRefs(await new DirectoryMigrationSource(scratch.dir).getMigrations()));
    expect(r.inputs.migrationsDir).toBe(path.relative(ROOT, scratch.dir));
    // The wire form of a secret: the state keeps it encrypted.
    expect(mocks.rawInputs("nexus-schema").connection).toEqual({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: db.url });
    expect(typeof r.inputs.__provider).toBe("string");
  });
});
