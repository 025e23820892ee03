// The reconciler against the server at MONGODB_URL (FerretDB here, a real MongoDB 7 where present).
// The server's features are probed once; tests of a feature it lacks assert the exact commands the
// reconciler sends and skip the enforcement check with the reason, so they never pass vacuously.
import type { Document } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VALIDATORS, nexusCollections, type CollectionName } from "../../mongo/collections";
import {
  MongoApplyError,
  MongoReconciler,
  PROBE_COLLECTION_PREFIX,
  indexName,
  planLines,
  platformUsers,
  probeCapabilities,
  type Capabilities,
  type CollectionDeclaration,
  type MongoReconcilerOptions,
} from "../../engines/mongo";
import { MONGODB_URL } from "../helpers/env";
import { BAD, GOOD } from "./samples";
import { forcing, lacks, missingFeatures, recordingClient, testDatabase, type Recorder } from "./helpers";
import { MongoClient } from "mongodb";

let rec: Recorder;
let caps: Capabilities;
let probeDb: string;
const databases: string[] = [];

beforeAll(async () => {
  rec = await recordingClient();
  probeDb = testDatabase();
  databases.push(probeDb);
  caps = await probeCapabilities(rec.client.db(probeDb));
  const missing = missingFeatures(caps);
  console.info(`[mongo] ${caps.server}: ${missing.length ? `lacks ${missing.join(", ")}` : "has every feature"}`);
});

afterAll(async () => {
  for (const db of databases) await rec.client.db(db).dropDatabase().catch(() => undefined);
  await rec.client.close();
});

function reconciler(over: Partial<MongoReconcilerOptions> & { database: string }): MongoReconciler {
  if (!databases.includes(over.database)) databases.push(over.database);
  return new MongoReconciler({
    client: rec.client,
    collections: nexusCollections(),
    capabilities: caps,
    allowMissingFeatures: missingFeatures(caps),
    ...over,
  });
}

async function indexNames(db: string, collection: string): Promise<string[]> {
  const r = await rec.client.db(db).command({ listIndexes: collection });
  return (r.cursor.firstBatch as Document[]).map((i) => i.name as string).sort();
}

async function listIndex(db: string, collection: string, name: string): Promise<Document | undefined> {
  const r = await rec.client.db(db).command({ listIndexes: collection });
  return (r.cursor.firstBatch as Document[]).find((i) => i.name === name);
}

/** The index names the reconciler creates for a declaration on this server. */
function expectedIndexes(decl: CollectionDeclaration): string[] {
  return [
    "_id_",
    ...decl.indexes
      .filter((ix) => (!ix.partialFilterExpression || caps.has.partialIndexes) && (!Object.values(ix.key).includes("text") || caps.has.textIndexes))
      .map(indexName),
  ].sort();
}

describe("capability probe", () => {
  it("runs once, with harmless commands on a scratch collection it drops", async () => {
    const names = rec.commands(probeDb).map((e) => e.commandName);
    const expected = [
      "create",
      ...(caps.has.validators ? [] : ["create"]),
      "collMod",
      "createIndexes", "createIndexes", "createIndexes", "createIndexes",
      "listIndexes",
      ...(caps.has.ttlIndexes && caps.has.collMod ? ["collMod"] : []),
      "drop",
      "usersInfo",
      ...(caps.missing.users?.startsWith("usersInfo") ? [] : ["rolesInfo"]),
    ];
    expect(names).toEqual(expected);
    const first = rec.commands(probeDb)[0].command;
    expect(first.validator).toEqual({ $jsonSchema: { bsonType: "object" } });
    expect(String(first.create)).toMatch(new RegExp(`^${PROBE_COLLECTION_PREFIX}[0-9a-f]{8}$`));
    const left = await rec.client.db(probeDb).listCollections().toArray();
    expect(left.filter((c) => c.name.startsWith(PROBE_COLLECTION_PREFIX))).toEqual([]);
    // Every missing feature says why, in the server's words.
    for (const f of missingFeatures(caps)) expect(caps.missing[f], f).toMatch(/\S/);
  });

  it("is not repeated by a reconciler that was handed its result", async () => {
    const db = testDatabase();
    rec.reset();
    await reconciler({ database: db }).plan();
    expect(rec.commands(db).map((e) => e.commandName)).toEqual(["listCollections"]);
  });

  it("is reused without any write when the server's build is unchanged", async () => {
    const db = testDatabase();
    databases.push(db);
    rec.reset();
    const again = await probeCapabilities(rec.client.db(db), { previous: caps });
    expect(again).toBe(caps);
    expect(rec.commands(db).map((e) => e.commandName)).toEqual([]);
    const stale = await probeCapabilities(rec.client.db(db), { previous: { ...caps, build: "[\"0.0.1\"]" } });
    expect(stale.build).toBe(caps.build);
    expect(rec.writes(db).map((w) => w.name)).toContain("drop");
  });
});

describe("apply on this server", () => {
  it("creates the collections and the indexes the server supports; a second apply sends no write command", async () => {
    const db = testDatabase();
    const r = reconciler({ database: db });
    rec.reset();
    const { result, plan } = await r.apply();
    expect(result.failed).toBeUndefined();
    expect(result.applied).toEqual(plan.actions);
    // One createIndexes per collection.
    expect(rec.writes(db).filter((w) => w.name === "createIndexes").map((w) => w.command.createIndexes)).toEqual(nexusCollections().map((c) => c.name));
    for (const decl of nexusCollections()) expect(await indexNames(db, decl.name), decl.name).toEqual(expectedIndexes(decl));

    rec.reset();
    const again = await reconciler({ database: db }).apply();
    expect(again.plan.actions).toEqual([]);
    expect(again.result.applied).toEqual([]);
    expect(rec.writes(db)).toEqual([]);
    expect(rec.commands(db).length).toBeGreaterThan(0);
  });

  it("adds a declared index, drops one it managed, rebuilds one whose keys changed", async () => {
    const db = testDatabase();
    await reconciler({ database: db }).apply();
    const decls = nexusCollections();
    const sandbox = decls.find((c) => c.name === "sandbox_reports")!;
    sandbox.indexes = sandbox.indexes.filter((ix) => indexName(ix) !== "network_activity.domain_1");
    sandbox.indexes.push({ serves: "reports of one sandbox image", key: { sandbox: 1 } });
    const sub = sandbox.indexes.find((ix) => indexName(ix) === "submission_id_1")!;
    sub.name = "submission_id_1";
    sub.key = { submission_id: 1, report_timestamp: -1 };

    rec.reset();
    const { plan } = await reconciler({ database: db, collections: decls }).apply();
    expect(plan.actions).toEqual([
      "rebuild index sandbox_reports.submission_id_1: keys changed ({ submission_id: 1 } → { submission_id: 1, report_timestamp: -1 })",
      "drop index sandbox_reports.network_activity.domain_1: no longer declared",
      "create index sandbox_reports.sandbox_1",
    ]);
    const writes = rec.writes(db).filter((w) => w.name !== "update");
    expect(writes).toEqual([
      { name: "dropIndexes", command: { dropIndexes: "sandbox_reports", index: ["submission_id_1", "network_activity.domain_1"] } },
      {
        name: "createIndexes",
        command: { createIndexes: "sandbox_reports", indexes: [{ key: { submission_id: 1, report_timestamp: -1 }, name: "submission_id_1" }, { key: { sandbox: 1 }, name: "sandbox_1" }] },
      },
    ]);
    expect(await indexNames(db, "sandbox_reports")).toEqual(expectedIndexes(sandbox));
    expect((await listIndex(db, "sandbox_reports", "submission_id_1"))?.key).toEqual({ submission_id: 1, report_timestamp: -1 });

    rec.reset();
    await reconciler({ database: db, collections: decls }).apply();
    expect(rec.writes(db)).toEqual([]);
  });

  it("leaves alone and reports an index and a collection it never managed", async () => {
    const db = testDatabase();
    await reconciler({ database: db }).apply();
    await rec.client.db(db).collection("file_metadata").createIndex({ file_hash: 1 }, { name: "legacy_file_hash" });
    await rec.client.db(db).createCollection("legacy_notes");

    rec.reset();
    const { plan } = await reconciler({ database: db }).apply();
    expect(plan.unmanaged).toEqual(["unmanaged index file_metadata.legacy_file_hash: left alone", "unmanaged collection legacy_notes: left alone"]);
    expect(planLines(plan)).toContain("unmanaged index file_metadata.legacy_file_hash: left alone");
    expect(rec.writes(db)).toEqual([]);
    expect(await indexNames(db, "file_metadata")).toContain("legacy_file_hash");
  });

  it("keeps a collection no longer declared unless the stack says to drop it, and never one it did not create", async () => {
    const db = testDatabase();
    // sandbox_reports existed before nexus-db: adopted, so never dropped.
    await rec.client.db(db).createCollection("sandbox_reports");
    await reconciler({ database: db }).apply();
    const fewer = nexusCollections().filter((c) => c.name !== "engine_stats" && c.name !== "sandbox_reports");

    rec.reset();
    const kept = await reconciler({ database: db, collections: fewer }).apply();
    expect(kept.plan.notes).toEqual([
      "keep collection engine_stats: no longer declared, kept with its data (dropCollectionsOnDelete is off)",
      "keep collection sandbox_reports: no longer declared, kept with its data (nexus-db did not create it)",
    ]);
    expect(rec.writes(db)).toEqual([]);

    rec.reset();
    const dropped = await reconciler({ database: db, collections: fewer, dropCollectionsOnDelete: true }).apply();
    expect(dropped.plan.actions).toEqual(["drop collection engine_stats: no longer declared (dropCollectionsOnDelete), its data is deleted"]);
    expect(rec.writes(db).map((w) => w.name)).toEqual(["drop", "delete"]);
    const names = (await rec.client.db(db).listCollections().toArray()).map((c) => c.name);
    expect(names).not.toContain("engine_stats");
    expect(names).toContain("sandbox_reports");
  });

  it("enforces the unique sha256 identity of a file", async () => {
    const db = testDatabase();
    await reconciler({ database: db }).apply();
    const files = rec.client.db(db).collection("file_metadata");
    await files.insertOne({ ...GOOD.file_metadata[0].doc });
    await expect(files.insertOne({ ...GOOD.file_metadata[0].doc })).rejects.toMatchObject({ code: 11000 });
  });

  it("refuses to apply, sending nothing, when the server lacks declared features the stack does not allow missing", async (ctx) => {
    ctx.skip(missingFeatures(caps).length === 0, `${caps.server} has every declared feature`);
    const db = testDatabase();
    rec.reset();
    await expect(reconciler({ database: db, allowMissingFeatures: [] }).apply()).rejects.toThrow(MongoApplyError);
    await expect(reconciler({ database: db, allowMissingFeatures: [] }).apply()).rejects.toThrow(/lacks declared features:[\s\S]*unsupported by server: /);
    await expect(reconciler({ database: db, protected: true }).apply()).rejects.toThrow(/a protected stack needs them all/);
    expect(rec.writes(db)).toEqual([]);
  });
});

/** Applies `collections` claiming `feature` present; returns the writes sent and the error, if any. */
async function applyForcing(collections: CollectionDeclaration[], ...features: Parameters<typeof forcing>[1][]) {
  const db = testDatabase();
  const forced = forcing(caps, ...features);
  rec.reset();
  let error: unknown;
  try {
    await reconciler({ database: db, collections, capabilities: forced, allowMissingFeatures: missingFeatures(forced) }).apply();
  } catch (e) {
    error = e;
  }
  return { db, writes: rec.writes(db), error };
}

const only = (name: CollectionName, ttl = {}) => nexusCollections(ttl).filter((c) => c.name === name);

describe("validators", () => {
  it("are sent with create: the $jsonSchema, validationLevel and validationAction", async () => {
    const { writes, error } = await applyForcing(only("analysis_results"), "validators");
    expect(writes[0]).toEqual({
      name: "create",
      command: { create: "analysis_results", validator: VALIDATORS.analysis_results, validationLevel: "strict", validationAction: "error" },
    });
    if (caps.has.validators) expect(error).toBeUndefined();
    else expect(String(error)).toMatch(/stopped at create analysis_results/);
  });

  it("reject bad documents and accept good ones on the server", async (ctx) => {
    ctx.skip(!caps.has.validators, lacks(caps, "validators"));
    const db = testDatabase();
    await reconciler({ database: db }).apply();
    for (const c of nexusCollections()) {
      const coll = rec.client.db(db).collection(c.name);
      for (const s of GOOD[c.name as CollectionName]) await coll.insertOne({ ...s.doc }, { forceServerObjectId: true });
      if (c.validationAction !== "error") continue;
      for (const s of BAD[c.name as CollectionName]) {
        await expect(coll.insertOne({ ...s.doc }, { forceServerObjectId: true }), `${c.name}: ${s.label}`).rejects.toMatchObject({ code: 121 });
      }
    }
  });
});

describe("TTL indexes", () => {
  it("are sent with expireAfterSeconds from the stack's settings", async () => {
    const { writes, error } = await applyForcing(only("engine_stats", { engineStatsSeconds: 3600 }), "ttlIndexes");
    const ci = writes.find((w) => w.name === "createIndexes");
    expect(ci?.command.indexes).toContainEqual({ key: { ts: 1 }, name: "ts_1", expireAfterSeconds: 3600 });
    if (caps.has.ttlIndexes) expect(error).toBeUndefined();
    else expect(String(error)).toMatch(/stopped at createIndexes engine_stats/);
  });

  it("exist on the server with the right expireAfterSeconds, and change in place", async (ctx) => {
    ctx.skip(!caps.has.ttlIndexes || !caps.ttlInPlace, lacks(caps, "ttlIndexes", "collMod"));
    const db = testDatabase();
    await reconciler({ database: db, collections: nexusCollections({ engineStatsSeconds: 3600 }) }).apply();
    expect((await listIndex(db, "engine_stats", "ts_1"))?.expireAfterSeconds).toBe(3600);
    rec.reset();
    const { plan } = await reconciler({ database: db, collections: nexusCollections({ engineStatsSeconds: 7200 }) }).apply();
    expect(plan.actions).toEqual(["TTL engine_stats.ts_1: 3600s → 7200s, in place"]);
    expect(rec.writes(db)).toEqual([{ name: "collMod", command: { collMod: "engine_stats", index: { name: "ts_1", expireAfterSeconds: 7200 } } }]);
    expect((await listIndex(db, "engine_stats", "ts_1"))?.expireAfterSeconds).toBe(7200);
  });
});

describe("partial and text indexes", () => {
  it("partial: sent with its filter", async () => {
    const { writes, error } = await applyForcing(only("file_metadata"), "partialIndexes");
    expect(writes.find((w) => w.name === "createIndexes")?.command.indexes).toContainEqual({
      key: { "pe_info.imphash": 1 },
      name: "pe_info.imphash_1",
      partialFilterExpression: { "pe_info.imphash": { $exists: true } },
    });
    if (caps.has.partialIndexes) expect(error).toBeUndefined();
    else expect(String(error)).toMatch(/stopped at createIndexes file_metadata/);
  });

  it("partial: present on the server with its filter", async (ctx) => {
    ctx.skip(!caps.has.partialIndexes, lacks(caps, "partialIndexes"));
    const db = testDatabase();
    await reconciler({ database: db }).apply();
    expect((await listIndex(db, "file_metadata", "pe_info.imphash_1"))?.partialFilterExpression).toEqual({ "pe_info.imphash": { $exists: true } });
  });

  it("text: sent with its fields and weights", async () => {
    const { writes, error } = await applyForcing(only("analysis_results"), "textIndexes");
    expect(writes.find((w) => w.name === "createIndexes")?.command.indexes).toContainEqual({
      key: { "details.summary": "text", "details.malware_family": "text" },
      name: "analysis_text",
      weights: { "details.malware_family": 5, "details.summary": 1 },
    });
    if (caps.has.textIndexes) expect(error).toBeUndefined();
    else expect(String(error)).toMatch(/stopped at createIndexes analysis_results/);
  });

  it("text: answers a $text search on the server", async (ctx) => {
    ctx.skip(!caps.has.textIndexes, lacks(caps, "textIndexes"));
    const db = testDatabase();
    await reconciler({ database: db }).apply();
    const coll = rec.client.db(db).collection("analysis_results");
    await coll.insertOne({ ...GOOD.analysis_results[2].doc });
    expect(await coll.countDocuments({ $text: { $search: "AgentTesla" } })).toBe(1);
  });
});

describe("users", () => {
  const users = (appPassword: string) => platformUsers("", { name: "nexus_app", password: appPassword }, { name: "nexus_analytics", password: "analytics-pw-1" });
  const withDb = (db: string, appPassword: string) => users(appPassword).map((u) => ({ ...u, roles: u.roles.map((r) => ({ ...r, db })) }));

  it("are marked unsupported, and no user command is sent, when the server has no user management", async (ctx) => {
    ctx.skip(caps.has.users, `${caps.server} manages users: see the next test`);
    const db = testDatabase();
    rec.reset();
    const { plan } = await reconciler({ database: db, users: withDb(db, "app-pw-1") }).apply();
    expect(plan.unsupported.map((u) => u.text)).toEqual(
      expect.arrayContaining([`unsupported by server: user nexus_app (readWrite on ${db})`, `unsupported by server: user nexus_analytics (read on ${db})`]),
    );
    expect(rec.commands(db).filter((e) => /user/i.test(e.commandName))).toEqual([]);
  });

  it("app (readWrite) and analytics (read) are created, left alone when unchanged, updated on a password change", async (ctx) => {
    ctx.skip(!caps.has.users, lacks(caps, "users"));
    const db = testDatabase();
    await reconciler({ database: db, users: withDb(db, "app-pw-1") }).apply();
    const login = async (user: string, pwd: string) => {
      const u = new URL(MONGODB_URL);
      u.username = user;
      u.password = pwd;
      u.pathname = `/${db}`;
      const c = new MongoClient(u.toString(), { authSource: db, serverSelectionTimeoutMS: 5000 });
      await c.connect();
      return c;
    };
    // Roles only bite on a server started with access control: an anonymous write tells.
    const anonymousUrl = new URL(MONGODB_URL);
    anonymousUrl.username = "";
    anonymousUrl.password = "";
    const anonymous = new MongoClient(anonymousUrl.toString(), { serverSelectionTimeoutMS: 5000 });
    const enforced = await anonymous
      .db(db)
      .collection("nexus_auth_check")
      .insertOne({})
      .then(() => false, () => true)
      .finally(() => anonymous.close());
    ctx.skip(!enforced, `${caps.server} does not enforce access control (started without --auth): roles cannot be checked`);
    const app = await login("nexus_app", "app-pw-1");
    const analytics = await login("nexus_analytics", "analytics-pw-1");
    try {
      await app.db(db).collection("engine_stats").insertOne({ ...GOOD.engine_stats[0].doc });
      expect(await analytics.db(db).collection("engine_stats").countDocuments()).toBe(1);
      await expect(analytics.db(db).collection("engine_stats").insertOne({ ...GOOD.engine_stats[0].doc })).rejects.toMatchObject({ code: 13 });
    } finally {
      await app.close();
      await analytics.close();
    }
    rec.reset();
    await reconciler({ database: db, users: withDb(db, "app-pw-1") }).apply();
    expect(rec.writes(db)).toEqual([]);
    const { plan } = await reconciler({ database: db, users: withDb(db, "app-pw-2") }).apply();
    expect(plan.actions).toEqual(["update user nexus_app: password changed"]);
    await (await login("nexus_app", "app-pw-2")).close();
  });
});
