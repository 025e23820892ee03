import { describe, expect, it } from "vitest";
import { parseMemorySize, parseRedisSettings, RedisSettingsError } from "../../../engines/redis/settings";
import { renderAclFile, renderRedisConf } from "../../../engines/redis/render";
import { KEYSPACE } from "../../../redis/layout";
import { REDIS_DECLARATIONS } from "../../../redis/declarations";

function problems(input: unknown, dev = false): { path: string; message: string }[] {
  try {
    parseRedisSettings(input, { dev, keyspace: KEYSPACE });
  } catch (e) {
    if (e instanceof RedisSettingsError) return e.problems;
    throw e;
  }
  throw new Error("settings were accepted");
}

describe("Redis settings", () => {
  it("fills every default, with the spec's allkeys-lru and AOF everysec", () => {
    const s = parseRedisSettings({}, { dev: true });
    expect(s).toMatchObject({
      keyPrefix: "nexus:",
      cluster: false,
      bind: ["127.0.0.1"],
      protectedMode: true,
      port: 6379,
      maxmemory: 256 * 1024 * 1024,
      maxmemoryPolicy: "allkeys-lru",
      databases: 16,
      persistence: { appendonly: true, appendfsync: "everysec", dir: "/data" },
      timeouts: { idleSeconds: 0, tcpKeepaliveSeconds: 300 },
      slowlog: { slowerThanMicros: 10000, maxLen: 128 },
      keyspaceNotifications: "",
      acl: { defaultUser: true, users: { app: { name: "nexus_app", enabled: true } } },
    });
    expect(s.tls.port).toBeUndefined();
    // Outside dev the passwordless default user is off by default.
    expect(parseRedisSettings({}).acl.defaultUser).toBe(false);
  });

  it("parses memory sizes the way redis.conf does", () => {
    expect(parseMemorySize("256mb")).toBe(256 * 1024 ** 2);
    expect(parseMemorySize("1gb")).toBe(1024 ** 3);
    expect(parseMemorySize("1g")).toBe(1e9);
    expect(parseMemorySize("100k")).toBe(100_000);
    expect(parseMemorySize("512")).toBe(512);
    expect(parseMemorySize(0)).toBe(0);
    expect(parseMemorySize("lots")).toBeUndefined();
    expect(parseMemorySize("12tb")).toBeUndefined();
    expect(parseMemorySize(-1)).toBeUndefined();
    expect(parseRedisSettings({ maxmemory: "2GB" }).maxmemory).toBe(2 * 1024 ** 3);
  });

  it("rejects maxmemory: lots, naming redis.maxmemory", () => {
    const p = problems({ maxmemory: "lots" });
    expect(p).toEqual([{ path: "redis.maxmemory", message: expect.stringMatching(/"lots" is not a memory size.*256mb/) }]);
  });

  it("reports a bad field and a cross-field problem together", () => {
    expect(problems({ maxmemory: "lots", databases: 3, tls: { port: 6380 } }).map((x) => x.path).sort()).toEqual([
      "redis.databases",
      "redis.maxmemory",
      "redis.tls.certFile",
      "redis.tls.keyFile",
    ]);
  });

  it("rejects an unknown eviction policy", () => {
    const p = problems({ maxmemoryPolicy: "allkeys-lfru" });
    expect(p.map((x) => x.path)).toEqual(["redis.maxmemoryPolicy"]);
    expect(p[0].message).toMatch(/allkeys-lru/);
  });

  it("rejects a layout DB index beyond `databases`", () => {
    const p = problems({ databases: 4 });
    expect(p).toEqual([
      { path: "redis.databases", message: expect.stringMatching(/leave out DB 4 \(tempFiles\), DB 5 \(websockets\).*at least 6/) },
    ]);
    // Cluster mode has one database; the layout then uses key prefixes, so the count does not matter.
    expect(parseRedisSettings({ databases: 1, cluster: true }).cluster).toBe(true);
  });

  it("rejects a TLS port without certificate and key", () => {
    const p = problems({ tls: { port: 6380 } });
    expect(p.map((x) => x.path).sort()).toEqual(["redis.tls.certFile", "redis.tls.keyFile"]);
    expect(p[0].message).toMatch(/tls.port 6380 needs/);
    expect(problems({ tls: { port: 6380, certFile: "c.pem", keyFile: "k.pem", authClients: "yes" } })).toEqual([
      { path: "redis.tls.caCertFile", message: expect.stringMatching(/needs tls.caCertFile/) },
    ]);
    expect(problems({ port: 0 }).map((x) => x.path)).toEqual(["redis.port"]);
  });

  it("refuses the passwordless default user outside dev", () => {
    expect(problems({ acl: { defaultUser: true } })).toEqual([
      { path: "redis.acl.defaultUser", message: expect.stringMatching(/only in dev/) },
    ]);
    expect(parseRedisSettings({ acl: { defaultUser: true } }, { dev: true }).acl.defaultUser).toBe(true);
  });

  it("lists every problem, unknown keys included, under a custom base path", () => {
    let err: unknown;
    try {
      parseRedisSettings({ maxmemry: "1gb", slowlog: { maxLen: -1 }, acl: { users: { app: { name: "a b" } } } }, { path: "nexus-db:redis" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RedisSettingsError);
    const paths = (err as RedisSettingsError).problems.map((p) => p.path).sort();
    expect(paths).toEqual(["nexus-db:redis.acl.users.app.name", "nexus-db:redis.maxmemry", "nexus-db:redis.slowlog.maxLen"]);
    expect((err as Error).message).toMatch(/nexus-db:redis.maxmemry: unknown setting/);
  });

  it("rejects two roles with one user name, and glob characters in the key prefix", () => {
    expect(problems({ acl: { users: { readonly: { name: "nexus_app" } } } })).toEqual([
      { path: "redis.acl.users.readonly.name", message: expect.stringMatching(/also the app user's/) },
    ]);
    expect(problems({ keyPrefix: "nexus*:" }).map((x) => x.path)).toEqual(["redis.keyPrefix"]);
  });

  it("writes nothing for bad settings: rendering needs parsed settings, ACL rendering needs every password", () => {
    const s = parseRedisSettings({});
    expect(() => renderAclFile(s, { app: "x".repeat(20) }, REDIS_DECLARATIONS)).toThrow(/nexus_admin \(passwords.admin\).*nexus_readonly.*nexus_warmup/);
    const conf = renderRedisConf(s);
    expect(conf).toMatch(/^maxmemory 268435456$/m);
    expect(conf).toMatch(/^save "3600 1 300 100 60 10000"$/m);
    expect(conf).not.toMatch(/requirepass/);
  });
});
