// MongoSchema: the provider's methods called as the dynamic-provider host calls them (check → diff →
// create/update → delete) against MONGODB_URL, and the resource registered under the mock runtime,
// which serializes the provider's closure the way `pulumi up` does.
import { MongoClient } from "mongodb";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nexusCollections } from "../../mongo/collections";
import type { MongoSchemaInputs, MongoSchemaOutputs } from "../../providers/mongo-schema";
import { MONGODB_URL } from "../helpers/env";
import { testDatabase } from "../engines/mongo/helpers";
import { UNKNOWN } from "../../providers/runtime";
import { installMocks, type MockRuntime } from "../helpers/mocks";

type ProviderModule = typeof import("../../providers/mongo-schema");
let mod: ProviderModule;
let mocks: MockRuntime;
const databases: string[] = [];
let admin: MongoClient;

beforeAll(async () => {
  // Mocks first, then the module that uses @pulumi/pulumi.
  mocks = installMocks({ stack: "test", preview: true });
  mod = await import("../../providers/mongo-schema");
  admin = await MongoClient.connect(MONGODB_URL);
});

afterAll(async () => {
  for (const d of databases) await admin.db(d).dropDatabase().catch(() => undefined);
  await admin.close();
});

const ALL_MISSING = ["validators", "collMod", "ttlIndexes", "partialIndexes", "textIndexes", "sparseIndexes", "users"] as const;

/** check as the host calls it: old and new inputs are whatever the program and the state hold. */
function check(olds: Partial<MongoSchemaInputs>, newInputs: Partial<MongoSchemaInputs>) {
  return mod.mongoSchemaProvider.check!(olds as MongoSchemaInputs, newInputs as MongoSchemaInputs);
}

function news(database: string, over: Partial<MongoSchemaInputs> = {}): Partial<MongoSchemaInputs> {
  databases.push(database);
  return {
    connection: { url: MONGODB_URL },
    database,
    collections: nexusCollections(),
    allowMissingFeatures: [...ALL_MISSING],
    ...over,
  };
}

/** A line of the plan that is an action (not a report of what the server lacks or does not enforce). */
const isAction = (l: string) => !/^(unsupported by server: |not enforced by server: |validator \S+: enforced as )/.test(l);

describe("MongoSchema provider", () => {
  it("check plans against the server, diff asks for an update, create applies; the next preview has nothing to do", async () => {
    const p = mod.mongoSchemaProvider;
    const db = testDatabase();
    const checked = await check({}, news(db));
    expect(checked.failures ?? []).toEqual([]);
    const inputs = checked.inputs as MongoSchemaInputs;
    expect(inputs.pendingActions).toContain("create index file_metadata.sha256_1 (unique)");
    expect(inputs.pendingWrites).toBeGreaterThan(0);
    expect(inputs.refusals).toEqual([]);

    const created = await p.create(inputs);
    expect(created.id).toBe(`mongo:${db}`);
    const outs = created.outs as MongoSchemaOutputs;
    expect(outs.managedCollections).toHaveLength(6);
    expect(outs.managedIndexes).toContain("file_metadata.sha256_1");
    expect(outs.appliedActions).toContain("create index file_metadata.sha256_1 (unique)");
    expect((await admin.db(db).listCollections().toArray()).map((c) => c.name)).toContain("threat_indicators");

    // Next preview: check gets the old inputs (with the probe to reuse), diff the old outputs.
    const again = (await check(inputs, news(db))).inputs as MongoSchemaInputs;
    expect(again.pendingWrites).toBe(0);
    expect(again.pendingActions.filter(isAction)).toEqual([]);
    expect((await p.diff!(created.id, outs, again)).changes).toBe(false);
  });

  it("shows a declaration change as actions in the diff and applies it with update", async () => {
    const p = mod.mongoSchemaProvider;
    const db = testDatabase();
    const first = (await check({}, news(db))).inputs as MongoSchemaInputs;
    const { id, outs } = await p.create(first);

    const decls = nexusCollections();
    decls.find((c) => c.name === "engine_stats")!.indexes.push({ serves: "stats of one engine type", key: { engine_type: 1 } });
    const next = (await check(first, news(db, { collections: decls }))).inputs as MongoSchemaInputs;
    expect(next.pendingActions.filter(isAction)).toEqual(["create index engine_stats.engine_type_1"]);
    const d = await p.diff!(id, outs as MongoSchemaOutputs, next);
    expect(d).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    const updated = await p.update!(id, outs as MongoSchemaOutputs, next);
    expect((updated.outs as MongoSchemaOutputs).appliedActions).toEqual(["create index engine_stats.engine_type_1"]);
  });

  it("a plan apply would refuse is a change, so that up stops with the reasons", async (ctx) => {
    const p = mod.mongoSchemaProvider;
    const db = testDatabase();
    const first = (await check({}, news(db))).inputs as MongoSchemaInputs;
    const { id, outs } = await p.create(first);
    const caps = (outs as MongoSchemaOutputs).capabilities;
    if (Object.values(caps.has).every(Boolean)) {
      // Every feature: what a protected stack refuses is a declared rule the server cannot enforce.
      const strict = (await check(first, news(db, { allowMissingFeatures: [], protected: true }))).inputs as MongoSchemaInputs;
      ctx.skip(strict.refusals.length === 0, `${caps.server} has every feature and enforces every declared rule: nothing to refuse`);
      expect((await p.diff!(id, outs as MongoSchemaOutputs, strict)).changes).toBe(true);
      await expect(p.update!(id, outs as MongoSchemaOutputs, strict)).rejects.toThrow(/nothing applied to .*cannot enforce declared rules/s);
      return;
    }
    const strict = (await check(first, news(db, { allowMissingFeatures: [] }))).inputs as MongoSchemaInputs;
    expect(strict.refusals.length).toBeGreaterThan(0);
    expect((await p.diff!(id, outs as MongoSchemaOutputs, strict)).changes).toBe(true);
    await expect(p.update!(id, outs as MongoSchemaOutputs, strict)).rejects.toThrow(/nothing applied to .*lacks declared features/s);
  });

  it("check refuses bad declarations and protected-stack settings with the property and the reason", async () => {
    const decls = nexusCollections();
    decls[0].indexes.push({ serves: "x", key: { a: 1, b: 1 }, expireAfterSeconds: 60 });
    const r = await check({}, news(testDatabase(), { collections: decls, protected: true, dropCollectionsOnDelete: true }));
    expect(r.failures).toEqual([
      { property: "collections", reason: "index analysis_results.a_1_b_1: TTL (expireAfterSeconds) on a compound index of 2 fields; TTL needs a single date field" },
      { property: "dropCollectionsOnDelete", reason: "a protected stack never drops collections; set it to false" },
      { property: "allowMissingFeatures", reason: "a protected stack must have every feature" },
    ]);
  });

  it("plans as for an empty server while the connection is unknown (first preview)", async () => {
    const r = await check({}, news("not_yet", { connection: UNKNOWN as never }));
    const inputs = r.inputs as MongoSchemaInputs;
    expect(inputs.pendingActions[0]).toMatch(/server not reachable yet/);
    expect(inputs.pendingActions).toContain("create index engine_stats.ts_1 (TTL 2592000s)");
  });

  it("keeps passwords out of the plan and the outputs; delete keeps the collections unless the stack drops them", async () => {
    const p = mod.mongoSchemaProvider;
    const db = testDatabase();
    // User names of their own: on DocumentDB users belong to the server, not to a database.
    const users = { app: { name: `${db}_app`, password: "pw-app-Secret-1" }, analytics: { name: `${db}_analytics`, password: "pw-ro-Secret-2" } };
    const inputs = (await check({}, news(db, { users }))).inputs as MongoSchemaInputs;
    try {
      const { id, outs } = await p.create(inputs);
      const text = JSON.stringify({ pending: inputs.pendingActions, outs });
      expect(text).not.toMatch(/Secret-/);
      expect(inputs.pendingActions.some((l) => l.includes(`user ${db}_app`))).toBe(true);

      await p.delete!(id, outs as MongoSchemaOutputs);
      expect((await admin.db(db).listCollections().toArray()).length).toBeGreaterThanOrEqual(6);
      // A stack that drops on delete keeps its connection in the outputs (this one did not: given here).
      await p.delete!(id, { ...(outs as MongoSchemaOutputs), dropCollectionsOnDelete: true, connection: inputs.connection });
      const left = (await admin.db(db).listCollections().toArray()).map((c) => c.name);
      expect(left.filter((n) => n !== "nexus_db_managed")).toEqual([]);
    } finally {
      for (const u of [users.app.name, users.analytics.name]) await admin.db(db).command({ dropUser: u }).catch(() => undefined);
    }
  });
});

describe("MongoSchema resource", () => {
  it("registers one dynamic resource with its declarations, a serialized provider that captured no client or secret", async () => {
    const db = "nexus_security";
    const res = new mod.MongoSchema("mongo-schema", {
      connection: pulumi.secret({ url: "mongodb://admin:Hunter2-never@db.internal:27017/" }),
      database: db,
      collections: nexusCollections({ engineStatsSeconds: 3600 }),
      users: { app: { name: "nexus_app", password: "App-Pw-never" }, analytics: { name: "nexus_analytics", password: "Ro-Pw-never" } },
      allowMissingFeatures: ["ttlIndexes"],
    });
    await new Promise<void>((resolve) => res.urn.apply(() => resolve()));
    const r = mocks.byName("mongo-schema");
    expect(r.type).toBe("pulumi-nodejs:dynamic/nexus:db:MongoSchema");
    expect(r.inputs.database).toBe(db);
    expect(r.inputs.allowMissingFeatures).toEqual(["ttlIndexes"]);
    expect(r.inputs.collections).toHaveLength(6);
    const stats = (r.inputs.collections as { name: string; indexes: { name?: string; key: object; expireAfterSeconds?: number }[] }[]).find((c) => c.name === "engine_stats")!;
    expect(stats.indexes.find((i) => i.expireAfterSeconds !== undefined)?.expireAfterSeconds).toBe(3600);
    const provider = String(r.inputs.__provider);
    expect(provider).toMatch(/loadEngine/);
    expect(provider).not.toMatch(/Hunter2|App-Pw|Ro-Pw|MongoClient\(/);
  });
});

describe("index keys through Pulumi's state", () => {
  it("keep their declared order when the state sorts object keys", async () => {
    const { collectionsToWire, collectionsFromWire } = await import("../../providers/mongo-schema");
    const declared = [{ name: "c", indexes: [{ serves: "q", key: { submission_id: 1, engine_id: -1 } as Record<string, 1 | -1> }] }];
    // What a property map does to an object: keys sorted.
    const sortKeys = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(sortKeys) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, sortKeys(x)])) : v;
    const back = collectionsFromWire(sortKeys(collectionsToWire(declared)) as unknown[]);
    expect(Object.keys(back[0].indexes[0].key)).toEqual(["submission_id", "engine_id"]);
  });
});
