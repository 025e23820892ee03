// Backup → wipe → restore of all three stores, on real servers, with the data sizes:
// the platform schema with its seed data plus ≥ 100k generated rows, ≥ 50k documents of every BSON
// type the server keeps, ≥ 100k Redis keys of every type with TTLs. The data is built and the round
// trip run once (beforeAll); each test then compares one store.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MongoClient, type Db } from "mongodb";
import { createBackup, restoreBackup, type BackupManifest, type RestoreResult } from "../../../engines/backup";
import { DirectoryMigrationSource, planAgainstDatabase } from "../../../engines/postgres";
import { redisClient } from "../../../engines/backup";
import { freshDatabase, withClient, type FreshDatabase } from "../../helpers/pg";
import { MONGODB_URL, uniqueSuffix } from "../../helpers/env";
import { generateDocuments, generateKeys, generateRows, mongoSnapshot, pgSnapshot, platformSchema, redisSnapshot, supportedFields } from "./data";
import { startPrivateRedis, type PrivateRedis } from "../../helpers/redis-server";

const ROOT = path.resolve(__dirname, "../../..");
const KEY = "round-trip test key, 32+ characters long";
const ROWS_USERS = 20_000; // → 20k users + 60k audit rows + 25k submissions = 105k generated rows
const DOCUMENTS = 50_000;
const KEYS = 100_002;

describe("backup and restore round trip", () => {
  let pg: FreshDatabase;
  let redis: PrivateRedis;
  let mongo: MongoClient;
  let db: Db;
  let mongoDatabase: string;
  let dir: string;
  let refusedTypes: string[] = [];
  let validatorProbe: string | undefined;
  const before: { pg?: Awaited<ReturnType<typeof pgSnapshot>>; mongo?: Awaited<ReturnType<typeof mongoSnapshot>>; redis?: Awaited<ReturnType<typeof redisSnapshot>> } = {};
  const after: typeof before = {};
  let manifest: BackupManifest;
  let restored: RestoreResult;
  const connectRedis = (db: number) => redisClient({ url: redis.url }, db);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "nexus-backup-rt-"));
    pg = await freshDatabase("backup_rt");
    redis = await startPrivateRedis();
    mongo = await new MongoClient(MONGODB_URL).connect();
    mongoDatabase = `nexus_backup_rt_${uniqueSuffix()}`;
    db = mongo.db(mongoDatabase);

    // PostgreSQL: the platform schema, seed data, generated rows.
    await platformSchema(pg.url);
    const generated = await generateRows(pg.url, ROWS_USERS);
    expect(generated).toBeGreaterThanOrEqual(100_000);

    // MongoDB: a validated collection (where the server has validators), indexes, typed documents.
    // A validator both MongoDB and DocumentDB's dialect accept (no `required`: `$exists` instead),
    // set as the reconciler sets it there: with `create`, and with `collMod` when `create` dropped it.
    const validation = {
      validator: { $and: [{ n: { $exists: true } }, { $jsonSchema: { bsonType: "object", properties: { n: { bsonType: "int" } } } }] },
      validationLevel: "moderate",
    };
    try {
      await db.createCollection("validated", validation);
      const [info] = await db.listCollections({ name: "validated" }).toArray();
      if (!(info as { options?: { validator?: unknown } }).options?.validator) await db.command({ collMod: "validated", ...validation });
    } catch (e) {
      validatorProbe = (e as Error).message.split("\n")[0];
      await db.dropCollection("validated").catch(() => false);
      await db.createCollection("validated");
    }
    await db.collection("validated").insertMany(Array.from({ length: 100 }, (_, i) => ({ n: i, label: `v${i}` })));
    const { fields, refused } = await supportedFields(db);
    refusedTypes = refused;
    await generateDocuments(db, "reports", DOCUMENTS, fields);
    await db.collection("reports").createIndexes([
      { key: { n: 1 }, name: "n_1", unique: true },
      { key: { text: 1, n: -1 }, name: "text_1_n_-1" },
    ]);

    // Redis: every type, most keys with a TTL, plus a warmup marker.
    const keys = await generateKeys(connectRedis, KEYS);
    expect(keys).toBeGreaterThanOrEqual(100_000);
    const r3 = await connectRedis(3);
    await r3.set("nexus:warmup:marker", JSON.stringify({ version: "v-test", specHash: "s", dataHash: "d", keys: 0, warmedAt: new Date().toISOString() }));
    r3.disconnect();

    before.pg = await pgSnapshot(pg.url);
    before.mongo = await mongoSnapshot(db);
    before.redis = await redisSnapshot(connectRedis, [0, 1, 2, 3, 4, 5]);

    const file = path.join(dir, "all.nxdb");
    const b = await createBackup({
      file,
      passphrase: KEY,
      targets: { postgres: { url: pg.url }, mongo: { url: MONGODB_URL, database: mongoDatabase }, redis: { url: redis.url, markers: [{ db: 3, key: "nexus:warmup:marker" }] } },
    });
    manifest = b.manifest;

    // Wipe: the database dropped and created empty, the Mongo database dropped, Redis flushed.
    await pg.drop();
    await withClient(pg.url.replace(/\/[^/]+$/, "/postgres"), (c) => c.query(`CREATE DATABASE "${pg.name}"`));
    await db.dropDatabase();
    const r0 = await connectRedis(0);
    await r0.flushall();
    r0.disconnect();

    restored = await restoreBackup({ file, passphrase: KEY, targets: { postgres: { url: pg.url }, mongo: { url: MONGODB_URL, database: mongoDatabase }, redis: { url: redis.url } } });

    after.pg = await pgSnapshot(pg.url);
    after.mongo = await mongoSnapshot(db);
    after.redis = await redisSnapshot(connectRedis, [0, 1, 2, 3, 4, 5]);
  }, 900_000);

  afterAll(async () => {
    await pg?.drop().catch(() => undefined);
    await db?.dropDatabase().catch(() => undefined);
    await mongo?.close();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the manifest records versions, schema version, migration checksums, counts, sizes, SHA-256 of each part and times", () => {
    expect(manifest.postgres!.schemaVersion).toBe(5);
    expect(manifest.postgres!.migrations.map((m) => m.version)).toEqual([1, 2, 3, 4, 5]);
    for (const m of manifest.postgres!.migrations) expect(m.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(manifest.postgres!.serverVersionNum).toBeGreaterThan(100000);
    // The generated audit rows plus those the seed data's triggers wrote.
    expect(manifest.postgres!.tables.find((t) => t.table === "public.security_audit_log")!.rows).toBe(before.pg!["public.security_audit_log"].rows);
    expect(before.pg!["public.security_audit_log"].rows).toBeGreaterThanOrEqual(ROWS_USERS * 3);
    expect(manifest.mongo!.collections.find((c) => c.name === "reports")!.documents).toBe(DOCUMENTS);
    expect(manifest.redis!.databases.reduce((n, d) => n + d.keys, 0)).toBe(before.redis!.size);
    expect(manifest.warmupVersion).toBe("v-test");
    expect(manifest.parts.length).toBe(1 + manifest.mongo!.collections.length + manifest.redis!.databases.length);
    for (const p of manifest.parts) expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(manifest.finishedAt)).toBeGreaterThanOrEqual(Date.parse(manifest.startedAt));
    expect(restored.mismatches).toEqual([]);
  });

  it("PostgreSQL: every table's row count and md5 of its ordered rows, sequences and indexes are identical", () => {
    expect(Object.keys(after.pg!).length).toBeGreaterThan(40);
    expect(after.pg).toEqual(before.pg);
  });

  it("PostgreSQL: the migration history is intact, so the migrator plans nothing", async () => {
    const { plan } = await planAgainstDatabase({ connection: pg.url, source: new DirectoryMigrationSource(path.join(ROOT, "sql/migrations")), settings: {} });
    expect(plan.currentVersion).toBe(5);
    expect(plan.toApply).toEqual([]);
    expect(plan.checksumFailures).toEqual([]);
    expect(plan.problems).toEqual([]);
  });

  it("MongoDB: documents byte-equal (raw BSON and canonical EJSON), indexes and options equal", () => {
    expect(after.mongo!.reports.documents).toBe(DOCUMENTS);
    expect(after.mongo).toEqual(before.mongo);
    if (refusedTypes.length) console.warn(`MongoDB server refused or altered these sample types, left out of the data set: ${refusedTypes.join("; ")}`);
  });

  it("MongoDB: the validator is restored", (ctx) => {
    if (validatorProbe) ctx.skip(`the MongoDB server has no validators: ${validatorProbe}`);
    // Some servers (FerretDB 1.x) accept a validator and neither keep nor report it.
    if (!before.mongo!.validated.options.includes("$jsonSchema")) ctx.skip(`the MongoDB server accepted the validator but does not keep it (listCollections options: ${before.mongo!.validated.options})`);
    expect(after.mongo!.validated.options).toContain("$jsonSchema");
    expect(after.mongo!.validated.options).toBe(before.mongo!.validated.options);
  });

  it("Redis: every key with its type, value and expiry (to the millisecond) is back", () => {
    expect(after.redis!.size).toBe(before.redis!.size);
    let withTtl = 0;
    const differences: string[] = [];
    for (const [k, v] of before.redis!) {
      const a = after.redis!.get(k);
      if (!a) differences.push(`${k}: missing`);
      else if (a.type !== v.type || a.value !== v.value) differences.push(`${k}: ${a.type} ${a.value} ≠ ${v.type} ${v.value}`);
      else if ((a.expireAt > 0) !== (v.expireAt > 0) || Math.abs(a.expireAt - v.expireAt) > 1000) differences.push(`${k}: expires ${a.expireAt} ≠ ${v.expireAt}`);
      if (v.expireAt > 0) withTtl++;
    }
    expect(differences.slice(0, 20)).toEqual([]);
    expect(withTtl).toBeGreaterThan(80_000);
  });
});
