// The planner's decisions, offline: from declarations and a server state (as MongoDB's listCollections
// and listIndexes report it) to commands and reviewer lines.
import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { nexusCollections } from "../../../mongo/collections";
import {
  MongoApplyError,
  assertApplicable,
  fullCapabilities,
  indexName,
  lowerValidator,
  planChanges,
  passwordMatchesCredentials,
  planLines,
  scramKeys,
  type Capabilities,
  type CollectionDeclaration,
  type DesiredUser,
  type ObservedCollection,
  type ObservedState,
  type PlanInput,
} from "../../../engines/mongo";

const DB = "nexus_security";

/** What a MongoDB 7 reports after the declarations were applied by nexus-db. */
function applied(decls: CollectionDeclaration[]): ObservedState {
  const collections = new Map<string, ObservedCollection>();
  const managed = new Map();
  for (const d of decls) {
    collections.set(d.name, {
      name: d.name,
      type: "collection",
      validator: d.validator,
      validationLevel: d.validationLevel ?? "strict",
      validationAction: d.validationAction ?? "error",
      indexes: [
        { name: "_id_", key: { _id: 1 } },
        ...d.indexes.map((ix) => {
          const text = Object.entries(ix.key).filter(([, v]) => v === "text");
          const key: Record<string, unknown> = {};
          if (text.length) Object.assign(key, { _fts: "text", _ftsx: 1 });
          else Object.assign(key, ix.key);
          return {
            name: indexName(ix),
            key,
            unique: ix.unique,
            partialFilterExpression: ix.partialFilterExpression,
            expireAfterSeconds: ix.expireAfterSeconds,
            weights: text.length ? Object.fromEntries(text.map(([f]) => [f, ix.weights?.[f] ?? 1])) : undefined,
            default_language: text.length ? "english" : undefined,
          };
        }),
      ],
    });
    managed.set(d.name, { _id: d.name, indexes: d.indexes.map(indexName).sort(), created: true });
  }
  return { collections, managed, users: new Map() };
}

const empty = (): ObservedState => ({ collections: new Map(), managed: new Map(), users: new Map() });
const plan = (over: Partial<PlanInput> & { observed: ObservedState }) =>
  planChanges({ database: DB, collections: nexusCollections(), capabilities: fullCapabilities(), ...over });
const without = (caps: Capabilities, ...features: (keyof Capabilities["has"])[]): Capabilities => ({
  ...caps,
  has: { ...caps.has, ...Object.fromEntries(features.map((f) => [f, false])) },
  ttlInPlace: features.includes("collMod") || features.includes("ttlIndexes") ? false : caps.ttlInPlace,
});

describe("plan on an empty server", () => {
  const p = plan({ observed: empty() });

  it("creates each collection with its validator, then all its indexes in one createIndexes", () => {
    const creates = p.steps.filter((s) => s.kind === "createCollection");
    expect(creates.map((s) => s.collection)).toEqual(nexusCollections().map((c) => c.name));
    expect(creates[0].command).toEqual({
      create: "analysis_results",
      validator: nexusCollections()[0].validator,
      validationLevel: "strict",
      validationAction: "error",
    });
    const ci = p.steps.filter((s) => s.kind === "createIndexes");
    expect(ci).toHaveLength(6);
    expect(ci.reduce((n, s) => n + (s.command.indexes as unknown[]).length, 0)).toBe(25);
    expect(p.actions).toContain("create index file_metadata.sha256_1 (unique)");
    expect(p.actions).toContain("create index engine_stats.ts_1 (TTL 2592000s)");
    expect(p.actions).toContain('create index file_metadata.pe_info.imphash_1 (partial: {"pe_info.imphash":{"$exists":true}})');
    expect(p.actions).toContain(
      'create index analysis_results.analysis_text on { details.summary: "text", details.malware_family: "text" } (text)',
    );
    expect(p.unsupported).toEqual([]);
    expect(p.managed.indexes).toHaveLength(25);
  });

  it("sends the text index with its weights and the TTL from settings", () => {
    const p2 = planChanges({ database: DB, collections: nexusCollections({ engineStatsSeconds: 3600 }), capabilities: fullCapabilities(), observed: empty() });
    const stats = p2.steps.find((s) => s.kind === "createIndexes" && s.collection === "engine_stats")!;
    expect(stats.command.indexes).toContainEqual({ key: { ts: 1 }, name: "ts_1", expireAfterSeconds: 3600 });
    const ar = p2.steps.find((s) => s.kind === "createIndexes" && s.collection === "analysis_results")!;
    expect(ar.command.indexes).toContainEqual({
      key: { "details.summary": "text", "details.malware_family": "text" },
      name: "analysis_text",
      weights: { "details.malware_family": 5, "details.summary": 1 },
    });
  });
});

describe("plan against a converged server", () => {
  it("has nothing to do (text indexes in server form compare equal)", () => {
    const p = plan({ observed: applied(nexusCollections()) });
    expect(p.steps).toEqual([]);
    expect(planLines(p)).toEqual([]);
  });

  it("changes a TTL in place with collMod, without drop and rebuild", () => {
    const p = planChanges({
      database: DB,
      collections: nexusCollections({ engineStatsSeconds: 7200 }),
      capabilities: fullCapabilities(),
      observed: applied(nexusCollections({ engineStatsSeconds: 3600 })),
    });
    expect(p.actions).toEqual(["TTL engine_stats.ts_1: 3600s → 7200s, in place"]);
    expect(p.steps.map((s) => s.command)).toEqual([{ collMod: "engine_stats", index: { name: "ts_1", expireAfterSeconds: 7200 } }]);
  });

  it("rebuilds a TTL change when the server cannot change it in place", () => {
    const p = planChanges({
      database: DB,
      collections: nexusCollections({ engineStatsSeconds: 7200 }),
      capabilities: { ...fullCapabilities(), ttlInPlace: false },
      observed: applied(nexusCollections({ engineStatsSeconds: 3600 })),
    });
    expect(p.actions).toEqual(["rebuild index engine_stats.ts_1: TTL 3600s → 7200s and the server cannot change it in place"]);
    expect(p.steps.map((s) => s.kind)).toEqual(["dropIndexes", "createIndexes"]);
  });

  it("rebuilds an index whose keys changed, and says so", () => {
    const decls = nexusCollections();
    decls[3].indexes[2] = { ...decls[3].indexes[2], key: { final_verdict: 1, confidence_score: -1 }, name: "final_verdict_1_timestamp_-1" };
    const p = plan({ collections: decls, observed: applied(nexusCollections()) });
    expect(p.actions).toEqual([
      "rebuild index consensus_results.final_verdict_1_timestamp_-1: keys changed ({ final_verdict: 1, timestamp: -1 } → { final_verdict: 1, confidence_score: -1 })",
    ]);
    expect(p.steps.map((s) => s.command)).toEqual([
      { dropIndexes: "consensus_results", index: ["final_verdict_1_timestamp_-1"] },
      { createIndexes: "consensus_results", indexes: [{ key: { final_verdict: 1, confidence_score: -1 }, name: "final_verdict_1_timestamp_-1" }] },
    ]);
  });

  it("rebuilds when uniqueness or the partial filter changed", () => {
    const decls = nexusCollections();
    decls[1].indexes[1] = { ...decls[1].indexes[1], unique: true };
    decls[1].indexes[4] = { ...decls[1].indexes[4], partialFilterExpression: { "pe_info.imphash": { $type: "string" } } };
    const p = plan({ collections: decls, observed: applied(nexusCollections()) });
    expect(p.actions).toEqual([
      "rebuild index file_metadata.sha1_1: now unique",
      "rebuild index file_metadata.pe_info.imphash_1: partial filter changed",
    ]);
    expect(p.steps.filter((s) => s.kind === "dropIndexes")).toHaveLength(1);
    expect(p.steps.filter((s) => s.kind === "createIndexes")).toHaveLength(1);
  });

  it("updates a changed validator and validation options with one collMod", () => {
    const decls = nexusCollections();
    const observed = applied(nexusCollections());
    observed.collections.get("engine_stats")!.validator = { $jsonSchema: { bsonType: "object" } };
    observed.collections.get("engine_stats")!.validationAction = "error";
    const p = plan({ collections: decls, observed });
    expect(p.actions).toEqual(["update validator engine_stats: $jsonSchema changed, in place", "validation engine_stats: action error → warn"]);
    expect(p.steps[0].command).toEqual({ collMod: "engine_stats", validator: decls[2].validator, validationLevel: "strict", validationAction: "warn" });
  });

  it("adds a newly declared index and drops one it managed that is no longer declared", () => {
    const decls = nexusCollections();
    const removed = decls[5].indexes.splice(2, 1)[0];
    decls[5].indexes.push({ serves: "reports by sandbox", key: { sandbox: 1 } });
    const p = plan({ collections: decls, observed: applied(nexusCollections()) });
    expect(p.actions).toEqual([`drop index sandbox_reports.${indexName(removed)}: no longer declared`, "create index sandbox_reports.sandbox_1"]);
    const kinds = p.steps.map((s) => s.kind);
    // Recorded as managed before it is created; forgotten only after it is dropped.
    expect(kinds).toEqual(["record", "dropIndexes", "createIndexes", "record"]);
    expect(p.steps[3].command.updates[0].u.indexes).not.toContain(indexName(removed));
    expect(p.steps[0].command.updates[0].u.indexes).toContain("sandbox_1");
  });

  it("leaves alone and reports indexes and collections it never managed", () => {
    const observed = applied(nexusCollections());
    observed.collections.get("file_metadata")!.indexes.push({ name: "file_hash_1", key: { file_hash: 1 }, unique: true });
    observed.collections.set("legacy_reports", { name: "legacy_reports", type: "collection", indexes: [] });
    const p = plan({ observed });
    expect(p.steps).toEqual([]);
    expect(p.unmanaged).toEqual(["unmanaged index file_metadata.file_hash_1: left alone", "unmanaged collection legacy_reports: left alone"]);
  });

  it("refuses to create an index when an unmanaged one holds the same keys", () => {
    const observed = applied(nexusCollections());
    const fm = observed.collections.get("file_metadata")!;
    fm.indexes = fm.indexes.filter((i) => i.name !== "md5_1");
    fm.indexes.push({ name: "legacy_md5", key: { md5: 1 } });
    observed.managed.get("file_metadata")!.indexes = observed.managed.get("file_metadata")!.indexes.filter((n: string) => n !== "md5_1");
    const p = plan({ observed });
    expect(p.conflicts).toEqual([
      "conflict: index file_metadata.md5_1 has the same keys as existing index file_metadata.legacy_md5; drop file_metadata.legacy_md5 by hand or declare it under that name",
    ]);
    expect(() => assertApplicable(p, {})).toThrow(/nothing applied to nexus_security:[\s\S]*conflict: index file_metadata\.md5_1/);
  });
});

describe("collections no longer declared", () => {
  const observed = () => applied(nexusCollections());
  const fewer = () => nexusCollections().filter((c) => c.name !== "sandbox_reports");

  it("are kept and reported by default", () => {
    const p = plan({ collections: fewer(), observed: observed() });
    expect(p.steps).toEqual([]);
    expect(p.notes).toEqual(["keep collection sandbox_reports: no longer declared, kept with its data (dropCollectionsOnDelete is off)"]);
  });

  it("are dropped only when the stack says so, and never in a protected stack", () => {
    const p = plan({ collections: fewer(), observed: observed(), dropCollectionsOnDelete: true });
    expect(p.actions).toEqual(["drop collection sandbox_reports: no longer declared (dropCollectionsOnDelete), its data is deleted"]);
    expect(p.steps.map((s) => s.command)[0]).toEqual({ drop: "sandbox_reports" });
    const prot = plan({ collections: fewer(), observed: observed(), dropCollectionsOnDelete: true, protected: true });
    expect(prot.steps).toEqual([]);
    expect(prot.notes[0]).toMatch(/a protected stack never drops collections/);
  });

  it("are never dropped when nexus-db did not create them", () => {
    const o = observed();
    o.managed.get("sandbox_reports")!.created = false;
    const p = plan({ collections: fewer(), observed: o, dropCollectionsOnDelete: true });
    expect(p.steps).toEqual([]);
    expect(p.notes[0]).toMatch(/nexus-db did not create it/);
  });
});

describe("features the server lacks", () => {
  const ferret = without(fullCapabilities("FerretDB"), "validators", "collMod", "ttlIndexes", "partialIndexes", "textIndexes", "sparseIndexes", "users");

  it("are marked in the plan and left out of the commands", () => {
    const p = plan({ observed: empty(), capabilities: ferret });
    expect(p.unsupported.map((u) => u.text)).toContain("unsupported by server: TTL on engine_stats.ts_1");
    expect(p.unsupported.map((u) => u.text)).toContain("unsupported by server: validator on analysis_results");
    expect(p.unsupported.map((u) => u.text)).toContain("unsupported by server: partial index file_metadata.pe_info.imphash_1");
    expect(p.unsupported.map((u) => u.text)).toContain("unsupported by server: text index analysis_results.analysis_text");
    expect(p.actions).toContain("create index engine_stats.ts_1 without TTL (unsupported by server)");
    const sent = JSON.stringify(p.steps.map((s) => s.command));
    for (const word of ["validator", "expireAfterSeconds", "partialFilterExpression", '"text"', "collMod"]) expect(sent).not.toContain(word);
  });

  it("make apply refuse with the list, unless allowed — never in a protected stack", () => {
    const p = plan({ observed: empty(), capabilities: ferret });
    expect(() => assertApplicable(p, {})).toThrow(MongoApplyError);
    expect(() => assertApplicable(p, {})).toThrow(
      /lacks declared features:[\s\S]*unsupported by server: TTL on engine_stats\.ts_1[\s\S]*mongo.allowMissingFeatures, CLI --allow-missing\): \[validators, partialIndexes, textIndexes, ttlIndexes\]/,
    );
    expect(() => assertApplicable(p, { allowMissingFeatures: ["validators", "partialIndexes", "textIndexes", "ttlIndexes"] })).not.toThrow();
    expect(() => assertApplicable(p, { allowMissingFeatures: ["validators", "partialIndexes", "textIndexes"] })).toThrow(/TTL on engine_stats\.ts_1/);
    expect(() =>
      assertApplicable(p, { allowMissingFeatures: ["validators", "partialIndexes", "textIndexes", "ttlIndexes"], protected: true }),
    ).toThrow(/a protected stack needs them all/);
  });

  it("a TTL change without collMod is a rebuild; a validator change without collMod is unsupported", () => {
    const caps = without(fullCapabilities(), "collMod");
    const observed = applied(nexusCollections({ engineStatsSeconds: 3600 }));
    observed.collections.get("consensus_results")!.validationLevel = "moderate";
    const p = planChanges({ database: DB, collections: nexusCollections({ engineStatsSeconds: 60 }), capabilities: caps, observed });
    expect(p.actions).toEqual(["rebuild index engine_stats.ts_1: TTL 3600s → 60s and the server cannot change it in place"]);
    expect(p.unsupported.map((u) => u.text)).toEqual(["unsupported by server: in-place validator change (collMod) on consensus_results"]);
  });
});

describe("users", () => {
  const users: DesiredUser[] = [
    { name: "nexus_app", password: "app-secret-1", roles: [{ role: "readWrite", db: DB }] },
    { name: "nexus_analytics", password: "ro-secret-1", roles: [{ role: "read", db: DB }] },
  ];
  const converged = () => applied(nexusCollections());

  it("are created with SCRAM-SHA-256 and their roles; no password in the plan's lines", () => {
    const p = plan({ users, observed: converged() });
    expect(p.actions).toEqual([
      `create user nexus_app (readWrite on ${DB}, SCRAM-SHA-256)`,
      `create user nexus_analytics (read on ${DB}, SCRAM-SHA-256)`,
    ]);
    expect(p.steps[0].command).toEqual({ createUser: "nexus_app", pwd: "app-secret-1", roles: [{ role: "readWrite", db: DB }], mechanisms: ["SCRAM-SHA-256"] });
    expect(planLines(p).join("\n")).not.toMatch(/secret/);
  });

  it("are left alone when password and roles match the stored SCRAM credentials, and updated when not", () => {
    const salt = Buffer.from("0123456789abcdef0123456789").toString("base64");
    const cred = (user: string, pwd: string) => ({ "SCRAM-SHA-256": { iterationCount: 15000, salt, ...scramKeys("SCRAM-SHA-256", user, pwd, salt, 15000) } });
    const o = converged();
    o.users = new Map([
      ["nexus_app", { name: "nexus_app", roles: users[0].roles, passwordMatches: passwordMatchesCredentials("nexus_app", "app-secret-1", cred("nexus_app", "app-secret-1")) }],
      ["nexus_analytics", { name: "nexus_analytics", roles: [{ role: "readWrite", db: DB }], passwordMatches: passwordMatchesCredentials("nexus_analytics", "ro-secret-1", cred("nexus_analytics", "old-password")) }],
    ]);
    const p = plan({ users, observed: o });
    expect(p.actions).toEqual([`update user nexus_analytics: password changed; roles readWrite on ${DB} → read on ${DB}`]);
    expect(p.steps[0].command).toEqual({ updateUser: "nexus_analytics", pwd: "ro-secret-1", mechanisms: ["SCRAM-SHA-256"], roles: [{ role: "read", db: DB }] });
  });

  it("are marked unsupported when the server has no user management", () => {
    const p = plan({ users, observed: converged(), capabilities: without(fullCapabilities(), "users") });
    expect(p.unsupported.map((u) => u.text)).toEqual([
      `unsupported by server: user nexus_app (readWrite on ${DB})`,
      `unsupported by server: user nexus_analytics (read on ${DB})`,
    ]);
    expect(p.steps).toEqual([]);
  });
});

describe("SCRAM key derivation", () => {
  it("matches the RFC 7677 SCRAM-SHA-256 exchange (user/pencil)", () => {
    const k = scramKeys("SCRAM-SHA-256", "user", "pencil", "W22ZaJ0SNY7soEsUEjb6gQ==", 4096);
    const nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const authMessage = `n=user,r=rOprNGfwEbeRWgbNEkqO,r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=${nonce}`;
    // The server signature the RFC's server sends proves ServerKey...
    expect(createHmac("sha256", Buffer.from(k.serverKey, "base64")).update(authMessage).digest("base64")).toBe(
      "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
    );
    // ...and the RFC client's proof, unmasked with StoredKey, hashes back to StoredKey.
    const proof = Buffer.from("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "base64");
    const signature = createHmac("sha256", Buffer.from(k.storedKey, "base64")).update(authMessage).digest();
    const clientKey = Buffer.from(proof.map((b, i) => b ^ signature[i]));
    expect(createHash("sha256").update(clientKey).digest("base64")).toBe(k.storedKey);
  });

  it("tells a matching password from a changed one, and says when it cannot tell", () => {
    const salt = Buffer.from("salt-salt-salt").toString("base64");
    const stored = { "SCRAM-SHA-256": { iterationCount: 4096, salt, ...scramKeys("SCRAM-SHA-256", "u", "right", salt, 4096) } };
    expect(passwordMatchesCredentials("u", "right", stored)).toBe(true);
    expect(passwordMatchesCredentials("u", "wrong", stored)).toBe(false);
    expect(passwordMatchesCredentials("u", "right", undefined)).toBeUndefined();
  });
});

describe("validators in DocumentDB's dialect (lowered, offline)", () => {
  const documentdb = {
    ...fullCapabilities("DocumentDB"),
    validation: {
      onCreate: false,
      unsupportedKeywords: ["title", "description", "required", "enum", "additionalProperties", "anyOf"],
      queryOperators: true,
      expr: true,
      violationCode: 525074461,
    },
  };

  it("keeps a validator unchanged on a server that takes every keyword", () => {
    const v = { $jsonSchema: { bsonType: "object" as const, required: ["a"] } };
    expect(lowerValidator("c", v, fullCapabilities().validation)).toEqual({ validator: v, lowered: [], unenforced: [] });
  });

  it("lowers required, enum, additionalProperties: false and rules inside array items to query operators", () => {
    const r = lowerValidator(
      "c",
      {
        $jsonSchema: {
          bsonType: "object",
          title: "c",
          required: ["a"],
          additionalProperties: false,
          properties: {
            _id: { bsonType: "objectId" },
            a: { bsonType: "string", description: "x" },
            kind: { enum: ["x", "y"] },
            list: { bsonType: "array", items: { bsonType: "object", required: ["name"], properties: { name: { bsonType: "string" } } } },
          },
        },
      },
      documentdb.validation,
    );
    expect(r.unenforced).toEqual([]);
    expect(r.lowered).toEqual(["required → $exists (2)", "additionalProperties: false → $expr (1)", "enum → $in (1)"]);
    expect(r.validator).toEqual({
      $and: [
        {
          $jsonSchema: {
            bsonType: "object",
            properties: {
              _id: { bsonType: "objectId" },
              a: { bsonType: "string" },
              kind: {},
              list: { bsonType: "array", items: { bsonType: "object", properties: { name: { bsonType: "string" } } } },
            },
          },
        },
        { a: { $exists: true } },
        { $expr: { $setIsSubset: [{ $map: { input: { $objectToArray: "$$ROOT" }, as: "f", in: "$$f.k" } }, ["_id", "a", "kind", "list"]] } },
        { $or: [{ kind: { $exists: false } }, { kind: { $in: ["x", "y"], $not: { $type: "array" } } }] },
        { $or: [{ list: { $exists: false } }, { list: { $not: { $elemMatch: { $nor: [{ name: { $exists: true } }] } } } }] },
      ],
    });
  });

  it("names each rule it cannot express instead of dropping it silently", () => {
    const r = lowerValidator(
      "c",
      { $jsonSchema: { bsonType: "object", properties: { votes: { bsonType: "object", additionalProperties: { bsonType: "int" } }, any: { anyOf: [{ bsonType: "int" }] } } } },
      documentdb.validation,
    );
    expect(r.unenforced.map((u) => u.rule)).toEqual(["c.votes.additionalProperties", "c.any.anyOf"]);
  });

  it("plans create then collMod, reports per collection what is lowered and what is not enforced", () => {
    const p = plan({ observed: empty(), capabilities: documentdb });
    expect(p.steps[0].command).toEqual({ create: "analysis_results" });
    expect(p.steps[1]).toMatchObject({ kind: "updateValidation", command: { collMod: "analysis_results", validationLevel: "strict", validationAction: "error" } });
    expect(p.actions[0]).toBe("create collection analysis_results (validator strict/error, set with collMod after create: the server drops a validator given to create)");
    expect(planLines(p)).toContain("not enforced by server: consensus_results.vote_distribution.additionalProperties (additionalProperties with a schema has no query equivalent)");
    expect(p.enforcement.find((e) => e.collection === "analysis_results")?.lowered).toEqual(["required → $exists (6)", "enum → $in (1)"]);
    expect(() => assertApplicable(p, { protected: true })).toThrow(/cannot enforce declared rules:[\s\S]*consensus_results\.vote_distribution\.additionalProperties/);
    expect(() => assertApplicable(p, { protected: true, allowUnenforcedRules: ["consensus_results.vote_distribution.additionalProperties"] })).not.toThrow();
    expect(() => assertApplicable(p, {})).not.toThrow();
  });
});
