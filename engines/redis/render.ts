// Settings → `redis.conf` text and ACL file text. Pure functions: the Docker component uploads the
// text, the CLI writes it to files, the tests start a real redis-server with it.
import { createHash } from "node:crypto";
import { keyspaceLayout, type KeyspaceLayout } from "../../redis/layout";
import { WARMUP_SPEC, warmupKeyPatterns, type WarmupSpec } from "../../redis/warmup";
import { ACL_ROLES, type AclRole, type RedisSettings } from "./settings";

/** Quotes one redis.conf argument when it needs it (spaces, quotes, empty). */
function arg(value: string | number): string {
  const s = String(value);
  return /^[^\s"'\\]+$/.test(s) ? s : `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** The keyspace layout the settings select (cluster or not, key prefix). */
export function layoutFor(settings: RedisSettings): KeyspaceLayout {
  return keyspaceLayout({ cluster: settings.cluster, keyPrefix: settings.keyPrefix });
}

/** `redis.conf` for the settings. */
export function renderRedisConf(settings: RedisSettings): string {
  const s = settings;
  const lines: string[] = [
    "# Rendered by nexus-db from the stack's Redis settings: change the settings, not this file.",
    "",
    "# Network",
    `bind ${s.bind.map(arg).join(" ")}`,
    `protected-mode ${s.protectedMode ? "yes" : "no"}`,
    `port ${s.port}`,
    `timeout ${s.timeouts.idleSeconds}`,
    `tcp-keepalive ${s.timeouts.tcpKeepaliveSeconds}`,
  ];
  if (s.tls.port !== undefined) {
    lines.push(
      "",
      "# TLS",
      `tls-port ${s.tls.port}`,
      `tls-cert-file ${arg(s.tls.certFile!)}`,
      `tls-key-file ${arg(s.tls.keyFile!)}`,
      ...(s.tls.caCertFile ? [`tls-ca-cert-file ${arg(s.tls.caCertFile)}`] : []),
      `tls-auth-clients ${s.tls.authClients}`,
      `tls-protocols ${arg(s.tls.protocols.join(" "))}`,
    );
  }
  lines.push(
    "",
    "# Keyspace",
    // Cluster nodes have database 0 only; the layout maps logical databases to key prefixes.
    `databases ${s.cluster ? 1 : s.databases}`,
    ...(s.cluster ? ["cluster-enabled yes", "cluster-config-file nodes.conf"] : []),
    `notify-keyspace-events ${arg(s.keyspaceNotifications)}`,
    "",
    "# Memory",
    `maxmemory ${s.maxmemory}`,
    `maxmemory-policy ${s.maxmemoryPolicy}`,
    "",
    "# Persistence",
    `dir ${arg(s.persistence.dir)}`,
    `appendonly ${s.persistence.appendonly ? "yes" : "no"}`,
    `appendfsync ${s.persistence.appendfsync}`,
    s.persistence.save.length === 0 ? `save ""` : `save ${arg(s.persistence.save.map(([sec, n]) => `${sec} ${n}`).join(" "))}`,
    "",
    "# Slow log",
    `slowlog-log-slower-than ${s.slowlog.slowerThanMicros}`,
    `slowlog-max-len ${s.slowlog.maxLen}`,
    "",
    "# Users and their password hashes live in the ACL file.",
    `aclfile ${arg(s.aclFile)}`,
    "",
  );
  return lines.join("\n");
}

/** The password stored in an ACL file: `#` and the SHA-256 of the password, hex. */
export function aclPasswordHash(password: string): string {
  return "#" + createHash("sha256").update(password, "utf8").digest("hex");
}

/**
 * The ACL rules of one role, without the password and without `on`/`off`: key patterns,
 * channel patterns, commands. Used by the ACL file and by `ACL SETUSER` on existing servers.
 */
export function aclRules(role: AclRole, settings: RedisSettings, warmup: WarmupSpec = WARMUP_SPEC): string[] {
  const layout = layoutFor(settings);
  const keys = layout.aclKeyPatterns().map((p) => `~${p}`);
  const channels = layout.aclChannelPatterns().map((c) => `&${c}`);
  switch (role) {
    case "admin":
      return ["~*", "&*", "+@all"];
    case "app":
      // Everything the platform uses, minus what could wipe, reconfigure or stall the server.
      return [...keys, ...channels, "+@all", "-@dangerous", ...settings.acl.appDeniedCommands.map((c) => `-${c}`)];
    case "readonly":
      return [
        ...keys,
        ...channels,
        "+@read",
        "+@connection",
        "+subscribe",
        "+psubscribe",
        "+unsubscribe",
        "+punsubscribe",
        // Last, so it also takes KEYS (in @read) and CLIENT KILL (in @connection) away again.
        "-@dangerous",
      ];
    case "warmup":
      return [
        ...warmupKeyPatterns(warmup, layout).map((p) => `~${p}`),
        "resetchannels",
        "+@connection",
        "-@dangerous",
        ...["set", "get", "del", "unlink", "exists", "ttl", "pttl", "expire", "pexpire", "type", "scan", "dbsize", "multi", "exec", "discard"].map((c) => `+${c}`),
        // INFO gives the server's run_id, which tells the warmup a restart happened under it.
        "+info",
      ];
  }
}

/** Passwords of the enabled users, by role. */
export type AclPasswords = Partial<Record<AclRole, string>>;

/**
 * The ACL file for the settings. Passwords go in as arguments and are stored only as SHA-256
 * hashes. Every enabled user needs a password; disabled users are written `off` with no password.
 */
export function renderAclFile(settings: RedisSettings, passwords: AclPasswords, warmup: WarmupSpec = WARMUP_SPEC): string {
  const missing = ACL_ROLES.filter((r) => settings.acl.users[r].enabled && !passwords[r]);
  if (missing.length > 0) {
    throw new Error(
      `ACL file: no password for the enabled user(s) ${missing.map((r) => `${settings.acl.users[r].name} (passwords.${r})`).join(", ")}: pass one, or disable the user with redis.acl.users.<role>.enabled = false`,
    );
  }
  // redis-server refuses comment lines in an ACL file: the file holds `user` lines only.
  const lines: string[] = [];
  lines.push(settings.acl.defaultUser ? "user default on nopass ~* &* +@all" : "user default off resetpass resetkeys resetchannels -@all");
  for (const role of ACL_ROLES) {
    const u = settings.acl.users[role];
    const auth = u.enabled ? ["on", aclPasswordHash(passwords[role]!)] : ["off", "resetpass"];
    lines.push(["user", u.name, ...auth, ...aclRules(role, settings, warmup)].join(" "));
  }
  return lines.join("\n") + "\n";
}
