// The declarations under mongo/ and the checks that refuse bad ones before anything is sent.
import { MongoClient, type CommandStartedEvent } from "mongodb";
import { describe, expect, it } from "vitest";
import { COLLECTION_NAMES, DEFAULT_TTL_PERIODS, nexusCollections } from "../../../mongo/collections";
import {
  DeclarationError,
  MongoReconciler,
  checkDeclarations,
  indexName,
  type CollectionDeclaration,
} from "../../../engines/mongo";
import { parseMongoSettings } from "../../../engines/mongo/settings";
import { nexusMongoSettingsSchema } from "../../../config/mongo-settings";
import { MONGODB_URL } from "../../helpers/env";

describe("the platform's declarations", () => {
  const cols = nexusCollections();

  it("declare the six collections, each with a $jsonSchema validator and validation options", () => {
    expect(cols.map((c) => c.name)).toEqual([...COLLECTION_NAMES]);
    for (const c of cols) {
      expect(c.validator?.$jsonSchema.bsonType, c.name).toBe("object");
      expect(["strict", "moderate"]).toContain(c.validationLevel);
      expect(["error", "warn"]).toContain(c.validationAction);
    }
  });

  it("pass the declaration checks", () => {
    expect(checkDeclarations(cols)).toEqual([]);
  });

  it("declare 18+ indexes, each saying which query it serves, with unique, compound, partial, text and TTL among them", () => {
    const all = cols.flatMap((c) => c.indexes.map((ix) => ({ c: c.name, ix })));
    expect(all.length).toBeGreaterThanOrEqual(18);
    for (const { c, ix } of all) expect(ix.serves.length, `${c}.${indexName(ix)}`).toBeGreaterThan(10);
    const names = all.map(({ c, ix }) => `${c}.${indexName(ix)}`);
    expect(names).toContain("file_metadata.sha256_1");
    expect(all.find(({ c, ix }) => c === "file_metadata" && indexName(ix) === "sha256_1")?.ix.unique).toBe(true);
    expect(all.some(({ ix }) => Object.keys(ix.key).length > 1)).toBe(true);
    expect(all.some(({ ix }) => ix.partialFilterExpression)).toBe(true);
    expect(all.some(({ ix }) => Object.values(ix.key).includes("text"))).toBe(true);
    expect(all.filter(({ ix }) => ix.expireAfterSeconds !== undefined).map(({ c, ix }) => `${c}.${indexName(ix)}`)).toEqual([
      "engine_stats.ts_1",
      "threat_indicators.valid_until_1",
      "sandbox_reports.report_timestamp_1",
    ]);
  });

  it("take TTL periods from the stack's settings, with defaults", () => {
    const ttlOf = (cs: CollectionDeclaration[], c: string) => cs.find((x) => x.name === c)!.indexes.find((i) => i.expireAfterSeconds !== undefined)!.expireAfterSeconds;
    expect(ttlOf(cols, "engine_stats")).toBe(DEFAULT_TTL_PERIODS.engineStatsSeconds);
    const s = parseMongoSettings({ ttl: { engineStatsSeconds: 7200 } }, "mongo", nexusMongoSettingsSchema);
    expect(s.ttl).toEqual({ ...DEFAULT_TTL_PERIODS, engineStatsSeconds: 7200 });
    const custom = nexusCollections(s.ttl);
    expect(ttlOf(custom, "engine_stats")).toBe(7200);
    expect(ttlOf(custom, "sandbox_reports")).toBe(DEFAULT_TTL_PERIODS.sandboxReportsSeconds);
  });
});

describe("settings", () => {
  it("fill every default", () => {
    const s = nexusMongoSettingsSchema.parse({});
    expect(s).toMatchObject({
      database: "nexus_security",
      allowMissingFeatures: [],
      dropCollectionsOnDelete: false,
      protected: false,
      tls: { enabled: false, allowInvalidHostnames: false },
      users: { manage: true, app: { name: "nexus_app" }, analytics: { name: "nexus_analytics" } },
    });
  });

  it("refuse missing features and collection drops in a protected stack, naming each path", () => {
    expect(() => parseMongoSettings({ protected: true, allowMissingFeatures: ["ttlIndexes"], dropCollectionsOnDelete: true })).toThrow(
      /mongo\.allowMissingFeatures: a protected stack[\s\S]*mongo\.dropCollectionsOnDelete: a protected stack never drops/,
    );
    expect(() => parseMongoSettings({ allowMissingFeatures: ["ttl"] })).toThrow(/mongo\.allowMissingFeatures\.0/);
    expect(() => parseMongoSettings({ ttl: { engineStatsSeconds: -5 } }, "mongo", nexusMongoSettingsSchema)).toThrow(/mongo\.ttl\.engineStatsSeconds/);
  });
});

describe("bad declarations fail with a clear message before anything is sent", () => {
  const base = (): CollectionDeclaration => ({
    name: "engine_stats",
    indexes: [{ serves: "history", key: { engine_id: 1, ts: -1 } }],
  });

  const cases: [string, (c: CollectionDeclaration) => void, RegExp][] = [
    [
      "an unknown bsonType",
      (c) => (c.validator = { $jsonSchema: { bsonType: "object", properties: { ts: { bsonType: "datetime" as never } } } }),
      /collection engine_stats validator: \$jsonSchema\.properties\.ts\.bsonType: unknown bsonType "datetime"/,
    ],
    ["JSON type integer", (c) => (c.validator = { $jsonSchema: { properties: { n: { type: "integer" } } } }), /type "integer" is not accepted by MongoDB \(use bsonType "int"/],
    ["an unsupported keyword", (c) => (c.validator = { $jsonSchema: { format: "date-time" } as never }), /keyword "format" is not supported/],
    ["an index on no field", (c) => c.indexes.push({ serves: "nothing", key: {} }), /index engine_stats\.#2: has no field/],
    [
      "a TTL on a compound index",
      (c) => (c.indexes[0].expireAfterSeconds = 3600),
      /index engine_stats\.engine_id_1_ts_-1: TTL \(expireAfterSeconds\) on a compound index of 2 fields/,
    ],
    [
      "two indexes with one name",
      (c) => c.indexes.push({ serves: "by engine", key: { engine_id: 1 }, name: "engine_id_1_ts_-1" }),
      /index engine_stats\.engine_id_1_ts_-1: two indexes named "engine_id_1_ts_-1" \(#1 and #2\)/,
    ],
    ["an index without its query", (c) => c.indexes.push({ serves: "", key: { x: 1 } }), /index engine_stats\.x_1: does not say which query it serves/],
    ["a negative TTL", (c) => c.indexes.push({ serves: "expiry", key: { ts: 1 }, expireAfterSeconds: -1 }), /expireAfterSeconds -1 must be a whole number/],
    ["partial and sparse together", (c) => c.indexes.push({ serves: "x", key: { x: 1 }, sparse: true, partialFilterExpression: { x: 1 } }), /cannot be combined/],
    ["two text indexes", (c) => c.indexes.push({ serves: "a", key: { a: "text" } }, { serves: "b", key: { b: "text" } }), /declares 2 text indexes/],
    ["a bad direction", (c) => c.indexes.push({ serves: "x", key: { x: 2 as never } }), /field "x" has direction 2/],
  ];

  it.each(cases)("%s", async (_label, mutate, message) => {
    const decl = base();
    mutate(decl);
    const problems = checkDeclarations([decl]);
    expect(problems.map((p) => `${p.where}: ${p.message}`).join("\n")).toMatch(message);

    // The reconciler refuses it in its constructor: the client sees no command at all.
    const client = new MongoClient(MONGODB_URL, { monitorCommands: true });
    const sent: CommandStartedEvent[] = [];
    client.on("commandStarted", (e) => sent.push(e));
    try {
      expect(() => new MongoReconciler({ client, database: "never_used", collections: [decl] })).toThrow(DeclarationError);
      expect(() => new MongoReconciler({ client, database: "never_used", collections: [decl] })).toThrow(message);
      expect(sent).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it("lists every problem at once", () => {
    const decl = base();
    decl.indexes.push({ serves: "x", key: {} }, { serves: "y", key: { engine_id: 1, ts: -1 }, name: "engine_id_1_ts_-1" });
    const err = (() => {
      try {
        return checkDeclarations([decl, { name: "engine_stats", indexes: [] }]);
      } catch (e) {
        return e;
      }
    })() as { length: number };
    expect(err.length).toBeGreaterThanOrEqual(3);
  });
});

describe("layers", () => {
  it("the engine imports no declarations: mongo/ imports engines/mongo, never the reverse", async () => {
    const { readdirSync, readFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const dir = join(__dirname, "../../../engines/mongo");
    for (const f of readdirSync(dir).filter((n) => n.endsWith(".ts"))) {
      const text = readFileSync(join(dir, f), "utf8");
      expect(text.match(/from "\.\.\/\.\.\/(mongo|redis|sql|components|providers|config)\b[^"]*"/g), `engines/mongo/${f}`).toBeNull();
    }
  });
});
