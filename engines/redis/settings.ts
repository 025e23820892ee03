// The stack's Redis settings: one zod schema, every setting with its default, and the checks that
// must pass before a redis.conf or an ACL file is written. The stack config embeds
// `redisSettingsSchema(profile)` under `redis`; `parseRedisSettings` is the same for callers that
// only need this part (the CLI, tests).
import { z } from "zod";
import { highestDatabaseIndex, type KeyspaceDeclaration } from "./keyspace";

/** The eviction policies Redis 7 knows. */
export const MAXMEMORY_POLICIES = [
  "allkeys-lru",
  "allkeys-lfu",
  "allkeys-random",
  "volatile-lru",
  "volatile-lfu",
  "volatile-random",
  "volatile-ttl",
  "noeviction",
] as const;

/** Commands the application user never gets, on top of Redis's whole `@dangerous` category. */
export const APP_DENIED_COMMANDS = [
  "flushall",
  "flushdb",
  "config",
  "debug",
  "keys",
  "shutdown",
  "monitor",
  "acl",
  "swapdb",
  "migrate",
  "restore",
  "replicaof",
  "slaveof",
  "save",
  "bgsave",
  "bgrewriteaof",
  "module",
  "failover",
] as const;

/** The ACL users this project renders, by role. */
export const ACL_ROLES = ["admin", "app", "readonly", "warmup"] as const;
export type AclRole = (typeof ACL_ROLES)[number];

/** Which environment the settings are for: only `dev` keeps the passwordless default user. */
export interface RedisSettingsProfile {
  /** Development containers (default user allowed, on by default). Default false. */
  dev?: boolean;
  /**
   * The keyspace the server will hold: `databases` must reach its highest database number.
   * The stack config and the CLI pass the platform's (redis/layout.ts); without one, that count
   * is not checked here (applyRedisSettings still reports a server with too few).
   */
  keyspace?: KeyspaceDeclaration;
}

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1000,
  kb: 1024,
  m: 1000 ** 2,
  mb: 1024 ** 2,
  g: 1000 ** 3,
  gb: 1024 ** 3,
};

/**
 * Parses a Redis memory size the way redis.conf reads it: a byte count, or a number with a unit
 * (`k`/`m`/`g` are powers of 1000, `kb`/`mb`/`gb` powers of 1024). Returns undefined if it is none.
 */
export function parseMemorySize(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(value);
  if (!m) return undefined;
  const unit = UNITS[m[2].toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Number(m[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

const memorySize = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const bytes = parseMemorySize(v);
  if (bytes === undefined) {
    ctx.addIssue({
      code: "custom",
      message: `${JSON.stringify(v)} is not a memory size: give bytes or a number with a unit (kb, mb, gb), e.g. "256mb"; 0 means no limit`,
    });
    return z.NEVER;
  }
  return bytes;
});

const port = z.number().int().min(0).max(65535);
const userName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "a user name is 1–64 letters, digits, '_', '.' or '-'");
const commandName = z
  .string()
  .regex(/^[a-z][a-z0-9-]*(\|[a-z0-9-]+)?$/i, "a command name such as \"flushall\" or \"client|kill\"")
  .transform((s) => s.toLowerCase());

const NOTIFY_FLAGS = /^[KEg$lshzxetmdnA]*$/;

function user(defaultName: string, describe: string) {
  return z
    .object({
      name: userName.default(defaultName).meta({ description: "The ACL user name." }),
      enabled: z.boolean().default(true).meta({ description: "Whether the user can log in. Default true." }),
    })
    .strict()
    .prefault({})
    .describe(describe);
}

export function redisSettingsSchema(profile: RedisSettingsProfile = {}) {
  const dev = profile.dev ?? false;
  const keyspace = profile.keyspace;
  const highest = keyspace ? highestDatabaseIndex(keyspace) : undefined;
  return z
    .object({
      keyPrefix: z.string().regex(/^[A-Za-z0-9_.-]+:$/, "letters, digits, '_', '.', '-', ending with ':' (e.g. \"nexus:\")").default("nexus:").meta({ description: "The platform's key prefix (config.toml `key_prefix`). Default \"nexus:\"." }),
      cluster: z.boolean().default(false).meta({ description: "Redis Cluster (config.toml `enable_cluster`): only DB 0 (each logical database is already a key namespace). Default false." }),
      bind: z.array(z.string().min(1)).min(1).default(["127.0.0.1"]).meta({ description: "Interfaces to listen on. Default [\"127.0.0.1\"] (a container sets \"0.0.0.0\")." }),
      protectedMode: z.boolean().default(true).meta({ description: "Refuse non-loopback clients while the default user has no password. Default true." }),
      port: port.default(6379).meta({ description: "The plain TCP port; 0 turns it off (TLS only). Default 6379." }),
      tls: z
        .object({
          port: port.min(1).optional().meta({ description: "The TLS port. Default: no TLS listener." }),
          certFile: z.string().min(1).optional().meta({ description: "Server certificate (PEM). Required with `port`." }),
          keyFile: z.string().min(1).optional().meta({ description: "Private key of the certificate (PEM). Required with `port`." }),
          caCertFile: z.string().min(1).optional().meta({ description: "CA bundle for client certificates. Required unless `authClients` is \"no\"." }),
          authClients: z.enum(["no", "optional", "yes"]).default("no").meta({ description: "Require client certificates: \"no\", \"optional\" or \"yes\". Default \"no\" (clients authenticate with ACL passwords)." }),
          protocols: z.array(z.enum(["TLSv1.2", "TLSv1.3"])).min(1).default(["TLSv1.2", "TLSv1.3"]).meta({ description: "Allowed protocol versions. Default [\"TLSv1.2\", \"TLSv1.3\"]." }),
        })
        .strict()
        .prefault({}).meta({ description: "TLS listener. Off unless `port` is set." }),
      maxmemory: memorySize.default(256 * 1024 ** 2).meta({ description: "Memory limit: bytes or \"256mb\"-style; 0 means no limit. Default \"256mb\"." }),
      maxmemoryPolicy: z.enum(MAXMEMORY_POLICIES).default("allkeys-lru").meta({ description: "Eviction policy. Default \"allkeys-lru\" (the spec's session-store policy)." }),
      databases: z.number().int().min(1).max(10_000).default(16).meta({ description: "Number of databases; the layout needs 0–5. Default 16." }),
      persistence: z
        .object({
          appendonly: z.boolean().default(true).meta({ description: "Append-only file. Default true." }),
          appendfsync: z.enum(["always", "everysec", "no"]).default("everysec").meta({ description: "AOF fsync policy: \"always\", \"everysec\" or \"no\". Default \"everysec\"." }),
          save: z
            .array(z.tuple([z.number().int().positive(), z.number().int().positive()]))
            .default([
              [3600, 1],
              [300, 100],
              [60, 10000],
            ]).meta({ description: "RDB snapshot points as [seconds, changes]; [] turns snapshots off. Default [[3600,1],[300,100],[60,10000]]." }),
          dir: z.string().min(1).default("/data").meta({ description: "Working directory for the AOF and RDB files. Default \"/data\" (the redis image's volume)." }),
        })
        .strict()
        .prefault({}).meta({ description: "Persistence. Default AOF with fsync every second, plus RDB snapshots." }),
      timeouts: z
        .object({
          idleSeconds: z.number().int().min(0).default(0).meta({ description: "Close clients idle this many seconds; 0 never. Default 0 (pooled backend connections stay open)." }),
          tcpKeepaliveSeconds: z.number().int().min(0).default(300).meta({ description: "TCP keepalive interval in seconds; 0 off. Default 300." }),
        })
        .strict()
        .prefault({}).meta({ description: "Client timeouts." }),
      slowlog: z
        .object({
          slowerThanMicros: z.number().int().min(-1).default(10_000).meta({ description: "Log commands slower than this many microseconds; -1 off. Default 10000." }),
          maxLen: z.number().int().min(0).default(128).meta({ description: "Entries kept. Default 128." }),
        })
        .strict()
        .prefault({}).meta({ description: "Slow log." }),
      keyspaceNotifications: z.string().regex(NOTIFY_FLAGS, "only the flags K E g $ l s h z x e t m d n A").default("").meta({ description: "`notify-keyspace-events` flags; the layout does not rely on them. Default \"\" (off)." }),
      aclFile: z.string().min(1).default("/usr/local/etc/redis/users.acl").meta({ description: "Where the server reads the ACL file. Default \"/usr/local/etc/redis/users.acl\"." }),
      acl: z
        .object({
          defaultUser: z.boolean().default(dev).meta({ description: "The built-in passwordless `default` user. Default: on in dev/local/ci, off elsewhere (refused outside dev); always off, and refused, where Redis is reachable beyond loopback (docker, cloud, an external server not on loopback)." }),
          users: z
            .object({
              admin: user("nexus_admin", "admin").meta({ description: "Operators: every command and key. Default name \"nexus_admin\"." }),
              app: user("nexus_app", "app").meta({ description: "The platform: its key prefix and channels, no dangerous command. Default name \"nexus_app\"." }),
              readonly: user("nexus_readonly", "readonly").meta({ description: "Dashboards and support: read commands on the platform's keys, subscribe. Default name \"nexus_readonly\"." }),
              warmup: user("nexus_warmup", "warmup").meta({ description: "The cache warmup: writes its own key prefixes only. Default name \"nexus_warmup\"." }),
            })
            .strict()
            .prefault({}),
          appDeniedCommands: z.array(commandName).default([...APP_DENIED_COMMANDS]).meta({ description: "Commands the app user is denied besides `@dangerous`. Default: FLUSHALL, FLUSHDB, CONFIG, DEBUG, KEYS, SHUTDOWN, …" }),
        })
        .strict()
        .prefault({}).meta({ description: "ACL users (instead of requirepass)." }),
    })
    .strict()
    // Runs even when single fields failed (`when`), so one report lists every problem; the value
    // may then hold raw input, hence the type guards.
    .superRefine(
      (s, ctx) => {
        const tls = (typeof s.tls === "object" && s.tls) || ({} as Partial<RedisTls>);
        if (typeof tls.port === "number") {
          if (!tls.certFile) ctx.addIssue({ code: "custom", path: ["tls", "certFile"], message: `tls.port ${tls.port} needs a certificate: set tls.certFile (PEM)` });
          if (!tls.keyFile) ctx.addIssue({ code: "custom", path: ["tls", "keyFile"], message: `tls.port ${tls.port} needs the certificate's key: set tls.keyFile (PEM)` });
          if (tls.authClients !== undefined && tls.authClients !== "no" && !tls.caCertFile)
            ctx.addIssue({ code: "custom", path: ["tls", "caCertFile"], message: `tls.authClients "${tls.authClients}" needs tls.caCertFile to verify client certificates` });
          if (tls.port === s.port) ctx.addIssue({ code: "custom", path: ["tls", "port"], message: `tls.port and port are both ${s.port}: use two ports` });
        } else if (s.port === 0) {
          ctx.addIssue({ code: "custom", path: ["port"], message: "port 0 turns off plain TCP, and no tls.port is set: the server would accept no client" });
        }
        if (keyspace && highest !== undefined && s.cluster !== true && typeof s.databases === "number" && s.databases <= highest) {
          const beyond = Object.entries(keyspace.databases)
            .filter(([, d]) => d.index >= s.databases)
            .map(([n, d]) => `DB ${d.index} (${n})`)
            .join(", ");
          ctx.addIssue({
            code: "custom",
            path: ["databases"],
            message: `${s.databases} databases leave out ${beyond} of the keyspace layout: set databases to at least ${highest + 1}`,
          });
        }
        if (s.acl?.defaultUser === true && !dev)
          ctx.addIssue({ code: "custom", path: ["acl", "defaultUser"], message: "the passwordless default user is allowed only in dev: remove acl.defaultUser or set it false" });
        const names = new Map<string, string>();
        for (const role of ACL_ROLES) {
          const name = s.acl?.users?.[role]?.name;
          if (typeof name !== "string") continue;
          if (name === "default") ctx.addIssue({ code: "custom", path: ["acl", "users", role, "name"], message: `"default" is Redis's built-in user: choose another name` });
          const other = names.get(name);
          if (other) ctx.addIssue({ code: "custom", path: ["acl", "users", role, "name"], message: `user name "${name}" is also the ${other} user's` });
          names.set(name, role);
        }
      },
      { when: () => true },
    ).meta({ description: "The Redis settings schema, with the defaults of the given environment." });
}

export type RedisSettingsInput = z.input<ReturnType<typeof redisSettingsSchema>>;
type RedisTls = RedisSettings["tls"];
export type RedisSettings = z.output<ReturnType<typeof redisSettingsSchema>>;

/** Invalid Redis settings: every problem, each named by its config path (e.g. `redis.maxmemory`). */
export class RedisSettingsError extends Error {
  constructor(readonly problems: { path: string; message: string }[]) {
    super(`invalid Redis settings:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join("\n")}`);
    this.name = "RedisSettingsError";
  }
}

export interface ParseOptions extends RedisSettingsProfile {
  /** Where the settings sit in the stack config, for messages. Default "redis". */
  path?: string;
}

/** Parses and checks the settings; throws RedisSettingsError listing every problem by path. */
export function parseRedisSettings(input: unknown, options: ParseOptions = {}): RedisSettings {
  const result = redisSettingsSchema(options).safeParse(input ?? {});
  if (result.success) return result.data;
  const base = options.path ?? "redis";
  throw new RedisSettingsError(
    result.error.issues.map((i) => {
      const keys = i.code === "unrecognized_keys" ? i.keys : [undefined];
      return keys.map((k) => ({
        path: [base, ...i.path.map(String), ...(k ? [k] : [])].filter(Boolean).join("."),
        message: k ? `unknown setting (a typo?)` : i.message,
      }));
    }).flat(),
  );
}
