// `nexus-db mongo <plan|apply|status>` over the same engine, against MONGODB_URL.
import { MongoClient } from "mongodb";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { run } from "../../cli/mongo";
import { MONGODB_URL } from "../helpers/env";
import { testDatabase } from "../engines/mongo/helpers";

const dbs: string[] = [];
afterEach(() => vi.restoreAllMocks());
afterAll(async () => {
  const c = await MongoClient.connect(MONGODB_URL);
  for (const d of dbs) await c.db(d).dropDatabase();
  await c.close();
});

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, "log").mockImplementation((...a) => void out.push(a.join(" ")));
  vi.spyOn(console, "error").mockImplementation((...a) => void err.push(a.join(" ")));
  const code = await run(args);
  vi.restoreAllMocks();
  return { code, out: out.join("\n"), err: err.join("\n") };
}

function urlFor(db: string): string {
  const u = new URL(MONGODB_URL);
  u.pathname = `/${db}`;
  return u.toString();
}

describe("nexus-db mongo", () => {
  it("refuses bad usage with status 2", async () => {
    expect((await cli(["frobnicate", "--url", MONGODB_URL])).code).toBe(2);
    expect((await cli(["plan", "--url", MONGODB_URL, "--allow-missing", "ttl"])).err).toMatch(/option\.allowMissingFeatures\.0/);
    expect((await cli(["plan", "--url", MONGODB_URL, "--ttl-engine-stats", "soon"])).err).toMatch(/--ttl-engine-stats takes a whole number/);
  });

  it("plans, applies (allowing what the server lacks), then has nothing to do", async () => {
    const db = testDatabase();
    dbs.push(db);
    const plan = await cli(["plan", "--url", urlFor(db), "--json"]);
    expect(plan.code).toBe(0);
    const p = JSON.parse(plan.out) as { database: string; actions: string[]; unsupported: string[]; blocking: string[] };
    expect(p.database).toBe(db);
    expect(p.actions).toContain("create index file_metadata.sha256_1 (unique)");

    const allow = p.unsupported.length
      ? ["--allow-missing", "validators", "--allow-missing", "ttlIndexes", "--allow-missing", "partialIndexes", "--allow-missing", "textIndexes"]
      : [];
    if (p.blocking.length) {
      const refused = await cli(["apply", "--url", urlFor(db)]);
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/nothing applied to .*:\n[\s\S]*unsupported by server: /);
    }
    const applied = await cli(["apply", "--url", urlFor(db), ...allow]);
    expect(applied.err).toBe("");
    expect(applied.code).toBe(0);
    expect(applied.out).toMatch(/done: create index file_metadata\.sha256_1 \(unique\)/);

    const again = await cli(["apply", "--url", urlFor(db), ...allow]);
    expect(again.out).toMatch(/nothing to do/);
    const status = await cli(["status", "--url", urlFor(db), ...allow, "--json"]);
    const s = JSON.parse(status.out) as { pending: string[]; managed: { collections: string[] } };
    expect(s.pending).toEqual([]);
    expect(s.managed.collections).toHaveLength(6);
  });
});
