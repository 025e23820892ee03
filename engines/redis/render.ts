// Settings → `redis.conf` text and ACL file text. Pure functions: the Docker component uploads the
// text, the CLI writes it to files, the tests start a real redis-server with it.
import { createHash } from "node:crypto";
import { buildKeyspaceLayout, type KeyspaceDeclaration, type KeyspaceLayout } from "./keyspace";
import { ACL_ROLES, type AclRole, type RedisSettings } from "./settings";
import { warmupKeyPatterns, type WarmupSpec } from "./warmup-spec";

/** What the renderer is given about the platform: its keyspace and its warmup spec (redis/declarations.ts). */
export interface RedisDeclarations<N extends string = string> {
  keyspace: KeyspaceDeclaration<N>;
  warmup: WarmupSpec<N>;
}

/** Quotes one redis.conf argument when it needs it (spaces, quotes, empty). */
function arg(value: string | number): string {
  const s = String(value);
  return /^[^\s"'\\]+$/.test(s) ? s : `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** The keyspace layout the settings select (cluster or not, key prefix). */
export function layoutFor<N extends string>(settings: RedisSettings, keyspace: KeyspaceDeclaration<N>): KeyspaceLayout<N> {
  return buildKeyspaceLayout(keyspace, { cluster: settings.cluster, keyPrefix: settings.keyPrefix });
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
export function aclRules<N extends string>(role: AclRole, settings: RedisSettings, declarations: RedisDeclarations<N>): string[] {
  const layout = layoutFor(settings, declarations.keyspace);
  const keys = layout.aclKeyPatterns().map((p) => `~${p}`);
  // Read-only: read access (%R~) to every logical database but the private ones (sessions).
  const readable = layout.aclKeyPatterns(layout.names.filter((n) => !layout.database(n).private)).map((p) => `%R~${p}`);
  const channels = layout.aclChannelPatterns().map((c) => `&${c}`);
  switch (role) {
    case "admin":
      return ["~*", "&*", "+@all"];
    case "app":
      // Everything the platform uses, minus what could wipe, reconfigure or stall the server.
      return [...keys, ...channels, "+@all", "-@dangerous", ...settings.acl.appDeniedCommands.map((c) => `-${c}`)];
    case "readonly":
      return [
        ...readable,
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
        ...warmupKeyPatterns(declarations.warmup, layout).map((p) => `~${p}`),
        "resetchannels",
        "+@connection", // with WAIT (replicas caught up before the marker) and ASKING (cluster resharding)
        "-@dangerous",
        // APPEND: a full warm writes its digest buckets in pieces; SETRANGE: a change-tracked
        // re-warm rewrites a changed row's digest in its bucket.
        ...["set", "get", "append", "setrange", "del", "unlink", "exists", "ttl", "pttl", "expire", "pexpire", "type", "scan", "dbsize", "multi", "exec", "discard"].map((c) => `+${c}`),
        // The lock is renewed and released only by its owner's token: a compare-and-set script.
        "+eval",
        "+evalsha",
        // INFO gives the server's run_id, which tells the warmup a restart happened under it.
        "+info",
        // Slot routing on a cluster: where each slot lives.
        "+cluster|slots",
        "+cluster|shards",
        "+cluster|info",
        "+cluster|nodes",
      ];
  }
}

/** Passwords of the enabled users, by role. */
export type AclPasswords = Partial<Record<AclRole, string>>;

/**
 * The ACL file for the settings. Passwords go in as arguments and are stored only as SHA-256
 * hashes. Every enabled user needs a password; disabled users are written `off` with no password.
 */
export function renderAclFile<N extends string>(settings: RedisSettings, passwords: AclPasswords, declarations: RedisDeclarations<N>): string {
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
    lines.push(["user", u.name, ...auth, ...aclRules(role, settings, declarations)].join(" "));
  }
  return lines.join("\n") + "\n";
}
