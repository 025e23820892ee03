import { describe, expect, it } from "vitest";
import { buildKeyspaceLayout, type KeyspaceOptions } from "../../../engines/redis/keyspace";
import { warmupKeyPatterns } from "../../../engines/redis/warmup-spec";
import { CHANNELS, KEYSPACE, LOGICAL_DATABASE_NAMES } from "../../../redis/layout";
import { WARMUP_SPEC } from "../../../redis/warmup";

const keyspaceLayout = (options?: KeyspaceOptions) => buildKeyspaceLayout(KEYSPACE, options);
import { aclRules } from "../../../engines/redis/render";
import { parseRedisSettings } from "../../../engines/redis/settings";
import { REDIS_DECLARATIONS } from "../../../redis/declarations";

describe("keyspace layout", () => {
  it("standalone: the spec's six databases under nexus:", () => {
    const l = keyspaceLayout();
    expect(LOGICAL_DATABASE_NAMES.map((n) => [n, l.database(n).db, l.database(n).ttlSeconds])).toEqual([
      ["sessions", 0, undefined],
      ["rateLimit", 1, undefined],
      ["analysisCache", 2, 86400],
      ["reputationCache", 3, undefined],
      ["tempFiles", 4, 3600],
      ["websockets", 5, undefined],
    ]);
    // Each logical database is a namespace in standalone mode too: ACL patterns can tell them apart.
    expect(l.database("sessions").key("abc")).toBe("nexus:session:abc");
    expect(l.database("reputationCache").key("engine", 7)).toBe("nexus:reputation:engine:7");
    expect(l.aclKeyPatterns()).toEqual(["nexus:session:*", "nexus:ratelimit:*", "nexus:analysis:*", "nexus:reputation:*", "nexus:tmpfile:*", "nexus:ws:*"]);
    expect(l.requiredDatabases).toBe(6);
  });

  it("cluster: every logical database is a distinct prefix on DB 0, same API", () => {
    const l = keyspaceLayout({ cluster: true });
    const dbs = LOGICAL_DATABASE_NAMES.map((n) => l.database(n));
    expect(dbs.every((d) => d.db === 0)).toBe(true);
    const prefixes = dbs.map((d) => d.keyPrefix);
    expect(new Set(prefixes).size).toBe(LOGICAL_DATABASE_NAMES.length);
    expect(prefixes.every((p) => p.startsWith("nexus:"))).toBe(true);
    // No prefix contains another, so no logical database's keys match another's pattern.
    for (const a of prefixes) for (const b of prefixes) if (a !== b) expect(b.startsWith(a)).toBe(false);
    expect(l.database("sessions").key("abc")).toBe("nexus:session:abc");
    expect(l.database("reputationCache").key("engine", 7)).toBe("nexus:reputation:engine:7");
    expect(l.database("analysisCache").ttlSeconds).toBe(86400);
    expect(l.aclKeyPatterns()).toEqual(prefixes.map((p) => `${p}*`));
    expect(l.requiredDatabases).toBe(1);
  });

  it("ACL patterns follow the mode", () => {
    const standalone = parseRedisSettings({});
    const cluster = parseRedisSettings({ cluster: true });
    expect(aclRules("app", standalone, REDIS_DECLARATIONS).filter((r) => r.startsWith("~"))).toEqual(aclRules("app", cluster, REDIS_DECLARATIONS).filter((r) => r.startsWith("~")));
    // The read-only user reads every logical database but sessions, in both modes.
    for (const s of [standalone, cluster]) {
      expect(aclRules("readonly", s, REDIS_DECLARATIONS).filter((r) => /^[%~]/.test(r))).toEqual([
        "%R~nexus:ratelimit:*",
        "%R~nexus:analysis:*",
        "%R~nexus:reputation:*",
        "%R~nexus:tmpfile:*",
        "%R~nexus:ws:*",
      ]);
    }
    expect(aclRules("app", cluster, REDIS_DECLARATIONS).filter((r) => r.startsWith("~"))).toEqual([
      "~nexus:session:*",
      "~nexus:ratelimit:*",
      "~nexus:analysis:*",
      "~nexus:reputation:*",
      "~nexus:tmpfile:*",
      "~nexus:ws:*",
    ]);
    expect(aclRules("app", cluster, REDIS_DECLARATIONS).filter((r) => r.startsWith("&"))).toEqual(Object.values(CHANNELS).map((c) => `&${c}`));
    const w = warmupKeyPatterns(WARMUP_SPEC, keyspaceLayout({ cluster: true }));
    expect(w.every((p) => /^nexus:(ratelimit|reputation|analysis):/.test(p))).toBe(true);
    expect(aclRules("warmup", cluster, REDIS_DECLARATIONS).filter((r) => r.startsWith("~"))).toEqual(w.map((p) => `~${p}`));
  });

  it("a custom prefix flows through, a globbing one is refused", () => {
    expect(keyspaceLayout({ keyPrefix: "nx:", cluster: true }).database("websockets").key("c1")).toBe("nx:ws:c1");
    expect(() => keyspaceLayout({ keyPrefix: "nexus*" })).toThrow(/must be letters/);
    expect(() => keyspaceLayout().database("nope" as never)).toThrow(/unknown logical Redis database "nope"/);
  });

  it("the channels are the spec's five", () => {
    expect(Object.values(CHANNELS).sort()).toEqual(
      ["analysis:completed", "analysis:started", "consensus:reached", "payment:processed", "reputation:updated"].sort(),
    );
  });
});
