// The keyspace layout as data: the document `nexus-db redis layout --json` prints and the stack
// exports, checked against the committed JSON Schema (redis/keyspace-layout.schema.json) with ajv,
// in standalone and cluster mode, and the schema refusing documents that break it.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import Ajv, { type ValidateFunction } from "ajv";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli";
import { keyspaceLayout, layoutDocument, LAYOUT_SCHEMA_FILE, type LayoutDocument } from "../../config/redis-layout-document";
import { CHANNELS, LOGICAL_DATABASE_NAMES } from "../../redis/layout";
import { warmupKeyPatterns } from "../../engines/redis/warmup-spec";
import { WARMUP_SPEC } from "../../redis/warmup";

const ROOT = path.join(__dirname, "..", "..");
let validate: ValidateFunction;

beforeAll(() => {
  const schema = JSON.parse(readFileSync(path.join(ROOT, LAYOUT_SCHEMA_FILE), "utf8")) as object;
  validate = new Ajv({ allErrors: true, strict: true }).compile(schema);
});

const errors = () => (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);

function cli(args: string[]) {
  const r = runCli(["redis", "layout", ...args]);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("the layout document", () => {
  it("standalone: the spec's six numbered databases, their TTLs, the warmed keys, the channels — valid against the schema", () => {
    const doc = layoutDocument(keyspaceLayout());
    expect(validate(doc), errors().join("\n")).toBe(true);
    expect(doc.mode).toBe("standalone");
    expect(doc.requiredDatabases).toBe(6);
    expect(doc.databases.map((d) => [d.name, d.db, d.ttlSeconds, d.keyPattern, d.clusterKeyPrefix])).toEqual([
      ["sessions", 0, null, "nexus:session:*", "nexus:session:"],
      ["rateLimit", 1, null, "nexus:ratelimit:*", "nexus:ratelimit:"],
      ["analysisCache", 2, 86400, "nexus:analysis:*", "nexus:analysis:"],
      ["reputationCache", 3, null, "nexus:reputation:*", "nexus:reputation:"],
      ["tempFiles", 4, 3600, "nexus:tmpfile:*", "nexus:tmpfile:"],
      ["websockets", 5, null, "nexus:ws:*", "nexus:ws:"],
    ]);
    expect(doc.databases.find((d) => d.name === "reputationCache")!.keys.map((k) => k.pattern)).toEqual(["nexus:reputation:engine:{key}", "nexus:reputation:ranking:{key}", "nexus:reputation:warmup:{key}"]);
    expect(doc.channels.map((c) => c.channel)).toEqual(Object.values(CHANNELS));
  });

  it("cluster: one database, a prefix per logical database; the keys listed are exactly what the warmup user may write", () => {
    const layout = keyspaceLayout({ cluster: true, keyPrefix: "nx:" });
    const doc = layoutDocument(layout);
    expect(validate(doc), errors().join("\n")).toBe(true);
    expect(doc.requiredDatabases).toBe(1);
    expect(doc.databases.every((d) => d.db === 0 && d.keyPrefix === d.clusterKeyPrefix)).toBe(true);
    expect(doc.databases.map((d) => d.standaloneDb)).toEqual(LOGICAL_DATABASE_NAMES.map((_, i) => i));
    const listed = doc.databases.flatMap((d) => d.keys.map((k) => k.pattern.replace("{key}", "*")));
    expect(listed.sort()).toEqual(warmupKeyPatterns(WARMUP_SPEC, layout).sort());
  });

  it("the schema refuses what breaks it (so the checks above can fail)", () => {
    const good = layoutDocument(keyspaceLayout());
    const broken: unknown[] = [
      { ...good, mode: "sharded" },
      { ...good, keyPrefix: "nexus*" },
      { ...good, databases: [{ ...good.databases[0], db: -1 }] },
      { ...good, databases: [{ ...good.databases[0], ttlSeconds: 0 }] },
      { ...good, extra: true },
      (({ channels: _c, ...rest }: LayoutDocument) => rest)(good),
    ];
    for (const doc of broken) expect(validate(doc), JSON.stringify(doc).slice(0, 120)).toBe(false);
  });
});

describe("nexus-db redis layout", () => {
  it("--json prints the document (valid), --cluster and --key-prefix select the mode; without --json a table", () => {
    const json = cli(["--json", "--cluster", "--key-prefix", "nx:"]);
    expect(json.status, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as LayoutDocument;
    expect(validate(doc), errors().join("\n")).toBe(true);
    expect(doc).toEqual(layoutDocument(keyspaceLayout({ cluster: true, keyPrefix: "nx:" })));
    const text = cli([]);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain("standalone keyspace, key prefix nexus:, needs 6 databases");
    expect(text.stdout).toMatch(/DB 2 {2}analysisCache +nexus:analysis:\* +TTL 86400s/);
    expect(text.stdout).toContain("analysis:completed");
  });

  it("a globbing prefix is refused with the rule", () => {
    const r = cli(["--key-prefix", "nexus*"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/nexus-db redis layout: redis key prefix "nexus\*" must be letters/);
  });
});
