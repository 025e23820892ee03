// The rendered redis.conf and ACL file, checked by a real redis-server: a config it refuses fails
// the test; each user logs in and tries what it may and may not do.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import Redis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { aclPasswordHash, renderAclFile, renderRedisConf } from "../../../engines/redis/render";
import { parseRedisSettings, type RedisSettingsInput } from "../../../engines/redis/settings";
import { freePort, startRedisServer, tempDir } from "../../helpers/redis-server";
import { REDIS_DECLARATIONS } from "../../../redis/declarations";

const PASSWORDS = {
  admin: "admin-pw-7d1f0a9c2b",
  app: "app-pw-51c9e0d3aa",
  readonly: "ro-pw-0b8e77c1f4",
  warmup: "warm-pw-93aa6e2d10",
};

function client(port: number, username?: string, password?: string, extra: object = {}): Redis {
  return new Redis({
    host: "127.0.0.1",
    port,
    username,
    password,
    lazyConnect: true,
    enableReadyCheck: false, // INFO is @dangerous: only admin and warmup may run it
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    ...extra,
  });
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return ((e as Error).message.split(" ")[0] ?? "error").replace(/:$/, "");
  }
}

/** Runs a raw command as a user and returns "ok" or the error code (NOPERM, WRONGPASS, …). */
function tryCommand(r: Redis, cmd: string, ...args: (string | number)[]): Promise<string> {
  return outcome(r.call(cmd, ...args));
}

async function serve(tag: string, input: RedisSettingsInput, dev = false) {
  const tmp = tempDir(tag);
  const port = await freePort();
  const settings = parseRedisSettings({ ...input, port, aclFile: path.join(tmp.dir, "users.acl"), persistence: { ...(input.persistence ?? {}), dir: tmp.dir } }, { dev });
  const conf = renderRedisConf(settings);
  const acl = renderAclFile(settings, PASSWORDS, REDIS_DECLARATIONS);
  const server = await startRedisServer({ dir: tmp.dir, port, files: { "redis.conf": conf, "users.acl": acl } });
  return { tmp, port, settings, conf, acl, server };
}

describe("rendered redis.conf and ACL file on a real redis-server", () => {
  let env: Awaited<ReturnType<typeof serve>>;
  const clients: Redis[] = [];
  const as = async (role: keyof typeof PASSWORDS) => {
    const c = client(env.port, env.settings.acl.users[role].name, PASSWORDS[role]);
    clients.push(c);
    await c.connect();
    return c;
  };

  beforeAll(async () => {
    env = await serve("acl", { maxmemory: "64mb", slowlog: { slowerThanMicros: 5000, maxLen: 64 }, timeouts: { idleSeconds: 600, tcpKeepaliveSeconds: 60 }, keyspaceNotifications: "Ex" });
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await env?.server.stop();
    env?.tmp.remove();
  });

  it("starts with the settings in effect", async () => {
    const admin = await as("admin");
    const cfg = async (name: string) => ((await admin.config("GET", name)) as string[])[1];
    expect(await cfg("maxmemory")).toBe(String(64 * 1024 * 1024));
    expect(await cfg("maxmemory-policy")).toBe("allkeys-lru");
    expect(await cfg("databases")).toBe("16");
    expect(await cfg("appendonly")).toBe("yes");
    expect(await cfg("appendfsync")).toBe("everysec");
    expect(await cfg("save")).toBe("3600 1 300 100 60 10000");
    expect(await cfg("timeout")).toBe("600");
    expect(await cfg("tcp-keepalive")).toBe("60");
    expect(await cfg("slowlog-log-slower-than")).toBe("5000");
    expect(await cfg("slowlog-max-len")).toBe("64");
    expect(await cfg("protected-mode")).toBe("yes");
    expect(await cfg("bind")).toBe("127.0.0.1");
    expect(await cfg("notify-keyspace-events")).toBe("xE");
  });

  it("stores passwords only as SHA-256 hashes", () => {
    const onDisk = readFileSync(path.join(env.tmp.dir, "users.acl"), "utf8");
    for (const pw of Object.values(PASSWORDS)) {
      expect(onDisk).not.toContain(pw);
      expect(onDisk).toContain(aclPasswordHash(pw));
    }
  });

  it("keeps the default user out (not dev) and refuses wrong passwords", async () => {
    const anon = client(env.port);
    clients.push(anon);
    await anon.connect();
    expect(await tryCommand(anon, "GET", "nexus:session:x")).toBe("NOAUTH");
    expect(await tryCommand(anon, "AUTH", "default", "")).toBe("WRONGPASS");
    expect(await tryCommand(anon, "AUTH", "nexus_app", "guess")).toBe("WRONGPASS");
    expect(await tryCommand(anon, "AUTH", "nexus_app", PASSWORDS.app)).toBe("ok");
  });

  it("app user: its logical databases' namespaces and channels, every layout DB, no dangerous command", async () => {
    const app = await as("app");
    const namespaces = ["session", "ratelimit", "analysis", "reputation", "tmpfile", "ws"];
    for (const db of [0, 1, 2, 3, 4, 5]) {
      expect(await tryCommand(app, "SELECT", db)).toBe("ok");
      expect(await tryCommand(app, "SET", `nexus:${namespaces[db]}:probe`, "1", "EX", 60)).toBe("ok");
    }
    expect(await tryCommand(app, "GET", "nexus:ws:probe")).toBe("ok");
    expect(await tryCommand(app, "INCR", "nexus:ratelimit:user:1")).toBe("ok");
    expect(await tryCommand(app, "EVAL", "return redis.call('INCR', KEYS[1])", 1, "nexus:ratelimit:counter")).toBe("ok");
    expect(await tryCommand(app, "SET", "nexus:unmapped", "1")).toBe("NOPERM");
    expect(await tryCommand(app, "SET", "other:probe", "1")).toBe("NOPERM");
    expect(await tryCommand(app, "EVAL", "return redis.call('SET', KEYS[1], 1)", 1, "other:key")).toBe("NOPERM");
    expect(await tryCommand(app, "PUBLISH", "analysis:completed", "{}")).toBe("ok");
    expect(await tryCommand(app, "PUBLISH", "reputation:updated", "{}")).toBe("ok");
    expect(await tryCommand(app, "PUBLISH", "admin:secret", "{}")).toBe("NOPERM");
    for (const [cmd, ...args] of [
      ["FLUSHALL"],
      ["FLUSHDB"],
      ["CONFIG", "GET", "maxmemory"],
      ["CONFIG", "SET", "maxmemory", "1"],
      ["KEYS", "*"],
      ["SHUTDOWN", "NOSAVE"],
      ["MONITOR"],
      ["ACL", "LIST"],
      ["SWAPDB", "0", "1"],
      ["BGSAVE"],
      ["CLIENT", "KILL", "ID", "1"],
    ]) {
      expect(`${cmd} → ${await tryCommand(app, cmd, ...args)}`).toBe(`${cmd} → NOPERM`);
    }
    // redis-server refuses DEBUG to everyone before the ACL check (enable-debug-command no), so
    // the ACL's own verdict is read with ACL DRYRUN.
    expect(await tryCommand(app, "DEBUG", "SLEEP", "0")).not.toBe("ok");
    const admin = await as("admin");
    expect(await admin.call("ACL", "DRYRUN", "nexus_app", "DEBUG", "SLEEP", "0")).toMatch(/no permissions to run the 'debug' command/);
    expect(await admin.call("ACL", "DRYRUN", "nexus_app", "GET", "nexus:session:x")).toBe("OK");
    // The server is still up after the SHUTDOWN attempt.
    expect(await tryCommand(app, "PING")).toBe("ok");
  });

  it("read-only user: reads and subscribes, cannot write or publish", async () => {
    const ro = await as("readonly");
    expect(await tryCommand(ro, "SELECT", 3)).toBe("ok");
    expect(await tryCommand(ro, "GET", "nexus:reputation:engine:1")).toBe("ok");
    expect(await tryCommand(ro, "TTL", "nexus:reputation:probe")).toBe("ok");
    expect(await tryCommand(ro, "SCAN", 0, "MATCH", "nexus:*")).toBe("ok");
    expect(await tryCommand(ro, "GET", "other:probe")).toBe("NOPERM");
    expect(await tryCommand(ro, "SET", "nexus:reputation:probe", "2")).toBe("NOPERM");
    expect(await tryCommand(ro, "DEL", "nexus:reputation:probe")).toBe("NOPERM");
    expect(await tryCommand(ro, "KEYS", "*")).toBe("NOPERM");
    expect(await tryCommand(ro, "PUBLISH", "analysis:completed", "{}")).toBe("NOPERM");
    expect(await tryCommand(ro, "FLUSHDB")).toBe("NOPERM");
    const sub = await as("readonly");
    expect(await outcome(sub.subscribe("analysis:started", "consensus:reached"))).toBe("ok");
    const sub2 = await as("readonly");
    expect(await outcome(sub2.subscribe("internal:events"))).toBe("NOPERM");
  });

  it("read-only user: cannot read sessions (DB 0) in standalone mode, whatever the command", async () => {
    const app = await as("app");
    await app.select(0);
    await app.set("nexus:session:s1", JSON.stringify({ userId: 7 }));
    await app.hset("nexus:session:h1", "userId", "7");
    const ro = await as("readonly");
    await ro.select(0);
    for (const [cmd, ...args] of [
      ["GET", "nexus:session:s1"],
      ["MGET", "nexus:reputation:x", "nexus:session:s1"],
      ["GETRANGE", "nexus:session:s1", 0, -1],
      ["STRLEN", "nexus:session:s1"],
      ["HGETALL", "nexus:session:h1"],
      ["DUMP", "nexus:session:s1"],
      ["EXISTS", "nexus:session:s1"],
      ["TYPE", "nexus:session:s1"],
    ] as [string, ...(string | number)[]][]) {
      expect(`${cmd} → ${await tryCommand(ro, cmd, ...args)}`).toBe(`${cmd} → NOPERM`);
    }
    const admin = await as("admin");
    expect(await admin.call("ACL", "DRYRUN", "nexus_readonly", "GET", "nexus:session:s1")).toMatch(/no permissions to access the 'nexus:session:s1' key/);
    // Every other logical database stays readable.
    await app.select(1);
    await app.set("nexus:ratelimit:tier:free", "{}");
    await ro.select(1);
    expect(await ro.get("nexus:ratelimit:tier:free")).toBe("{}");
  });

  it("warmup user: only its own prefixes, markers, digests and lock", async () => {
    const w = await as("warmup");
    expect(await tryCommand(w, "SELECT", 3)).toBe("ok");
    expect(await tryCommand(w, "SET", "nexus:reputation:engine:1", "{}", "EX", 60)).toBe("ok");
    expect(await tryCommand(w, "SET", "nexus:reputation:warmup:marker", "{}")).toBe("ok");
    expect(await tryCommand(w, "SET", "nexus:reputation:warmup:digests:engine-reputation:a:0", "x")).toBe("ok");
    expect(await tryCommand(w, "APPEND", "nexus:reputation:warmup:digests:engine-reputation:a:0", "y")).toBe("ok");
    expect(await tryCommand(w, "APPEND", "nexus:session:abc", "y")).toBe("NOPERM");
    expect(await tryCommand(w, "SET", "nexus:reputation:warmup:lock", "x", "PX", 1000, "NX")).toBe("ok");
    expect(await tryCommand(w, "EVAL", "return redis.call('GET', KEYS[1])", 1, "nexus:reputation:warmup:lock")).toBe("ok");
    expect(await tryCommand(w, "DEL", "nexus:reputation:engine:1", "nexus:reputation:warmup:marker")).toBe("ok");
    expect(await tryCommand(w, "WAIT", 0, 0)).toBe("ok");
    expect(await tryCommand(w, "INFO", "server")).toBe("ok");
    expect(await tryCommand(w, "EVAL", "return redis.call('GET', KEYS[1])", 1, "nexus:session:abc")).toBe("NOPERM");
    expect(await tryCommand(w, "SET", "nexus:session:abc", "{}")).toBe("NOPERM");
    expect(await tryCommand(w, "SET", "nexus:reputation:probe", "{}")).toBe("NOPERM");
    expect(await tryCommand(w, "FLUSHDB")).toBe("NOPERM");
    expect(await tryCommand(w, "KEYS", "*")).toBe("NOPERM");
    expect(await tryCommand(w, "PUBLISH", "analysis:completed", "{}")).toBe("NOPERM");
    expect(await tryCommand(w, "CONFIG", "GET", "maxmemory")).toBe("NOPERM");
  });

  it("admin user: everything", async () => {
    const admin = await as("admin");
    expect(await tryCommand(admin, "CONFIG", "GET", "maxmemory")).toBe("ok");
    expect(await tryCommand(admin, "ACL", "WHOAMI")).toBe("ok");
    expect(await tryCommand(admin, "SET", "other:probe", "1")).toBe("ok");
  });
});

describe("other shapes of the config, each started for real", () => {
  it("dev: passwordless default user on, RDB off, AOF always", async () => {
    const env = await serve("dev", { persistence: { save: [], appendfsync: "always" } }, true);
    const anon = client(env.port);
    try {
      await anon.connect();
      expect(await tryCommand(anon, "SET", "anything", "1")).toBe("ok");
      expect(await anon.config("GET", "save")).toEqual(["save", ""]);
      expect(await anon.config("GET", "appendfsync")).toEqual(["appendfsync", "always"]);
    } finally {
      anon.disconnect();
      await env.server.stop();
      env.tmp.remove();
    }
  });

  it("TLS: a TLS-only server with the rendered certificate settings", async () => {
    const tmp = tempDir("tls");
    const cert = path.join(tmp.dir, "server.crt");
    const key = path.join(tmp.dir, "server.key");
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert,
    ], { stdio: "ignore" });
    const tlsPort = await freePort();
    const settings = parseRedisSettings({
      port: 0,
      tls: { port: tlsPort, certFile: cert, keyFile: key },
      aclFile: path.join(tmp.dir, "users.acl"),
      persistence: { dir: tmp.dir },
    });
    const server = await startRedisServer({
      dir: tmp.dir,
      port: tlsPort,
      files: { "redis.conf": renderRedisConf(settings), "users.acl": renderAclFile(settings, PASSWORDS, REDIS_DECLARATIONS) },
    });
    const app = client(tlsPort, "nexus_app", PASSWORDS.app, { tls: { ca: readFileSync(cert) } });
    try {
      await app.connect();
      expect(await tryCommand(app, "SET", "nexus:session:tls", "1")).toBe("ok");
      expect(renderRedisConf(settings)).toMatch(/^port 0$/m);
      expect(renderRedisConf(settings)).toMatch(/^tls-protocols "TLSv1.2 TLSv1.3"$/m);
    } finally {
      app.disconnect();
      await server.stop();
      tmp.remove();
    }
  });

  it("cluster mode: a one-node cluster where the ACL patterns follow the prefixes", async () => {
    const env = await serve("cluster", { cluster: true });
    const admin = client(env.port, "nexus_admin", PASSWORDS.admin);
    const app = client(env.port, "nexus_app", PASSWORDS.app);
    const w = client(env.port, "nexus_warmup", PASSWORDS.warmup);
    try {
      await Promise.all([admin.connect(), app.connect(), w.connect()]);
      expect(env.conf).toMatch(/^cluster-enabled yes$/m);
      expect(await tryCommand(admin, "CLUSTER", "ADDSLOTSRANGE", 0, 16383)).toBe("ok");
      for (let i = 0; i < 50 && !String(await admin.call("CLUSTER", "INFO")).includes("cluster_state:ok"); i++) await new Promise((r) => setTimeout(r, 100));
      expect(await tryCommand(app, "SELECT", 1)).toBe("ERR"); // one database only
      expect(await tryCommand(app, "SET", "nexus:session:abc", "1")).toBe("ok");
      expect(await tryCommand(app, "SET", "nexus:ws:conn:1", "1")).toBe("ok");
      expect(await tryCommand(app, "SET", "nexus:unmapped", "1")).toBe("NOPERM");
      expect(await tryCommand(w, "SET", "nexus:reputation:engine:1", "{}")).toBe("ok");
      expect(await tryCommand(w, "SET", "nexus:reputation:warmup:marker", "{}")).toBe("ok");
      expect(await tryCommand(w, "SET", "nexus:session:abc", "1")).toBe("NOPERM");
      expect(await tryCommand(w, "SET", "nexus:engine:1", "{}")).toBe("NOPERM");
      const ro = client(env.port, "nexus_readonly", PASSWORDS.readonly);
      await ro.connect();
      expect(await tryCommand(ro, "GET", "nexus:session:abc")).toBe("NOPERM");
      expect(await tryCommand(ro, "GET", "nexus:ws:conn:1")).toBe("ok");
      ro.disconnect();
    } finally {
      for (const c of [admin, app, w]) c.disconnect();
      await env.server.stop();
      env.tmp.remove();
    }
  });

  it("a config redis-server refuses fails loudly with the server's reason", async () => {
    const tmp = tempDir("refused");
    const port = await freePort();
    try {
      await expect(
        startRedisServer({ dir: tmp.dir, port, files: { "redis.conf": `port ${port}\nmaxmemory-policy allkeys-lfru\n` } }),
      ).rejects.toThrow(/refused[\s\S]*maxmemory-policy/);
    } finally {
      tmp.remove();
    }
  });
});
