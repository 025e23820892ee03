// The stack config: one typed schema for every key of the `nexus-db:` namespace, defaults resolved
// per environment, parsed once. An invalid config fails before any resource is registered, with
// every problem listed by its config path (e.g. `nexus-db:redis.settings.maxmemory`).
//
// Secrets (passwords, a CA key) are separate `--secret` keys, listed in SECRET_KEYS; they never
// pass through this schema's plain values.
import { z } from "zod";
import { migrationSettingsSchema } from "../engines/postgres/settings";
import { mongoSettingsSchema } from "../engines/mongo/settings";
import { redisSettingsSchema } from "../engines/redis/settings";
import { atlasSchema, cloudProblems, elastiCacheSchema, rdsSchema } from "./cloud";

export const NAMESPACE = "nexus-db";

export const ENVIRONMENTS = ["dev", "local", "ci", "staging", "prod"] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

/** Environments whose stacks are protected unless the stack says otherwise. */
const PROTECTED_BY_DEFAULT: readonly Environment[] = ["staging", "prod"];

export const BACKENDS = ["docker", "external", "cloud"] as const;
export type Backend = (typeof BACKENDS)[number];

/** Secret config keys (set with `pulumi config set --secret`). All optional: absent ones are generated. */
export const SECRET_KEYS = [
  "postgresAdminPassword",
  "postgresOwnerPassword",
  "postgresAppPassword",
  "postgresReadonlyPassword",
  "mongoAdminPassword",
  "mongoAppPassword",
  "mongoAnalyticsPassword",
  "redisAdminPassword",
  "redisAppPassword",
  "redisReadonlyPassword",
  "redisWarmupPassword",
  "tlsCaKeyPem",
  "redisAuthToken",
] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

const port = z.number().int().min(1).max(65535);
const hostName = z.string().min(1).regex(/^[A-Za-z0-9.:_-]+$/, "a host name or IP address");
const identifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "a lower-case SQL identifier (letters, digits, _)");
const imageRef = z.string().regex(/^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?$/, "an image reference like postgres:16");
const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/, "an image digest like sha256:<64 hex digits>");

/** Container settings shared by the three stores on the docker backend. */
function containerSchema(defaults: { image: string; port: number; memoryMb: number; cpus: number }) {
  return z.strictObject({
    /** Image, pinned by tag. Default per store: postgres:16, mongo:7, redis:7. */
    image: imageRef.default(defaults.image),
    /** Optional digest the image must match (pins it exactly). Default: none. */
    digest: digest.optional(),
    /** Host port the store is published on. Default: the store's standard port. */
    hostPort: port.default(defaults.port),
    /** Memory limit in MiB. Default per store. */
    memoryMb: z.number().int().min(64).default(defaults.memoryMb),
    /** CPU limit (cores, fractions allowed). Default per store. */
    cpus: z.number().positive().max(64).default(defaults.cpus),
  });
}

/** A server that already exists (this machine's, a CI service, a managed instance). */
const externalPostgresSchema = z.strictObject({
  /** Host name or address. Default 127.0.0.1. */
  host: hostName.default("127.0.0.1"),
  /** Port. Default 5432. */
  port: port.default(5432),
  /** The administrative user that creates roles and the database. Default "postgres". */
  adminUser: z.string().min(1).default("postgres"),
  /** The database the admin user connects to. Default "postgres". */
  adminDatabase: z.string().min(1).default("postgres"),
  /** libpq sslmode for every connection: disable, require, verify-ca, verify-full. Default "verify-full". */
  sslMode: z.enum(["disable", "require", "verify-ca", "verify-full"]).default("verify-full"),
  /** PEM file of the CA that signed the server's certificate. Default: the system's CAs. */
  caFile: z.string().min(1).optional(),
});

const externalMongoSchema = z.strictObject({
  /** Host name or address. Default 127.0.0.1. */
  host: hostName.default("127.0.0.1"),
  /** Port. Default 27017. */
  port: port.default(27017),
  /** The administrative user (empty: the server has no authentication, e.g. a test server). Default "". */
  adminUser: z.string().default(""),
  /** Database the admin user authenticates against. Default "admin". */
  authSource: z.string().min(1).default("admin"),
});

const externalRedisSchema = z.strictObject({
  /** Host name or address. Default 127.0.0.1. */
  host: hostName.default("127.0.0.1"),
  /** Port. Default 6379. */
  port: port.default(6379),
  /** Connect over TLS. Default false. */
  tls: z.boolean().default(false),
  /** PEM file of the CA that signed the server's certificate. Default: the system's CAs. */
  caFile: z.string().min(1).optional(),
  /** ACL user of the admin connection ("default" on a server without ACL users). Default "default". */
  adminUser: z.string().min(1).default("default"),
  /**
   * What the server lets us change: "full" (CONFIG SET and ACL SETUSER allowed), or "managed"
   * (a managed service: only what it allows is applied, the rest reported). Default "full".
   */
  control: z.enum(["full", "managed"]).default("full"),
});

/** The PostgreSQL section, `nexus-db:postgres`. */
function postgresSchema(env: Environment) {
  return z.strictObject({
    /** Where the server comes from: docker (dev), external (existing server), cloud (managed). Default: docker on dev, else external. */
    backend: z.enum(BACKENDS).default(env === "dev" ? "docker" : "external"),
    /** The platform database. Default "nexus_security". */
    database: identifier.default("nexus_security"),
    /** Role names: the schema owner (runs migrations), the application (DML, EXECUTE), read-only (SELECT). */
    roles: z
      .strictObject({
        /** Owns the database and schema, runs migrations. Default "nexus_owner". */
        owner: identifier.default("nexus_owner"),
        /** The backend services: DML and EXECUTE, no DDL. Default "nexus_app". */
        app: identifier.default("nexus_app"),
        /** Analytics and support: SELECT only. Default "nexus_readonly". */
        readonly: identifier.default("nexus_readonly"),
      })
      .prefault({}),
    /** The backend's pool size per service (DATABASE_MAX_CONNECTIONS). Default 100, as the spec's backend. */
    poolMaxConnections: z.number().int().min(1).max(10_000).default(100),
    /** Services sharing the server with that pool size; sizes the server's max_connections. Default 2. */
    services: z.number().int().min(1).max(100).default(2),
    /** Server memory settings (docker backend; the cloud backend sets them in its parameter group). */
    memory: z
      .strictObject({
        /** shared_buffers. Default "256MB". */
        sharedBuffers: z.string().regex(/^\d+(kB|MB|GB)$/, "a size like 256MB").default("256MB"),
        /** work_mem. Default "8MB". */
        workMem: z.string().regex(/^\d+(kB|MB|GB)$/, "a size like 8MB").default("8MB"),
        /** maintenance_work_mem. Default "128MB". */
        maintenanceWorkMem: z.string().regex(/^\d+(kB|MB|GB)$/, "a size like 128MB").default("128MB"),
        /** effective_cache_size. Default "768MB". */
        effectiveCacheSize: z.string().regex(/^\d+(kB|MB|GB)$/, "a size like 768MB").default("768MB"),
      })
      .prefault({}),
    /** Container settings (docker backend). */
    docker: containerSchema({ image: "postgres:16", port: 5432, memoryMb: 1024, cpus: 1 }).prefault({}),
    /** The existing server (external backend). */
    external: externalPostgresSchema.prefault({}),
    /** Amazon RDS (cloud backend): see config/cloud.ts and docs/cloud.md. */
    cloud: rdsSchema.prefault({}),
    /** How migrations are applied: see engines/postgres/settings.ts. */
    migrations: migrationSettingsSchema.prefault({}),
    /** Load sql/seeds/*.sql after the migrations. Default: true on dev/local/ci, refused on protected stacks. */
    seedData: z.boolean().default(env === "dev" || env === "local" || env === "ci"),
  });
}

/** The MongoDB section, `nexus-db:mongo`. */
function mongoSchema(env: Environment) {
  return z.strictObject({
    /** Default: docker on dev, else external. */
    backend: z.enum(BACKENDS).default(env === "dev" ? "docker" : "external"),
    /** Container settings (docker backend). */
    docker: containerSchema({ image: "mongo:7", port: 27017, memoryMb: 1024, cpus: 1 }).prefault({}),
    /** The existing server (external backend). */
    external: externalMongoSchema.prefault({}),
    /** MongoDB Atlas (cloud backend): see config/cloud.ts and docs/cloud.md. */
    cloud: atlasSchema.prefault({}),
    /** Collections, indexes, TTLs, users: see engines/mongo/settings.ts. */
    settings: mongoSettingsSchema.prefault({}),
  });
}

/** The Redis section, `nexus-db:redis`. */
function redisSchema(env: Environment) {
  return z.strictObject({
    /** Default: docker on dev, else external. */
    backend: z.enum(BACKENDS).default(env === "dev" ? "docker" : "external"),
    /** Container settings (docker backend). */
    docker: containerSchema({ image: "redis:7", port: 6379, memoryMb: 512, cpus: 0.5 }).prefault({}),
    /** The existing server (external backend). */
    external: externalRedisSchema.prefault({}),
    /** Amazon ElastiCache (cloud backend): see config/cloud.ts and docs/cloud.md. */
    cloud: elastiCacheSchema.prefault({}),
    /** redis.conf and ACL users: see engines/redis/settings.ts. */
    settings: redisSettingsSchema({ dev: env === "dev" || env === "local" || env === "ci" }).prefault({}),
    /** Cache warmup from PostgreSQL on `pulumi up`. Default true. */
    warmup: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
  });
}

/** Certificates: one CA per stack, a server certificate per store (docker backend). */
const tlsSchema = z.strictObject({
  /**
   * "generate": a CA and server certificates made by the stack (@pulumi/tls); "provided": PEMs
   * given in config (`caCertPem`, and `tlsCaKeyPem` as a secret); "none": no TLS (loopback test
   * servers only; refused on protected stacks). Default: "generate", "none" on local/ci.
   */
  mode: z.enum(["generate", "provided", "none"]).optional(),
  /** CA certificate (PEM) for mode "provided". */
  caCertPem: z.string().optional(),
  /** Organization in the certificates' subjects. Default "Nexus-Security". */
  organization: z.string().min(1).default("Nexus-Security"),
  /** Validity of the generated certificates, in hours. Default 8760 (one year). */
  validityHours: z.number().int().min(24).default(8760),
  /** Extra DNS names for the server certificates (beyond localhost and the container names). */
  extraDnsNames: z.array(z.string().min(1)).default([]),
});

/** Settings of the docker backend shared by all containers. */
const dockerSchema = z.strictObject({
  /** Address the published ports bind to. Default "127.0.0.1" (never the network unless you say so). */
  bindAddress: z.string().default("127.0.0.1"),
  /** Name of the private network. Default "<stack>-nexus-db". */
  networkName: z.string().optional(),
  /** Admin tools (pgAdmin, Mongo Express, Redis Commander): the spec's dev profile. Default: true on dev. */
  devTools: z.boolean().optional(),
  /** Host ports of the admin tools. */
  devToolPorts: z
    .strictObject({
      pgAdmin: port.default(5050),
      mongoExpress: port.default(8081),
      redisCommander: port.default(8082),
    })
    .prefault({}),
});

export function stackConfigSchema(env: Environment) {
  return z
    .strictObject({
      /** dev, local, ci, staging or prod. Required. */
      environment: z.enum(ENVIRONMENTS),
      /** Protected stack: `protect` on data-bearing resources, no seed data, no drops, TLS required. Default: true on staging/prod. */
      protected: z.boolean().default(PROTECTED_BY_DEFAULT.includes(env)),
      /** Volumes and databases may be dropped by `pulumi destroy` (throwaway dev stacks). Default false. */
      ephemeral: z.boolean().default(false),
      tls: tlsSchema.prefault({}),
      docker: dockerSchema.prefault({}),
      postgres: postgresSchema(env).prefault({}),
      mongo: mongoSchema(env).prefault({}),
      redis: redisSchema(env).prefault({}),
    })
    .superRefine((c, ctx) => {
      const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
      const tlsMode = c.tls.mode ?? (c.environment === "local" || c.environment === "ci" ? "none" : "generate");
      if (c.protected) {
        if (c.ephemeral) issue(["ephemeral"], "a protected stack cannot be ephemeral");
        if (c.postgres.seedData) issue(["postgres", "seedData"], "a protected stack never loads seed data");
        if (tlsMode === "none") issue(["tls", "mode"], "a protected stack needs TLS on every store");
        if (c.postgres.backend === "external" && c.postgres.external.sslMode === "disable") {
          issue(["postgres", "external", "sslMode"], "a protected stack needs TLS to PostgreSQL");
        }
        if (c.redis.backend === "external" && !c.redis.external.tls) issue(["redis", "external", "tls"], "a protected stack needs TLS to Redis");
        if (c.postgres.migrations.dropOnDelete) issue(["postgres", "migrations", "dropOnDelete"], "a protected stack never drops its schema");
        if (!["127.0.0.1", "::1", "localhost"].includes(c.docker.bindAddress)) {
          issue(["docker", "bindAddress"], "a protected stack publishes no port beyond loopback");
        }
      }
      if (c.environment !== "dev" && c.docker.devTools) issue(["docker", "devTools"], "the admin tools are for dev stacks only");
      if (c.tls.mode === "provided" && !c.tls.caCertPem) issue(["tls", "caCertPem"], 'required when tls.mode is "provided"');
      if (c.postgres.migrations.dropOnDelete && c.environment !== "dev") {
        issue(["postgres", "migrations", "dropOnDelete"], "only dev stacks may drop their schema on delete");
      }
      if (c.mongo.settings.dropCollectionsOnDelete && c.environment !== "dev") {
        issue(["mongo", "settings", "dropCollectionsOnDelete"], "only dev stacks may drop collections");
      }
      if (c.ephemeral && c.environment !== "dev") issue(["ephemeral"], "only dev stacks may be ephemeral");
      for (const [path, message] of cloudProblems(c)) issue(path, message);
    });
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

/** A config that does not parse: every problem, each with its config path. */
export class StackConfigError extends Error {
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
  const r = stackConfigSchema(env).safeParse(plain);
  if (!r.success) {
    for (const i of r.error.issues) {
      const keys = i.code === "unrecognized_keys" ? i.keys : [undefined];
      for (const k of keys) {
        const p = [...i.path.map(String), ...(k ? [k] : [])];
        const path = `${NAMESPACE}:${p.join(".") || "(root)"}`;
        problems.push({ path, message: k ? `unknown key (a typo? secrets are ${SECRET_KEYS.join(", ")})` : i.message });
      }
    }
    throw new StackConfigError(problems);
  }
  const c = r.data;
  const tlsMode = c.tls.mode ?? (env === "local" || env === "ci" ? "none" : "generate");
  return {
    ...c,
    stack,
    tls: { ...c.tls, mode: tlsMode },
    docker: { ...c.docker, devTools: c.docker.devTools ?? env === "dev", networkName: c.docker.networkName ?? `${stack}-nexus-db` },
  };
}
