// `nexus-db redis <render|warm|status|layout>`: the same engines as the Redis component and the RedisWarmup
// resource, for operators and CI. Exit status 1 on any error, 2 on bad usage.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseCommand } from "./args";
import { CA_OPTION, CA_USAGE, caFile, pgUrlWithCa, redisTarget } from "./tls";
import { renderAclFile, renderRedisConf, type AclPasswords } from "../engines/redis/render";
import { ACL_ROLES, parseRedisSettings, RedisSettingsError } from "../engines/redis/settings";
import { WarmupLockedError } from "../engines/redis/lock";
import { warmRedis, warmupStatus, WarmupError, type WarmupPlan, type WarmupResult } from "../engines/redis/warmup";
import { KEYSPACE } from "../redis/layout";
import { REDIS_DECLARATIONS } from "../redis/declarations";
import { keyspaceLayout, layoutDocument, LAYOUT_SCHEMA_FILE } from "../config/redis-layout-document";

const PASSWORD_ENV: Record<(typeof ACL_ROLES)[number], string> = {
  admin: "NEXUS_REDIS_ADMIN_PASSWORD",
  app: "NEXUS_REDIS_APP_PASSWORD",
  readonly: "NEXUS_REDIS_READONLY_PASSWORD",
  warmup: "NEXUS_REDIS_WARMUP_PASSWORD",
};

const USAGE = `usage: nexus-db redis <render|warm|status|layout> [options]
  render    redis.conf and the ACL file from the Redis settings (checked first; nothing is written
            if they are invalid)
  warm      load the cache from PostgreSQL (redis/warmup.ts), unless Redis already holds this
            version of the data
  status    whether a warmup is needed, and why (reads only)
  layout    the keyspace layout: logical databases, key prefixes and patterns, TTLs, channels
            (--json: the document ${LAYOUT_SCHEMA_FILE} describes)
render options:
  --settings FILE     the Redis settings as JSON (the stack config's \`redis\` object; default: all defaults)
  --dev               dev defaults (passwordless default user allowed)
  --out DIR           write DIR/redis.conf and DIR/users.acl (default: print redis.conf only)
  with --out, passwords of the enabled users come from ${Object.values(PASSWORD_ENV).join(", ")}
layout options: --cluster, --key-prefix P (as below), --settings FILE (take both from the settings), --json
warm/status options:
  --redis-url URL     Redis, as the warmup user (default: $REDIS_URL)
  --database-url URL  PostgreSQL, the source of truth (default: $DATABASE_URL)
  --cluster           cluster keyspace: logical databases as key prefixes on DB 0
  --key-prefix P      platform key prefix (default "nexus:")
  --batch-size N      keys per pipeline (default 1000)
  --force             a full warm: rewrite every key even if the row digests say it is current
  --json              print the result as JSON
${CA_USAGE}`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand(
    "redis",
    args,
    {
      settings: { type: "string" },
      dev: { type: "boolean" },
      out: { type: "string" },
      "redis-url": { type: "string" },
      "database-url": { type: "string" },
      cluster: { type: "boolean" },
      "key-prefix": { type: "string" },
      "batch-size": { type: "string" },
      force: { type: "boolean" },
      json: { type: "boolean" },
      ...CA_OPTION,
    } as const,
    ["render", "warm", "status", "layout"],
    USAGE,
  );
  if ("exit" in parsed) return parsed.exit;
  const { values: o, command } = parsed;
  try {
    if (command === "render") return render(o);
    if (command === "layout") return layout(o);
    return await warmOrStatus(command as "warm" | "status", o);
  } catch (err) {
    if (err instanceof RedisSettingsError || err instanceof WarmupError || err instanceof WarmupLockedError) {
      console.error(`nexus-db redis ${command}: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

function render(o: { settings?: string; dev?: boolean; out?: string }): number {
  let input: unknown = {};
  if (o.settings) {
    try {
      input = JSON.parse(readFileSync(o.settings, "utf8"));
    } catch (e) {
      console.error(`nexus-db redis render: ${o.settings}: ${(e as Error).message}`);
      return 1;
    }
  }
  const settings = parseRedisSettings(input, { dev: o.dev, keyspace: KEYSPACE });
  const conf = renderRedisConf(settings);
  if (!o.out) {
    process.stdout.write(conf);
    return 0;
  }
  const passwords: AclPasswords = {};
  for (const role of ACL_ROLES) {
    const v = process.env[PASSWORD_ENV[role]];
    if (v) passwords[role] = v;
  }
  const missing = ACL_ROLES.filter((r) => settings.acl.users[r].enabled && !passwords[r]);
  if (missing.length > 0) {
    console.error(`nexus-db redis render: set ${missing.map((r) => PASSWORD_ENV[r]).join(", ")} (or disable those users in the settings); nothing was written`);
    return 1;
  }
  const acl = renderAclFile(settings, passwords, REDIS_DECLARATIONS);
  mkdirSync(o.out, { recursive: true });
  writeFileSync(path.join(o.out, "redis.conf"), conf, { mode: 0o644 });
  writeFileSync(path.join(o.out, "users.acl"), acl, { mode: 0o600 });
  chmodSync(path.join(o.out, "users.acl"), 0o600);
  console.log(`wrote ${path.join(o.out, "redis.conf")} and ${path.join(o.out, "users.acl")} (the server reads the ACL file at ${settings.aclFile})`);
  return 0;
}

function layout(o: { settings?: string; cluster?: boolean; "key-prefix"?: string; json?: boolean }): number {
  let cluster = o.cluster ?? false;
  let keyPrefix = o["key-prefix"];
  if (o.settings) {
    let input: unknown;
    try {
      input = JSON.parse(readFileSync(o.settings, "utf8"));
    } catch (e) {
      console.error(`nexus-db redis layout: ${o.settings}: ${(e as Error).message}`);
      return 1;
    }
    const settings = parseRedisSettings(input);
    cluster = o.cluster ?? settings.cluster;
    keyPrefix = keyPrefix ?? settings.keyPrefix;
  }
  let doc;
  try {
    doc = layoutDocument(keyspaceLayout({ cluster, keyPrefix }));
  } catch (e) {
    console.error(`nexus-db redis layout: ${(e as Error).message}`);
    return 1;
  }
  if (o.json) {
    console.log(JSON.stringify(doc, null, 2));
    return 0;
  }
  console.log(`${doc.mode} keyspace, key prefix ${doc.keyPrefix}, needs ${doc.requiredDatabases} database${doc.requiredDatabases === 1 ? "" : "s"}`);
  for (const d of doc.databases) {
    const ttl = d.ttlSeconds === null ? "no TTL" : `TTL ${d.ttlSeconds}s`;
    console.log(`  DB ${d.db}  ${d.name.padEnd(16)} ${d.keyPattern.padEnd(22)} ${ttl.padEnd(12)} ${d.description}`);
    for (const k of d.keys) console.log(`        ${k.pattern}  — ${k.description}`);
  }
  console.log("channels:");
  for (const c of doc.channels) console.log(`  ${c.channel.padEnd(22)} ${c.description}`);
  return 0;
}

async function warmOrStatus(
  command: "warm" | "status",
  o: { "redis-url"?: string; "database-url"?: string; cluster?: boolean; "key-prefix"?: string; "batch-size"?: string; force?: boolean; json?: boolean; ca?: string },
): Promise<number> {
  const redis = o["redis-url"] ?? process.env.REDIS_URL;
  const database = o["database-url"] ?? process.env.DATABASE_URL;
  if (!redis || !database) {
    console.error(`nexus-db redis ${command}: give --redis-url and --database-url (or set REDIS_URL and DATABASE_URL)`);
    return 2;
  }
  const batchSize = o["batch-size"] === undefined ? undefined : Number(o["batch-size"]);
  if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize > 0)) {
    console.error(`nexus-db redis ${command}: --batch-size must be a positive integer`);
    return 2;
  }
  let ca: string | undefined;
  try {
    ca = caFile(o.ca);
  } catch (err) {
    console.error(`nexus-db redis ${command}: ${(err as Error).message}`);
    return 2;
  }
  const conn = { redis: redisTarget(redis, ca), database: pgUrlWithCa(database, ca), keyspace: { cluster: o.cluster ?? false, keyPrefix: o["key-prefix"] } };
  const result: WarmupPlan | WarmupResult =
    command === "warm" ? await warmRedis(conn, REDIS_DECLARATIONS, { batchSize, force: o.force }) : await warmupStatus(conn, REDIS_DECLARATIONS);
  if (o.json) {
    console.log(JSON.stringify(result, null, 2));
    return 0;
  }
  const counts = Object.entries(result.counts).map(([k, n]) => `${k} ${n}`).join(", ");
  if (isResult(result)) {
    if (result.warmed) {
      const written = Object.entries(result.written).map(([db, n]) => `${db} ${n}`).join(", ");
      console.log(`warmed version ${result.version} in ${result.durationMs} ms: wrote ${written}; removed ${result.deleted} stale keys`);
      for (const r of result.reasons) console.log(`  because ${r}`);
    } else {
      console.log(`up to date (version ${result.version}): nothing written`);
    }
    for (const n of result.notes) console.log(`  note: ${n}`);
  } else {
    console.log(result.needed ? `warmup needed (version ${result.version}):` : `up to date (version ${result.version})`);
    for (const r of result.reasons) console.log(`  ${r}`);
    for (const [db, c] of Object.entries(result.changes)) {
      console.log(`  ${db}: ${c.full ? "full warm" : "incremental"}: ${c.write} key(s) to write, ${c.delete} to delete, ${c.unchanged} unchanged`);
    }
  }
  console.log(`source rows: ${counts}`);
  return 0;
}

function isResult(r: WarmupPlan | WarmupResult): r is WarmupResult {
  return "warmed" in r;
}
