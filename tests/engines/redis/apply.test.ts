// Settings applied to servers that already run: a plain one takes everything it can at runtime;
// a managed-like one (CONFIG and ACL renamed away, as ElastiCache does) takes nothing and says so.
import Redis from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { applyRedisSettings } from "../../../engines/redis/apply";
import { parseRedisSettings } from "../../../engines/redis/settings";
import { REDIS_DECLARATIONS } from "../../../redis/declarations";
import { freePort, startRedisServer, tempDir, type RedisProcess } from "../../helpers/redis-server";

const PASSWORDS = { admin: "adm-2c1e9f7a55", app: "app-8d3b0c6e21", readonly: "ro-5a9f1d2c77", warmup: "wu-0b7e4a1f93" };

describe("applying settings to a running server", () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function plainServer(extra: (dir: string) => string, files: Record<string, string> = {}): Promise<{ server: RedisProcess; port: number; dir: string }> {
    const tmp = tempDir("apply");
    const port = await freePort();
    const server = await startRedisServer({
      dir: tmp.dir,
      port,
      files: { ...files, "redis.conf": `port ${port}\nbind 127.0.0.1\nsave ""\nappendonly no\ndir ${tmp.dir}\n${extra(tmp.dir)}` },
    });
    cleanup.push(() => tmp.remove(), () => server.stop());
    return { server, port, dir: tmp.dir };
  }

  function connect(port: number, username?: string, password?: string): Redis {
    const c = new Redis({ host: "127.0.0.1", port, username, password, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0 });
    cleanup.push(() => c.disconnect());
    return c;
  }

  it("a self-run server: runtime settings and users applied, the default user turned off by the admin", async () => {
    const { port } = await plainServer((dir) => `aclfile ${dir}/users.acl\n`, { "users.acl": "user default on nopass ~* &* +@all\n" });
    const admin0 = connect(port);
    await admin0.connect();
    const settings = parseRedisSettings({ maxmemory: "32mb", slowlog: { maxLen: 99 } });

    // First pass as the default user: it cannot turn itself off.
    const first = await applyRedisSettings(admin0, settings, PASSWORDS, REDIS_DECLARATIONS);
    expect(first.applied).toEqual(expect.arrayContaining(["maxmemory 33554432", "maxmemory-policy allkeys-lru", "slowlog-max-len 99", "appendonly yes", "user nexus_app", "user nexus_warmup", "ACL SAVE"]));
    expect(first.notApplied).toContainEqual({ item: "user default off", reason: expect.stringMatching(/log in as the admin user/) });
    expect(first.notApplied.map((n) => n.item)).toEqual(expect.arrayContaining(["bind", "port", "tls"]));

    // Second pass as the admin user: nothing left to change but the default user.
    const admin = connect(port, "nexus_admin", PASSWORDS.admin);
    await admin.connect();
    const second = await applyRedisSettings(admin, settings, PASSWORDS, REDIS_DECLARATIONS);
    expect(second.unchanged).toEqual(expect.arrayContaining(["maxmemory 33554432", "slowlog-max-len 99"]));
    expect(second.applied).toContain("user default off");
    expect(await admin.config("GET", "maxmemory")).toEqual(["maxmemory", "33554432"]);

    const app = connect(port, "nexus_app", PASSWORDS.app);
    await app.connect();
    expect(await app.set("nexus:session:x", "1")).toBe("OK");
    await expect(app.call("FLUSHALL")).rejects.toThrow(/NOPERM/);
    const anon = connect(port);
    await anon.connect();
    await expect(anon.get("nexus:session:x")).rejects.toThrow(/NOAUTH/);
  });

  it("a managed-like server that refuses CONFIG and ACL: nothing thrown, every refusal reported", async () => {
    const { port } = await plainServer(() => `rename-command CONFIG ""\nrename-command ACL ""\n`);
    const c = connect(port);
    await c.connect();
    const report = await applyRedisSettings(c, parseRedisSettings({}), PASSWORDS, REDIS_DECLARATIONS);
    expect(report.applied).toEqual([]);
    const items = report.notApplied.map((n) => n.item);
    expect(items).toEqual(expect.arrayContaining(["maxmemory 268435456", "maxmemory-policy allkeys-lru", "user nexus_app", "user nexus_warmup"]));
    for (const n of report.notApplied.filter((x) => x.item.startsWith("user ") || x.item.startsWith("maxmemory"))) {
      expect(n.reason).toMatch(/does not offer this command.*parameter group, RBAC user group/);
    }
  });
});
