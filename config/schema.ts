// The stack config: one typed schema for every key of the `nexus-db:` namespace, defaults resolved
// per environment, parsed once. An invalid config fails before any resource is registered, with
// every problem listed by its config path (e.g. `nexus-db:redis.settings.maxmemory`).
//
// Secrets (passwords, a CA key) are separate `--secret` keys, listed in SECRET_KEYS; they never
// pass through this schema's plain values.
import { z } from "zod";
import { migrationSettingsSchema } from "../engines/postgres/settings";
import { nexusMongoSettingsSchema } from "./mongo-settings";
import { redisSettingsSchema } from "../engines/redis/settings";
import { KEYSPACE } from "../redis/layout";
import { atlasRestoreTargetProblem, atlasSchema, cloudProblems, elastiCacheSchema, rdsSchema } from "./cloud";
import { unknownKeys } from "./keys";
import { BACKENDS, defaultBackend, defaultTlsMode, NAMESPACE, SECRET_KEYS } from "./names";
import { isLoopback } from "./rules";

export { NAMESPACE, SECRET_KEYS, type SecretKey } from "./names";

export const ENVIRONMENTS = ["dev", "local", "ci", "staging", "prod"] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

/** Environments whose stacks are protected unless the stack says otherwise. */
const PROTECTED_BY_DEFAULT: readonly Environment[] = ["staging", "prod"];

export { BACKENDS, type Backend } from "./names";

const port = z.number().int().min(1).max(65535);
const hostName = z.string().min(1).regex(/^[A-Za-z0-9.:_-]+$/, "a host name or IP address");
const identifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "a lower-case SQL identifier (letters, digits, _)");
const imageRef = z.string().regex(/^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?$/, "an image reference like postgres:16");
const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/, "an image digest like sha256:<64 hex digits>");

function containerSchema(defaults: { image: string; port: number; memoryMb: number; cpus: number }) {
  return z.strictObject({
    image: imageRef.default(defaults.image).meta({ description: "Image, pinned by tag. Default per store: postgres:16, mongo:7, redis:7." }),
    digest: digest.optional().meta({ description: "Optional digest the image must match (pins it exactly). Default: none." }),
    hostPort: port.default(defaults.port).meta({ description: "Host port the store is published on. Default: the store's standard port." }),
    memoryMb: z.number().int().min(64).default(defaults.memoryMb).meta({ description: "Memory limit in MiB. Default per store." }),
    cpus: z.number().positive().max(64).default(defaults.cpus).meta({ description: "CPU limit (cores, fractions allowed). Default per store." }),
  }).meta({ description: "Container settings shared by the three stores on the docker backend." });
}

const externalPostgresSchema = z.strictObject({
  host: hostName.default("127.0.0.1").meta({ description: "Host name or address. Default 127.0.0.1." }),
  port: port.default(5432).meta({ description: "Port. Default 5432." }),
  adminUser: z.string().min(1).default("postgres").meta({ description: "The administrative user that creates roles and the database. Default \"postgres\"." }),
  adminDatabase: z.string().min(1).default("postgres").meta({ description: "The database the admin user connects to. Default \"postgres\"." }),
  sslMode: z.enum(["disable", "require", "verify-ca", "verify-full"]).default("verify-full").meta({ description: "libpq sslmode for every connection: disable, require, verify-ca, verify-full. Default \"verify-full\"." }),
  caFile: z.string().min(1).optional().meta({ description: "PEM file of the CA that signed the server's certificate. Default: the system's CAs." }),
}).meta({ description: "A server that already exists (this machine's, a CI service, a managed instance)." });

const externalMongoSchema = z.strictObject({
  host: hostName.default("127.0.0.1").meta({ description: "Host name or address. Default 127.0.0.1." }),
  port: port.default(27017).meta({ description: "Port. Default 27017." }),
  adminUser: z.string().default("").meta({ description: "The administrative user (empty: the server has no authentication, e.g. a test server). Default \"\"." }),
  authSource: z.string().min(1).default("admin").meta({ description: "Database the admin user authenticates against. Default \"admin\"." }),
});

const externalRedisSchema = z.strictObject({
  host: hostName.default("127.0.0.1").meta({ description: "Host name or address. Default 127.0.0.1." }),
  port: port.default(6379).meta({ description: "Port. Default 6379." }),
  tls: z.boolean().default(false).meta({ description: "Connect over TLS. Default false." }),
  caFile: z.string().min(1).optional().meta({ description: "PEM file of the CA that signed the server's certificate. Default: the system's CAs." }),
  adminUser: z.string().min(1).default("default").meta({ description: "ACL user of the admin connection (\"default\" on a server without ACL users). Default \"default\"." }),
  control: z.enum(["full", "managed"]).default("full").meta({ description: "What the server lets us change: \"full\" (CONFIG SET and ACL SETUSER allowed), or \"managed\" (a managed service: only what it allows is applied, the rest reported). Default \"full\"." }),
});

function postgresSchema(env: Environment) {
  return z.strictObject({
    backend: z.enum(BACKENDS).default(defaultBackend(env)).meta({ description: "Where the server comes from: docker (dev), external (existing server), cloud (managed). Default: docker on dev, else external." }),
    database: identifier.default("nexus_security").meta({ description: "The platform database. Default \"nexus_security\"." }),
    roles: z
      .strictObject({
        owner: identifier.default("nexus_owner").meta({ description: "Owns the database and schema, runs migrations. Default \"nexus_owner\"." }),
        app: identifier.default("nexus_app").meta({ description: "The backend services: DML and EXECUTE, no DDL. Default \"nexus_app\"." }),
        readonly: identifier.default("nexus_readonly").meta({ description: "Analytics and support: SELECT only. Default \"nexus_readonly\"." }),
      })
      .prefault({}).meta({ description: "Role names: the schema owner (runs migrations), the application (DML, EXECUTE), read-only (SELECT)." }),
    poolMaxConnections: z.number().int().min(1).max(10_000).default(100).meta({ description: "The backend's pool size per service (DATABASE_MAX_CONNECTIONS). Default 100, as the spec's backend." }),
    services: z.number().int().min(1).max(100).default(2).meta({ description: "Services sharing the server with that pool size; sizes the server's max_connections. Default 2." }),
    memory: z
      .strictObject({
        sharedBuffers: z.string().regex(/^\d+(kB|MB|GB)$/, "a size like 256MB").default("256MB").meta({ description: "shared_buffers. Default \"256MB\"." }),
        workMem: z.string().regex(/^\d+(kB|MB|GB)$/, "a size like 8MB").default("8MB").meta({ description: "work_mem. Default \"8MB\"." }),
        maintenanceWorkMem: z.string().regex(/^\d+(kB|MB|GB)$/, "a size like 128MB").default("128MB").meta({ description: "maintenance_work_mem. Default \"128MB\"." }),
        effectiveCacheSize: z.string().regex(/^\d+(kB|MB|GB)$/, "a size like 768MB").default("768MB").meta({ description: "effective_cache_size. Default \"768MB\"." }),
      })
      .prefault({}).meta({ description: "Server memory settings (docker backend; the cloud backend sets them in its parameter group)." }),
    docker: containerSchema({ image: "postgres:16", port: 5432, memoryMb: 1024, cpus: 1 }).prefault({}).meta({ description: "Container settings (docker backend)." }),
    external: externalPostgresSchema.prefault({}).meta({ description: "The existing server (external backend)." }),
    cloud: rdsSchema.prefault({}).meta({ description: "Amazon RDS (cloud backend): see config/cloud.ts and docs/cloud.md." }),
    migrations: migrationSettingsSchema.prefault({}).meta({ description: "How migrations are applied: see engines/postgres/settings.ts." }),
    seedData: z.boolean().default(env === "dev" || env === "local" || env === "ci").meta({ description: "Load sql/seeds/*.sql after the migrations. Default: true on dev/local/ci, refused on protected stacks." }),
  }).meta({ description: "The PostgreSQL section, `nexus-db:postgres`." });
}

function mongoSchema(env: Environment) {
  return z.strictObject({
    backend: z.enum(BACKENDS).default(defaultBackend(env)).meta({ description: "Default: docker on dev, else external." }),
    docker: containerSchema({ image: "mongo:7", port: 27017, memoryMb: 1024, cpus: 1 }).prefault({}).meta({ description: "Container settings (docker backend)." }),
    external: externalMongoSchema.prefault({}).meta({ description: "The existing server (external backend)." }),
    cloud: atlasSchema.prefault({}).meta({ description: "MongoDB Atlas (cloud backend): see config/cloud.ts and docs/cloud.md." }),
    settings: nexusMongoSettingsSchema.prefault({}).meta({ description: "Collections, indexes, TTLs, users: see engines/mongo/settings.ts and mongo/settings.ts." }),
  }).meta({ description: "The MongoDB section, `nexus-db:mongo`." });
}

function redisSchema(env: Environment) {
  return z.strictObject({
    backend: z.enum(BACKENDS).default(defaultBackend(env)).meta({ description: "Default: docker on dev, else external." }),
    docker: containerSchema({ image: "redis:7", port: 6379, memoryMb: 512, cpus: 0.5 }).prefault({}).meta({ description: "Container settings (docker backend)." }),
    external: externalRedisSchema.prefault({}).meta({ description: "The existing server (external backend)." }),
    cloud: elastiCacheSchema.prefault({}).meta({ description: "Amazon ElastiCache (cloud backend): see config/cloud.ts and docs/cloud.md." }),
    settings: redisSettingsSchema({ dev: env === "dev" || env === "local" || env === "ci", keyspace: KEYSPACE }).prefault({}).meta({ description: "redis.conf and ACL users: see engines/redis/settings.ts." }),
    warmup: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}).meta({ description: "Cache warmup from PostgreSQL on `pulumi up`. Default true." }),
  }).meta({ description: "The Redis section, `nexus-db:redis`." });
}

const tlsSchema = z.strictObject({
  mode: z.enum(["generate", "provided", "none"]).optional().meta({ description: "\"generate\": a CA and server certificates made by the stack (@pulumi/tls); \"provided\": PEMs given in config (`caCertPem`, and `tlsCaKeyPem` as a secret); \"none\": no TLS (loopback test servers only; refused on protected stacks). Default: \"generate\", \"none\" on local/ci." }),
  caCertPem: z.string().optional().meta({ description: "CA certificate (PEM) for mode \"provided\"." }),
  organization: z.string().min(1).default("Nexus-Security").meta({ description: "Organization in the certificates' subjects. Default \"Nexus-Security\"." }),
  validityHours: z.number().int().min(24).default(8760).meta({ description: "Validity of the generated certificates, in hours. Default 8760 (one year)." }),
  extraDnsNames: z.array(z.string().min(1)).default([]).meta({ description: "Extra DNS names for the server certificates (beyond localhost and the container names)." }),
}).meta({ description: "Certificates: one CA per stack, a server certificate per store (docker backend)." });

const dockerSchema = z.strictObject({
  bindAddress: z.string().default("127.0.0.1").meta({ description: "Address the published ports bind to. Default \"127.0.0.1\" (never the network unless you say so)." }),
  networkName: z.string().optional().meta({ description: "Name of the private network. Default \"<stack>-nexus-db\"." }),
  devTools: z.boolean().optional().meta({ description: "Admin tools (pgAdmin, Mongo Express, Redis Commander): the spec's dev profile. Default: true on dev." }),
  devToolPorts: z
    .strictObject({
      pgAdmin: port.default(5050),
      mongoExpress: port.default(8081),
      redisCommander: port.default(8082),
    })
    .prefault({}).meta({ description: "Host ports of the admin tools." }),
  devToolImages: z
    .strictObject({
      pgAdmin: z.union([z.string().min(1), z.literal(false)]).optional(),
      mongoExpress: z.union([z.string().min(1), z.literal(false)]).optional(),
      redisCommander: z.union([z.string().min(1), z.literal(false)]).optional(),
    })
    .prefault({})
    .meta({
      description:
        "Images of the admin tools: an image reference, or false to leave that tool out. Default: dpage/pgadmin4:8.14, mongo-express:1.0.2-20-alpine3.19, ghcr.io/joeferner/redis-commander:0.9.0 (`scripts/images.sh config <stack>` sets the project's own builds where registries cannot be reached).",
    }),
}).meta({ description: "Settings of the docker backend shared by all containers." });

const backupsSchema = z
  .strictObject({
    enabled: z.boolean().default(false).meta({ description: "A backup container on the stack's docker network that runs `nexus-db backup` of the stores on the docker backend every day, encrypted with the secret `backupKey` (required then). Default false." }),
    image: imageRef.optional().meta({ description: "The image it runs: the project's backup image (images/backup: Node.js, the PostgreSQL client and this project), built by `bash scripts/images.sh` and set by `bash scripts/images.sh config <stack>`. Required when enabled." }),
    dailyAt: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a UTC time of day like "02:30"').default("02:30").meta({ description: 'When the daily backup runs (UTC). Default "02:30".' }),
    runOnStart: z.boolean().default(false).meta({ description: "Also take a backup whenever the container starts (after each `up` that replaces it). Default false." }),
    keepDaily: z.number().int().min(1).max(366).default(7).meta({ description: "Keep the newest archive of each of the last N days (UTC). Default 7." }),
    keepWeekly: z.number().int().min(0).max(520).default(4).meta({ description: "Keep the newest archive of each of the last M ISO weeks as well. Default 4." }),
    hostPath: z.string().regex(/^\/[^\0]*$/, "an absolute path on the docker host").optional().meta({ description: "A folder on the docker host the archives are written to (a bind mount). Default: the named volume \"<stack>-backups\" (kept when the stack is destroyed unless it is ephemeral)." }),
    memoryMb: z.number().int().min(128).default(512).meta({ description: "Memory limit of the container in MiB. Default 512 (a backup streams: memory stays flat as data grows)." }),
  })
  .meta({ description: "Scheduled backups of the docker stores (docs/runbook.md): encrypted archives with retention, written by the project's own backup engine. Cloud stores use their managed backups (postgres.cloud, mongo.cloud, redis.cloud) and their `restore` keys." });

const seconds = (max: number) => z.number().int().min(1).max(max);

const clientsSchema = z
  .strictObject({
    postgres: z
      .strictObject({
        minConnections: z.number().int().min(0).max(10_000).default(10).meta({ description: "Connections each pool keeps open. Default 10; at most `postgres.poolMaxConnections`." }),
        connectTimeoutSeconds: seconds(3600).default(30).meta({ description: "Seconds to wait for a connection to open. Default 30." }),
        idleTimeoutSeconds: z.number().int().min(0).max(86_400).default(600).meta({ description: "Seconds an idle connection stays in the pool. Default 600." }),
        maxLifetimeSeconds: z.number().int().min(0).max(86_400).default(1800).meta({ description: "Seconds before a connection is replaced. Default 1800." }),
        enableLogging: z.boolean().default(false).meta({ description: "Log every statement in the client. Default false." }),
      })
      .prefault({})
      .meta({ description: "The PostgreSQL pool of each service (config.toml `[database]`)." }),
    mongo: z
      .strictObject({
        appName: z.string().min(1).max(128).regex(/^[A-Za-z0-9._-]+$/, "letters, digits, '.', '_', '-'").default("NexusSecurity").meta({ description: "The client's appName (server logs, currentOp). Default \"NexusSecurity\"." }),
        maxPoolSize: z.number().int().min(1).max(10_000).default(50).meta({ description: "maxPoolSize. Default 50." }),
        minPoolSize: z.number().int().min(0).max(10_000).default(5).meta({ description: "minPoolSize. Default 5; at most `maxPoolSize`." }),
        connectTimeoutSeconds: seconds(3600).default(10).meta({ description: "Seconds to wait for a connection to open. Default 10." }),
        serverSelectionTimeoutSeconds: seconds(3600).default(30).meta({ description: "Seconds to wait for a suitable server. Default 30." }),
      })
      .prefault({})
      .meta({ description: "The MongoDB client of each service." }),
    redis: z
      .strictObject({
        maxConnections: z.number().int().min(1).max(10_000).default(50).meta({ description: "Connections per pool. Default 50." }),
        connectionTimeoutSeconds: seconds(3600).default(5).meta({ description: "Seconds to wait for a connection to open. Default 5." }),
        poolTimeoutSeconds: seconds(3600).default(10).meta({ description: "Seconds to wait for a free connection from the pool. Default 10." }),
        defaultTtlSeconds: z.number().int().min(1).default(3600).meta({ description: "TTL of keys whose logical database sets none (config.toml `default_ttl_seconds`). Default 3600." }),
      })
      .prefault({})
      .meta({ description: "The Redis pool of each service (config.toml `[redis]`)." }),
  })
  .meta({
    description:
      "What the backend services' clients use (`npm run env`, config.toml): pool sizes and timeouts per store. The PostgreSQL pool's maximum is `postgres.poolMaxConnections`, which also sizes the server.",
  });

// Every field of the stack config, without the rules that span fields.
function stackConfigBaseSchema(env: Environment) {
  return z.strictObject({
      environment: z.enum(ENVIRONMENTS).meta({ description: "dev, local, ci, staging or prod. Required." }),
      protected: z.boolean().default(PROTECTED_BY_DEFAULT.includes(env)).meta({ description: "Protected stack: `protect` on data-bearing resources, no seed data, no drops, TLS required. Default: true on staging/prod." }),
      ephemeral: z.boolean().default(false).meta({ description: "Volumes and databases may be dropped by `pulumi destroy` (throwaway dev stacks). Default false." }),
      tls: tlsSchema.prefault({}),
      docker: dockerSchema.prefault({}),
      postgres: postgresSchema(env).prefault({}),
      mongo: mongoSchema(env).prefault({}),
      redis: redisSchema(env).prefault({}),
      clients: clientsSchema.prefault({}),
      backups: backupsSchema.prefault({}),
      jwtSecretVersion: z.number().int().min(1).default(1).meta({
        description:
          "Bump to rotate the backend's JWT signing secret (a new one is generated on the next `up`; tokens signed with the old one stop verifying). Ignored when the secret `jwtSecret` is set. Default 1.",
      }),
    });
}

export function stackConfigSchema(env: Environment) {
  return (
    stackConfigBaseSchema(env)
    // Cross-field rules run even when a field failed (`when`), so one run lists every problem; each
    // rule is isolated, since a failed field leaves its raw value where the rule may read it.
    .superRefine(
      (c, ctx) => {
        for (const [path, message] of crossFieldProblems(c)) ctx.addIssue({ code: "custom", path, message });
      },
      { when: () => true },
    )
  );
}

type Problem = [(string | number)[], string];

/** Rules that span fields, as [path, message]. A rule whose fields did not parse is skipped (their own problems are listed). */
function crossFieldProblems(c: z.output<ReturnType<typeof stackConfigBaseSchema>>): Problem[] {
  const out: Problem[] = [];
  const rule = (check: () => Problem | Problem[] | undefined | false) => {
    try {
      const r = check();
      if (r) out.push(...(typeof r[1] === "string" ? [r as Problem] : (r as Problem[])));
    } catch {
      // a field this rule reads failed to parse: its own problem is listed
    }
  };
  const tlsMode = () => c.tls.mode ?? defaultTlsMode(c.environment);
  if (c.protected === true) {
    rule(() => c.ephemeral && [["ephemeral"], "a protected stack cannot be ephemeral"]);
    rule(() => c.postgres.seedData && [["postgres", "seedData"], "a protected stack never loads seed data"]);
    rule(() => tlsMode() === "none" && [["tls", "mode"], "a protected stack needs TLS on every store"]);
    rule(() => c.postgres.backend === "external" && c.postgres.external.sslMode === "disable" && [["postgres", "external", "sslMode"], "a protected stack needs TLS to PostgreSQL"]);
    rule(() => c.redis.backend === "external" && !c.redis.external.tls && [["redis", "external", "tls"], "a protected stack needs TLS to Redis"]);
    rule(() => c.postgres.migrations.dropOnDelete && [["postgres", "migrations", "dropOnDelete"], "a protected stack never drops its schema"]);
    rule(() => typeof c.docker.bindAddress === "string" && !isLoopback(c.docker.bindAddress) && [["docker", "bindAddress"], "a protected stack publishes no port beyond loopback"]);
  }
  rule(() => c.environment !== "dev" && c.docker.devTools && [["docker", "devTools"], "the admin tools are for dev stacks only"]);
  rule(() => c.tls.mode === "provided" && !c.tls.caCertPem && [["tls", "caCertPem"], 'required when tls.mode is "provided"']);
  rule(() => c.postgres.migrations.dropOnDelete && c.environment !== "dev" && [["postgres", "migrations", "dropOnDelete"], "only dev stacks may drop their schema on delete"]);
  rule(() => c.mongo.settings.dropCollectionsOnDelete && c.environment !== "dev" && [["mongo", "settings", "dropCollectionsOnDelete"], "only dev stacks may drop collections"]);
  rule(() => c.ephemeral && c.environment !== "dev" && [["ephemeral"], "only dev stacks may be ephemeral"]);
  rule(() => c.postgres.poolMaxConnections >= 1 && c.clients.postgres.minConnections > c.postgres.poolMaxConnections && [["clients", "postgres", "minConnections"], `more than the pool's maximum (postgres.poolMaxConnections ${c.postgres.poolMaxConnections})`]);
  rule(() => c.clients.mongo.minPoolSize > c.clients.mongo.maxPoolSize && [["clients", "mongo", "minPoolSize"], `more than maxPoolSize (${c.clients.mongo.maxPoolSize})`]);
  rule(() => cloudProblems(c));
  rule(() => c.backups.enabled && !c.backups.image && [["backups", "image"], "required when backups.enabled: build the project's backup image with `bash scripts/images.sh` and set it with `bash scripts/images.sh config <stack>`"]);
  rule(
    () =>
      c.backups.enabled &&
      ![c.postgres.backend, c.mongo.backend, c.redis.backend].includes("docker") &&
      [["backups", "enabled"], "the backup container backs up the stores on the docker backend, and this stack has none: cloud stores keep their managed backups"],
  );
  return out;
}

/**
 * Where Redis is reachable from beyond this machine's loopback, in words, or undefined when it is
 * not: a container listens on the stack's network (every container there reaches it, and the
 * port may be published wider), a cloud service on its VPC, an external server on its host.
 */
export function redisBeyondLoopback(c: { redis: { backend: string; external: { host: string } } }): string | undefined {
  if (c.redis.backend === "docker") return "a container listens on the stack's docker network";
  if (c.redis.backend === "cloud") return "a cloud service listens on its network";
  if (!isLoopback(c.redis.external.host)) return `the server ${c.redis.external.host} is not on loopback`;
  return undefined;
}

export type StackConfigInput = z.input<ReturnType<typeof stackConfigSchema>>;
type ParsedConfig = z.output<ReturnType<typeof stackConfigSchema>>;

/** The stack config with every default resolved. */
export interface StackConfig extends Omit<ParsedConfig, "tls" | "docker"> {
  tls: ParsedConfig["tls"] & { mode: "generate" | "provided" | "none" };
  docker: ParsedConfig["docker"] & { devTools: boolean; networkName: string };
  /** The stack's name (for resource names and the docker network). */
  stack: string;
}

/**
 * A config that does not parse: every problem, each with its config path. Pulumi prints it as it
 * is, without a stack trace (it carries the SDK's RunError mark; this module needs no SDK).
 */
export class StackConfigError extends Error {
  readonly __pulumiRunError = true;
  constructor(readonly problems: { path: string; message: string }[]) {
    super(`invalid stack config (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  ${p.path}: ${p.message}`).join("\n")}`);
    this.name = "StackConfigError";
  }
}

/**
 * Parses the values of the `nexus-db:` namespace (key without namespace → value) into a
 * StackConfig. Unknown keys are problems too: a typo never silently falls back to a default.
 */
export function parseStackConfig(values: Record<string, unknown>, stack: string): StackConfig {
  const problems: { path: string; message: string }[] = [];
  const plain: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) {
    if ((SECRET_KEYS as readonly string[]).includes(k)) continue;
    plain[k] = v;
  }
  const envResult = z.enum(ENVIRONMENTS).safeParse(plain.environment);
  const env: Environment = envResult.success ? envResult.data : "dev";
  const schema = stackConfigSchema(env);
  // Unknown keys at every depth, each with the nearest known key (zod's strict objects report only
  // their own level): listed where zod reports its level's, the others after zod's problems.
  const unknown = unknownKeys(schema, plain).map((u) => ({
    path: `${NAMESPACE}:${[...u.path.map(String), u.key].join(".")}`,
    message: `unknown key${u.suggestion ? ` — did you mean "${u.suggestion}"?` : u.path.length === 0 ? ` (a typo? secrets are ${SECRET_KEYS.join(", ")})` : ""}`,
  }));
  const listed = new Set<string>();
  const r = schema.safeParse(plain);
  for (const i of r.success ? [] : r.error.issues) {
    if (i.code === "unrecognized_keys") {
      for (const k of i.keys) {
        const path = `${NAMESPACE}:${[...i.path.map(String), k].join(".")}`;
        problems.push(unknown.find((u) => u.path === path) ?? { path, message: "unknown key" });
        listed.add(path);
      }
    } else {
      problems.push({ path: `${NAMESPACE}:${i.path.map(String).join(".") || "(root)"}`, message: i.message });
    }
  }
  problems.push(...unknown.filter((u) => !listed.has(u.path)));
  if (!r.success || problems.length > 0) throw new StackConfigError(problems);
  const c = r.data;
  // The cluster's default name is the stack's: known only here.
  const ownTarget = c.mongo.backend === "cloud" ? atlasRestoreTargetProblem(c.mongo.cloud, stack) : undefined;
  if (ownTarget) throw new StackConfigError([{ path: `${NAMESPACE}:${ownTarget[0].join(".")}`, message: ownTarget[1] }]);
  // The passwordless `default` user answers any client that reaches the server, and a client with
  // a wrong password falls back to it: on loopback only, in every environment.
  const beyond = redisBeyondLoopback(c);
  if (beyond) {
    const explicit = (plain.redis as { settings?: { acl?: { defaultUser?: unknown } } } | undefined)?.settings?.acl?.defaultUser;
    if (explicit === true) {
      throw new StackConfigError([{ path: `${NAMESPACE}:redis.settings.acl.defaultUser`, message: `the passwordless default user is refused where Redis is reachable beyond loopback (${beyond}): remove the key or set it false` }]);
    }
    c.redis.settings.acl.defaultUser = false;
  }
  const tlsMode = c.tls.mode ?? defaultTlsMode(env);
  return {
    ...c,
    stack,
    tls: { ...c.tls, mode: tlsMode },
    docker: { ...c.docker, devTools: c.docker.devTools ?? env === "dev", networkName: c.docker.networkName ?? `${stack}-nexus-db` },
  };
}
