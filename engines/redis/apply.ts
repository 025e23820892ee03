// Applies the Redis settings to a server that already runs (the external backend, a managed
// service): runtime settings through CONFIG SET, users through ACL SETUSER. Managed services refuse
// some or all of these (ElastiCache: CONFIG and ACL are not available, parameter groups and RBAC
// user groups are); the report says what was applied and what was not, and why — it never throws
// for a refusal.
import type Redis from "ioredis";
import { highestDatabaseIndex } from "./keyspace";
import { aclPasswordHash, aclRules, type AclPasswords, type RedisDeclarations } from "./render";
import { ACL_ROLES, type RedisSettings } from "./settings";

export interface ApplyReport {
  /** Settings and users now in effect because of this call, e.g. "maxmemory 268435456", "user nexus_app". */
  applied: string[];
  /** Already as wanted. */
  unchanged: string[];
  /** What the server refused or this call could not do, with the reason. */
  notApplied: { item: string; reason: string }[];
}

/** The settings a running server can take (CONFIG SET), as redis.conf name → value. */
export function runtimeConfig(s: RedisSettings): [string, string][] {
  return [
    ["maxmemory", String(s.maxmemory)],
    ["maxmemory-policy", s.maxmemoryPolicy],
    ["timeout", String(s.timeouts.idleSeconds)],
    ["tcp-keepalive", String(s.timeouts.tcpKeepaliveSeconds)],
    ["slowlog-log-slower-than", String(s.slowlog.slowerThanMicros)],
    ["slowlog-max-len", String(s.slowlog.maxLen)],
    ["notify-keyspace-events", s.keyspaceNotifications],
    ["appendonly", s.persistence.appendonly ? "yes" : "no"],
    ["appendfsync", s.persistence.appendfsync],
    ["save", s.persistence.save.map(([sec, n]) => `${sec} ${n}`).join(" ")],
  ];
}

/** Settings only a restart with the rendered redis.conf changes; reported, never applied live. */
const STARTUP_ONLY = ["bind", "port", "tls", "aclFile", "persistence.dir"] as const;

function reasonOf(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  if (/unknown command|unknown subcommand/i.test(m)) return `the server does not offer this command (${m}); a managed service takes it through its own API (parameter group, RBAC user group)`;
  if (/NOPERM/i.test(m)) return `this user may not run it (${m})`;
  return m;
}

// Some servers report the same setting in another spelling (notify-keyspace-events flags are
// reordered, `save` may be normalized): compare as sets of characters/words.
function same(name: string, want: string, have: string): boolean {
  if (want === have) return true;
  if (name === "notify-keyspace-events") return [...want].sort().join("") === [...have].sort().join("");
  return false;
}

export interface ApplyOptions {
  /** Apply runtime settings (CONFIG SET). Default true. */
  config?: boolean;
  /** Create/update the ACL users (ACL SETUSER) and save the ACL file if the server has one. Default true. */
  users?: boolean;
}

/**
 * Brings a running server as close to the settings as it allows. `admin` must be logged in as a
 * user that may run CONFIG and ACL (where the server offers them). The ACL users' key patterns
 * come from `declarations` (the keyspace and the warmup spec).
 */
export async function applyRedisSettings(
  admin: Redis,
  settings: RedisSettings,
  passwords: AclPasswords,
  declarations: RedisDeclarations,
  options: ApplyOptions = {},
): Promise<ApplyReport> {
  const report: ApplyReport = { applied: [], unchanged: [], notApplied: [] };
  const needed = highestDatabaseIndex(declarations.keyspace) + 1;

  for (const key of STARTUP_ONLY) report.notApplied.push({ item: key, reason: "takes effect only at server start (the rendered redis.conf)" });

  if (options.config ?? true) {
    let configRefused: string | undefined;
    for (const [name, value] of runtimeConfig(settings)) {
      if (configRefused) {
        report.notApplied.push({ item: `${name} ${value}`, reason: configRefused });
        continue;
      }
      try {
        const [, current] = (await admin.config("GET", name)) as string[];
        if (current !== undefined && same(name, value, current)) {
          report.unchanged.push(`${name} ${value}`);
          continue;
        }
        await admin.config("SET", name, value);
        report.applied.push(`${name} ${value}`);
      } catch (e) {
        const reason = reasonOf(e);
        // A missing or forbidden CONFIG command fails every setting the same way: say it once per setting, try no more.
        if (/unknown command|NOPERM/i.test(String((e as Error).message))) configRefused = reason;
        report.notApplied.push({ item: `${name} ${value}`, reason });
      }
    }
    if (!settings.cluster && !configRefused) {
      try {
        const [, databases] = (await admin.config("GET", "databases")) as string[];
        if (Number(databases) < needed) {
          report.notApplied.push({ item: `databases ${settings.databases}`, reason: `the server has ${databases} databases and the layout needs ${needed}: restart it with the rendered redis.conf, or use cluster mode (key prefixes)` });
        }
      } catch (e) {
        report.notApplied.push({ item: "databases", reason: reasonOf(e) });
      }
    }
  }

  if (options.users ?? true) {
    let aclRefused: string | undefined;
    let whoami: string | undefined;
    try {
      whoami = String(await admin.call("ACL", "WHOAMI"));
    } catch (e) {
      aclRefused = reasonOf(e);
    }
    for (const role of ACL_ROLES) {
      const u = settings.acl.users[role];
      const item = `user ${u.name}`;
      if (aclRefused) {
        report.notApplied.push({ item, reason: aclRefused });
        continue;
      }
      if (u.enabled && !passwords[role]) {
        report.notApplied.push({ item, reason: `no password given (passwords.${role})` });
        continue;
      }
      const auth = u.enabled ? ["on", "resetpass", aclPasswordHash(passwords[role]!)] : ["off", "resetpass"];
      try {
        await admin.call("ACL", "SETUSER", u.name, "reset", ...auth, ...aclRules(role, settings, declarations));
        report.applied.push(item);
      } catch (e) {
        report.notApplied.push({ item, reason: reasonOf(e) });
      }
    }
    if (!aclRefused) {
      const want = settings.acl.defaultUser;
      if (!want && whoami === "default") {
        report.notApplied.push({ item: "user default off", reason: "this connection is the default user: log in as the admin user to turn it off" });
      } else if (!want) {
        try {
          await admin.call("ACL", "SETUSER", "default", "off");
          report.applied.push("user default off");
        } catch (e) {
          report.notApplied.push({ item: "user default off", reason: reasonOf(e) });
        }
      }
      try {
        await admin.call("ACL", "SAVE");
        report.applied.push("ACL SAVE");
      } catch (e) {
        report.notApplied.push({ item: "ACL SAVE", reason: `users are live but not persisted: ${reasonOf(e)}` });
      }
    }
  }
  return report;
}
