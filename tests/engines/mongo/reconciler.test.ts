// The reconciler against the server at MONGODB_URL (FerretDB here, a real MongoDB 7 where present).
// The server's features are probed once; tests of a feature it lacks assert the exact commands the
// reconciler sends and skip the enforcement check with the reason, so they never pass vacuously.
import type { Document } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VALIDATORS, nexusCollections, type CollectionName } from "../../../mongo/collections";
import {
  MongoApplyError,
  lowerValidator,
  MongoReconciler,
  PROBE_COLLECTION_PREFIX,
  indexName,
  planLines,
  platformUsers,
  probeCapabilities,
  type Capabilities,
  type CollectionDeclaration,
  type MongoReconcilerOptions,
} from "../../../engines/mongo";
import { MONGODB_URL } from "../../helpers/env";
import { BAD, GOOD } from "../../declarations/mongo/samples";
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
  it("runs once, with harmless commands on a scratch collection and a throwaway user it drops", async () => {
    const cmds = rec.commands(probeDb);
    const first = cmds[0].command;
    expect(first.create).toMatch(new RegExp(`^${PROBE_COLLECTION_PREFIX}[0-9a-f]{8}$`));
    expect(first.validator).toEqual({ $jsonSchema: { bsonType: "object" } });
    const scratch = String(first.create);
    // Writes touch only the scratch collection (and a second scratch for the user's write test) and the probe's own user.
    for (const e of cmds.filter((x) => ["create", "collMod", "createIndexes", "drop", "insert"].includes(x.commandName))) {
      expect(String(e.command[e.commandName]), `${e.commandName} ${JSON.stringify(e.command)}`).toMatch(new RegExp(`^${scratch}|^${PROBE_COLLECTION_PREFIX}`));
    }
    // (The driver redacts user commands in its events: only their presence can be checked.)
    const names = cmds.map((e) => e.commandName);
    if (names.includes("createUser")) expect(names).toContain("dropUser");
    const left = await rec.client.db(probeDb).listCollections().toArray();
    expect(left.filter((c) => c.name.startsWith(PROBE_COLLECTION_PREFIX))).toEqual([]);
    // Every missing feature says why, in the server's words.
    for (const f of missingFeatures(caps)) expect(caps.missing[f], f).toMatch(/\S/);
    console.info(
      `[mongo] validators: ${caps.validation.onCreate ? "taken by create" : "set with collMod (create drops them)"}; ` +
        `refused $jsonSchema keywords: ${caps.validation.unsupportedKeywords.join(", ") || "none"}; violation code ${caps.validation.violationCode}; ` +
        `roles: ${caps.userRoles.roles}, ${caps.userRoles.enforced ? "enforced" : `not enforced (${caps.userRoles.why})`}`,
    );
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

  it("refuses to apply, sending nothing, when the server lacks declared features the stack does not allow missing", async () => {
    // On a server that has everything, one feature is claimed missing: the refusal is the reconciler's.
    const lacking = missingFeatures(caps).length > 0 ? caps : { ...caps, has: { ...caps.has, textIndexes: false }, missing: { textIndexes: "claimed missing by this test" } };
    const db = testDatabase();
    rec.reset();
    await expect(reconciler({ database: db, capabilities: lacking, allowMissingFeatures: [] }).apply()).rejects.toThrow(MongoApplyError);
    await expect(reconciler({ database: db, capabilities: lacking, allowMissingFeatures: [] }).apply()).rejects.toThrow(/lacks declared features:[\s\S]*unsupported by server: /);
    await expect(reconciler({ database: db, capabilities: lacking, protected: true }).apply()).rejects.toThrow(/a protected stack needs them all/);
    expect(rec.writes(db)).toEqual([]);
  });

  it("in a protected stack, refuses a server that cannot enforce a declared rule unless the stack allows that rule by name", async (ctx) => {
    const db = testDatabase();
    const plan = await reconciler({ database: db, protected: true, allowMissingFeatures: [] }).plan();
    ctx.skip(plan.unenforced.length === 0, `${caps.server} enforces every declared rule`);
    rec.reset();
    const refused = reconciler({ database: db, protected: true, allowMissingFeatures: [] }).apply();
    await expect(refused).rejects.toThrow(new RegExp(`cannot enforce declared rules:[\\s\\S]*${plan.unenforced[0].rule.replace(/[.[\]$]/g, "\\$&")}`));
    expect(rec.writes(db)).toEqual([]);
    const allowed = await reconciler({ database: db, protected: true, allowMissingFeatures: [], allowUnenforcedRules: plan.unenforced.map((u) => u.rule) }).apply();
    expect(allowed.result.failed).toBeUndefined();
    expect(allowed.plan.unenforced.map((u) => u.rule)).toEqual(plan.unenforced.map((u) => u.rule));
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
  it("are sent in the server's dialect: with create, or with collMod right after it; lowered where keywords are refused", async () => {
    const { writes, error } = await applyForcing(only("analysis_results"), "validators");
    const sent = lowerValidator("analysis_results", VALIDATORS.analysis_results, caps.validation).validator;
    const validation = { validator: sent, validationLevel: "strict", validationAction: "error" };
    if (caps.validation.onCreate) expect(writes[0]).toEqual({ name: "create", command: { create: "analysis_results", ...validation } });
    else {
      expect(writes[0]).toEqual({ name: "create", command: { create: "analysis_results" } });
      expect(writes[1]).toEqual({ name: "collMod", command: { collMod: "analysis_results", ...validation } });
    }
    if (caps.validation.unsupportedKeywords.length === 0) expect(sent).toEqual(VALIDATORS.analysis_results);
    if (caps.has.validators) expect(error).toBeUndefined();
    else expect(String(error)).toMatch(/stopped at create analysis_results/);
  });

  it("reject bad documents and accept good ones on the server", async (ctx) => {
    ctx.skip(!caps.has.validators, lacks(caps, "validators"));
    const db = testDatabase();
    await reconciler({ database: db }).apply();
    const unenforced = new Set((await reconciler({ database: db }).plan()).unenforced.map((u) => u.rule));
    for (const c of nexusCollections()) {
      const coll = rec.client.db(db).collection(c.name);
      for (const s of GOOD[c.name as CollectionName]) {
        await coll.insertOne({ ...s.doc }, { forceServerObjectId: true });
        await coll.deleteMany({}); // the good samples share their identity (unique indexes)
      }
      if (c.validationAction !== "error") continue;
      for (const s of BAD[c.name as CollectionName]) {
        // A sample that breaks only a rule the plan reports as not enforced here is accepted, and says so.
        if (s.rule && unenforced.has(s.rule)) {
          await coll.insertOne({ ...s.doc }, { forceServerObjectId: true });
          continue;
        }
        await expect(coll.insertOne({ ...s.doc }, { forceServerObjectId: true }), `${c.name}: ${s.label}`).rejects.toMatchObject({ code: caps.validation.violationCode });
      }
    }
  });
});

describe("apply reads back what it did", () => {
  it("fails when the server answered ok but kept no validator, and only reports it where the stack allows validators missing", async (ctx) => {
    ctx.skip(caps.validation.onCreate || !caps.has.validators, `${caps.server} keeps a validator given to create: nothing is lost to catch`);
    // Claiming that create keeps validators makes the reconciler send it there, where this server drops it.
    const believing = { ...caps, validation: { ...caps.validation, onCreate: true } };
    const db = testDatabase();
    const failed = reconciler({ database: db, collections: only("analysis_results"), capabilities: believing, allowMissingFeatures: [] }).apply();
    await expect(failed).rejects.toThrow(/stopped at create analysis_results: the server answered ok but did not keep: validator of analysis_results \(listCollections shows none\)/);
    const db2 = testDatabase();
    const { result } = await reconciler({ database: db2, collections: only("analysis_results"), capabilities: believing, allowMissingFeatures: ["validators"] }).apply();
    expect(result.notKept).toEqual(["not kept by server (validators allowed missing): validator of analysis_results (listCollections shows none)"]);
  });
});

describe("validators changed in place", () => {
  it("a changed $jsonSchema is sent with one collMod and enforced right away", async (ctx) => {
    ctx.skip(!caps.has.validators || !caps.has.collMod, lacks(caps, "validators", "collMod"));
    const db = testDatabase();
    await reconciler({ database: db, collections: only("threat_indicators") }).apply();
    const stricter = only("threat_indicators");
    const schema = structuredClone(stricter[0].validator!);
    schema.$jsonSchema.required = [...(schema.$jsonSchema.required ?? []), "source"];
    stricter[0].validator = schema;
    rec.reset();
    const { plan } = await reconciler({ database: db, collections: stricter }).apply();
    expect(plan.actions).toEqual(["update validator threat_indicators: $jsonSchema changed, in place"]);
    expect(rec.writes(db).filter((w) => w.name !== "update").map((w) => w.name)).toEqual(["collMod"]);
    const coll = rec.client.db(db).collection("threat_indicators");
    const { source: _none, ...doc } = GOOD.threat_indicators[0].doc;
    await expect(coll.insertOne({ ...doc }, { forceServerObjectId: true })).rejects.toMatchObject({ code: caps.validation.violationCode });
    await coll.insertOne({ ...doc, source: "feed-1" }, { forceServerObjectId: true });
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

  // The server's own expiry, not ours: MongoDB's TTL monitor and DocumentDB's TTL task (pg_cron)
  // both run once a minute, so this waits up to 150 s (about a minute on an idle machine).
  it("remove expired documents on the server", { timeout: 180_000 }, async (ctx) => {
    ctx.skip(!caps.has.ttlIndexes, lacks(caps, "ttlIndexes"));
    const db = testDatabase();
    await reconciler({ database: db, collections: only("engine_stats", { engineStatsSeconds: 1 }) }).apply();
    const coll = rec.client.db(db).collection("engine_stats");
    const sample = GOOD.engine_stats[0].doc;
    await coll.insertMany([
      { ...sample, engine_id: "expired", ts: new Date(Date.now() - 3600_000) },
      { ...sample, engine_id: "kept", ts: new Date(Date.now() + 24 * 3600_000) },
    ]);
    const t0 = Date.now();
    while (Date.now() - t0 < 150_000 && (await coll.countDocuments({ engine_id: "expired" })) > 0) await new Promise((r) => setTimeout(r, 2000));
    console.info(`[mongo] TTL expiry observed after ${Math.round((Date.now() - t0) / 1000)} s`);
    expect(await coll.countDocuments({ engine_id: "expired" })).toBe(0);
    expect(await coll.countDocuments({ engine_id: "kept" })).toBe(1);
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

  it("partial unique: duplicates are refused inside the filter and allowed outside it", async (ctx) => {
    ctx.skip(!caps.has.partialIndexes, lacks(caps, "partialIndexes"));
    const db = testDatabase();
    const leases: CollectionDeclaration[] = [
      { name: "leases", indexes: [{ serves: "one active lease per owner", key: { owner: 1 }, unique: true, partialFilterExpression: { active: true } }] },
    ];
    await reconciler({ database: db, collections: leases }).apply();
    const coll = rec.client.db(db).collection("leases");
    await coll.insertOne({ owner: "a", active: true });
    await expect(coll.insertOne({ owner: "a", active: true })).rejects.toMatchObject({ code: 11000 });
    await coll.insertMany([{ owner: "a", active: false }, { owner: "a", active: false }, { owner: "a" }]);
    expect(await coll.countDocuments({ owner: "a" })).toBe(4);
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
  // User names of their own per test: on DocumentDB users belong to the server, not to a database.
  const names = (db: string) => ({ app: `${db}_app`, analytics: `${db}_analytics` });
  const withDb = (db: string, appPassword: string) =>
    platformUsers(db, { name: names(db).app, password: appPassword }, { name: names(db).analytics, password: "analytics-pw-1" });
  const dropUsers = async (db: string) => {
    for (const u of Object.values(names(db))) await rec.client.db(db).command({ dropUser: u }).catch(() => undefined);
  };

  it("are marked unsupported, and no user command is sent, when the server has no user management", async () => {
    // On a server with users, they are claimed missing: what is checked is that nothing is sent.
    const without = caps.has.users ? { ...caps, has: { ...caps.has, users: false }, missing: { users: "claimed missing by this test" } } : caps;
    const db = testDatabase();
    rec.reset();
    const { plan } = await reconciler({ database: db, users: withDb(db, "app-pw-1"), capabilities: without, allowMissingFeatures: missingFeatures(without) }).apply();
    expect(plan.unsupported.map((u) => u.text)).toEqual(
      expect.arrayContaining([`unsupported by server: user ${names(db).app} (readWrite on ${db})`, `unsupported by server: user ${names(db).analytics} (read on ${db})`]),
    );
    expect(rec.commands(db).filter((e) => /user/i.test(e.commandName))).toEqual([]);
  });

  it("app (readWrite) writes and analytics (read) cannot; left alone when unchanged, updated on a password change", async (ctx) => {
    ctx.skip(!caps.has.users, lacks(caps, "users"));
    const db = testDatabase();
    const { app: appName, analytics: analyticsName } = names(db);
    const login = async (user: string, pwd: string, base = MONGODB_URL) => {
      const u = new URL(base);
      u.username = user;
      u.password = pwd;
      u.pathname = `/${db}`;
      const c = new MongoClient(u.toString(), { authSource: db, serverSelectionTimeoutMS: 5000 });
      await c.connect();
      return c;
    };
    // Where a read-only user is refused writes: this endpoint when the probe saw roles bind;
    // else a read-only endpoint of the same server (DocumentDB: a FerretDB connected as a
    // read-only PostgreSQL role), given as MONGODB_READONLY_URL.
    const readOnlyUrl = caps.userRoles.enforced ? MONGODB_URL : process.env.MONGODB_READONLY_URL;
    ctx.skip(!readOnlyUrl, `${caps.server} does not enforce roles through this endpoint (${caps.userRoles.why}) and MONGODB_READONLY_URL names no read-only endpoint`);
    try {
      const { plan } = await reconciler({ database: db, users: withDb(db, "app-pw-1") }).apply();
      if (!caps.userRoles.enforced || caps.userRoles.roles !== "database") {
        // The difference is in the plan, by name, for a protected stack to refuse or allow.
        expect(plan.unenforced.map((u) => u.rule)).toContain(`users.${analyticsName}.roles`);
      }
      const app = await login(appName, "app-pw-1");
      const analytics = await login(analyticsName, "analytics-pw-1", readOnlyUrl);
      try {
        await app.db(db).collection("engine_stats").insertOne({ ...GOOD.engine_stats[0].doc });
        expect(await analytics.db(db).collection("engine_stats").countDocuments()).toBe(1);
        const refused = await analytics
          .db(db)
          .collection("engine_stats")
          .insertOne({ ...GOOD.engine_stats[0].doc })
          .then(() => undefined, (e: { code?: number; message?: string }) => e);
        expect(refused, "analytics could write").toBeDefined();
        if (readOnlyUrl === MONGODB_URL) expect(refused).toMatchObject({ code: 13 });
        else expect(refused?.message).toMatch(/permission denied|not authorized|unauthorized/i);
        expect(await app.db(db).collection("engine_stats").countDocuments()).toBe(1);
      } finally {
        await app.close();
        await analytics.close();
      }
      await expect(login(appName, "wrong-password")).rejects.toThrow(/auth/i);
      rec.reset();
      await reconciler({ database: db, users: withDb(db, "app-pw-1") }).apply();
      expect(rec.writes(db)).toEqual([]);
      const { plan: changed } = await reconciler({ database: db, users: withDb(db, "app-pw-2") }).apply();
      expect(changed.actions).toEqual([`update user ${appName}: password changed`]);
      await (await login(appName, "app-pw-2")).close();
    } finally {
      await dropUsers(db);
    }
  });
});
