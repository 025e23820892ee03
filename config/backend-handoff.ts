// What the backend services receive from a stack, as one typed description: the four URLs, the
// pool and timeout settings of each store, Mongo's appName, the Redis key prefix and TTLs, the CA
// and the JWT signing secret. The same values are rendered three ways: the stack output `backend`
// (a secret), `.env` and `config.toml` (`npm run env`). `.env.example` and `config.example.toml`
// are rendered from the same description with placeholder values.
//
// Pure functions, no Pulumi: the component resolves the values and calls `backendHandoff`.
import { stringify } from "smol-toml";
import { LOGICAL_DATABASE_NAMES, type LogicalDatabaseName } from "../redis/layout";
import { keyspaceLayout } from "./redis-layout-document";
import { parseStackConfig, type StackConfig } from "./schema";

/** Connections of the PostgreSQL server beyond the backend pools: superuser reserve, admin sessions, migrations, monitoring. */
export const RESERVED_CONNECTIONS = 20;

/** How the PostgreSQL connections are shared out: every service's pool at its maximum, plus the reserve. */
export interface ConnectionBudget {
  /** One service's pool at its maximum (DATABASE_MAX_CONNECTIONS). */
  perService: number;
  services: number;
  /** CONNECTION LIMIT of the app role: every pool at its maximum. */
  appRoleLimit: number;
  /** max_connections the server is given (docker, RDS parameter group). */
  serverMaxConnections: number;
}

export function postgresConnectionBudget(c: Pick<StackConfig["postgres"], "poolMaxConnections" | "services">): ConnectionBudget {
  const appRoleLimit = c.poolMaxConnections * c.services;
  return { perService: c.poolMaxConnections, services: c.services, appRoleLimit, serverMaxConnections: appRoleLimit + RESERVED_CONNECTIONS };
}

/** The stack's values the handoff is made of (resolved: the component passes them through `apply`). */
export interface HandoffValues {
  /** DATABASE_URL: the app role's URL. */
  databaseUrl: string;
  /** The app user's MongoDB URL (the client options are added here). */
  mongoUrl: string;
  /** The app ACL user's Redis URL. */
  redisUrl: string;
  /** The JWT signing secret. */
  jwtSecret: string;
  /** The CA the stores' certificates chain to, when the stack has one. */
  caCertPem?: string;
}

export type HandoffSettings = Pick<StackConfig, "stack" | "environment" | "postgres" | "mongo" | "redis" | "clients">;

/** What the backend receives. Every field is what `.env` and `config.toml` say. */
export interface BackendHandoff {
  stack: string;
  environment: string;
  postgres: {
    url: string;
    maxConnections: number;
    minConnections: number;
    connectTimeoutSeconds: number;
    idleTimeoutSeconds: number;
    maxLifetimeSeconds: number;
    enableLogging: boolean;
    /** Always false: `pulumi up` applies the migrations, under a lock, before the backend starts. */
    runMigrations: false;
    /** How the server's connections are shared out (for the operator; not a client setting). */
    budget: ConnectionBudget;
  };
  mongo: {
    /** With appName, maxPoolSize, minPoolSize and the timeouts as URL options, so any driver applies them. */
    url: string;
    database: string;
    appName: string;
    maxPoolSize: number;
    minPoolSize: number;
    connectTimeoutSeconds: number;
    serverSelectionTimeoutSeconds: number;
  };
  redis: {
    url: string;
    maxConnections: number;
    connectionTimeoutSeconds: number;
    poolTimeoutSeconds: number;
    enableCluster: boolean;
    keyPrefix: string;
    defaultTtlSeconds: number;
    /** TTLs the keyspace layout sets per logical database (the others use defaultTtlSeconds or none). */
    ttlSeconds: Partial<Record<LogicalDatabaseName, number>>;
  };
  tls: {
    /** The CA (PEM); `npm run env` writes it to a file. */
    caCertPem?: string;
    /** Where the CA file is, once written: the URLs name it. */
    caFile?: string;
  };
  jwt: { secret: string };
}

/**
 * `url` with query parameters set. Works on the text, not on `URL`: a MongoDB URL may list several
 * hosts (`mongodb://a:27017,b:27017/db`), which `URL` refuses.
 */
export function setQueryParams(url: string, params: Record<string, string>): string {
  const q = url.indexOf("?");
  const base = q < 0 ? url : url.slice(0, q);
  const search = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
  for (const [k, v] of Object.entries(params)) search.set(k, v);
  const qs = search.toString();
  return qs ? `${base}?${qs}` : base;
}

function queryParams(url: string): URLSearchParams {
  const q = url.indexOf("?");
  return new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
}

/** The MongoDB URL with the client settings as connection-string options. */
export function mongoClientUrl(url: string, m: StackConfig["clients"]["mongo"]): string {
  return setQueryParams(url, {
    appName: m.appName,
    maxPoolSize: String(m.maxPoolSize),
    minPoolSize: String(m.minPoolSize),
    connectTimeoutMS: String(m.connectTimeoutSeconds * 1000),
    serverSelectionTimeoutMS: String(m.serverSelectionTimeoutSeconds * 1000),
  });
}

/** The description for a stack's settings and resolved values. */
export function backendHandoff(s: HandoffSettings, v: HandoffValues): BackendHandoff {
  const c = s.clients;
  const layout = keyspaceLayout({ cluster: s.redis.settings.cluster, keyPrefix: s.redis.settings.keyPrefix });
  const ttlSeconds: BackendHandoff["redis"]["ttlSeconds"] = {};
  for (const name of LOGICAL_DATABASE_NAMES) {
    const ttl = layout.database(name).ttlSeconds;
    if (ttl !== undefined) ttlSeconds[name] = ttl;
  }
  return {
    stack: s.stack,
    environment: s.environment,
    postgres: {
      url: v.databaseUrl,
      maxConnections: s.postgres.poolMaxConnections,
      minConnections: c.postgres.minConnections,
      connectTimeoutSeconds: c.postgres.connectTimeoutSeconds,
      idleTimeoutSeconds: c.postgres.idleTimeoutSeconds,
      maxLifetimeSeconds: c.postgres.maxLifetimeSeconds,
      enableLogging: c.postgres.enableLogging,
      runMigrations: false,
      budget: postgresConnectionBudget(s.postgres),
    },
    mongo: {
      url: mongoClientUrl(v.mongoUrl, c.mongo),
      database: s.mongo.settings.database,
      appName: c.mongo.appName,
      maxPoolSize: c.mongo.maxPoolSize,
      minPoolSize: c.mongo.minPoolSize,
      connectTimeoutSeconds: c.mongo.connectTimeoutSeconds,
      serverSelectionTimeoutSeconds: c.mongo.serverSelectionTimeoutSeconds,
    },
    redis: {
      url: v.redisUrl,
      maxConnections: c.redis.maxConnections,
      connectionTimeoutSeconds: c.redis.connectionTimeoutSeconds,
      poolTimeoutSeconds: c.redis.poolTimeoutSeconds,
      enableCluster: s.redis.settings.cluster,
      keyPrefix: layout.keyPrefix,
      defaultTtlSeconds: c.redis.defaultTtlSeconds,
      ttlSeconds,
    },
    tls: v.caCertPem ? { caCertPem: v.caCertPem } : {},
    jwt: { secret: v.jwtSecret },
  };
}

/** `url` with a query parameter set, only when `usesTls` says the URL uses TLS. */
function withParam(url: string, key: string, value: string, usesTls: (q: URLSearchParams) => boolean): string {
  return usesTls(queryParams(url)) ? setQueryParams(url, { [key]: value }) : url;
}

/**
 * The handoff once its CA is written to `caFile`: DATABASE_URL gets `sslrootcert`, the MongoDB URL
 * `tlsCAFile` (Redis clients take the CA as an option: NEXUS_DB_CA_FILE / `[tls] ca_file`).
 * Unchanged when the handoff has no CA.
 */
export function withCaFile(h: BackendHandoff, caFile: string): BackendHandoff {
  if (!h.tls.caCertPem) return h;
  return {
    ...h,
    postgres: { ...h.postgres, url: withParam(h.postgres.url, "sslrootcert", caFile, (q) => (q.get("sslmode") ?? "disable") !== "disable") },
    mongo: { ...h.mongo, url: withParam(h.mongo.url, "tlsCAFile", caFile, (q) => q.get("tls") === "true" || q.get("ssl") === "true") },
    tls: { ...h.tls, caFile },
  };
}

// ---------------------------------------------------------------------------------------------
// .env

/**
 * A value as both a POSIX shell (`set -a; . ./.env`) and dotenv readers (npm `dotenv`, Rust
 * `dotenvy`, python-dotenv) read it back unchanged: bare when it has only characters no reader
 * treats specially, else in single quotes (literal everywhere), else in double quotes when it has
 * none of the characters the two kinds of reader expand differently. A value fitting none of
 * these (both quote kinds, a newline…) is refused, naming the variable.
 */
export function envValue(v: string, name = "value"): string {
  if (/^[A-Za-z0-9_./:@%+,=-]*$/.test(v)) return v;
  if (!/['\n\r]/.test(v)) return `'${v}'`;
  if (!/["$`\\\n\r]/.test(v)) return `"${v}"`;
  throw new Error(`${name}: the value holds both kinds of quote or a line break, which no .env quoting keeps intact for every reader; choose a value without them`);
}

const SCREAMING = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();

/** The variables of `.env`, in order, grouped by store (a group's first entry is its comment). */
export function envVariables(h: BackendHandoff): { comment: string; vars: [string, string][] }[] {
  const n = (x: number | boolean) => String(x);
  const groups: { comment: string; vars: [string, string][] }[] = [
    {
      comment: `PostgreSQL (pools sized for max_connections ${h.postgres.budget.serverMaxConnections}: ${h.postgres.budget.services} services × ${h.postgres.budget.perService} + ${RESERVED_CONNECTIONS} reserved)`,
      vars: [
        ["DATABASE_URL", h.postgres.url],
        ["DATABASE_MAX_CONNECTIONS", n(h.postgres.maxConnections)],
        ["DATABASE_MIN_CONNECTIONS", n(h.postgres.minConnections)],
        ["DATABASE_CONNECT_TIMEOUT_SECONDS", n(h.postgres.connectTimeoutSeconds)],
        ["DATABASE_IDLE_TIMEOUT_SECONDS", n(h.postgres.idleTimeoutSeconds)],
        ["DATABASE_MAX_LIFETIME_SECONDS", n(h.postgres.maxLifetimeSeconds)],
        ["DATABASE_ENABLE_LOGGING", n(h.postgres.enableLogging)],
        ["DATABASE_RUN_MIGRATIONS", n(h.postgres.runMigrations)],
      ],
    },
    {
      comment: "MongoDB (appName, pool and timeouts are also options in the URL)",
      vars: [
        ["MONGODB_URL", h.mongo.url],
        ["MONGODB_DATABASE", h.mongo.database],
        ["MONGODB_APP_NAME", h.mongo.appName],
        ["MONGODB_MAX_POOL_SIZE", n(h.mongo.maxPoolSize)],
        ["MONGODB_MIN_POOL_SIZE", n(h.mongo.minPoolSize)],
        ["MONGODB_CONNECT_TIMEOUT_SECONDS", n(h.mongo.connectTimeoutSeconds)],
        ["MONGODB_SERVER_SELECTION_TIMEOUT_SECONDS", n(h.mongo.serverSelectionTimeoutSeconds)],
      ],
    },
    {
      comment: "Redis (the keyspace layout: `npx nexus-db redis layout --json`)",
      vars: [
        ["REDIS_URL", h.redis.url],
        ["REDIS_MAX_CONNECTIONS", n(h.redis.maxConnections)],
        ["REDIS_CONNECTION_TIMEOUT_SECONDS", n(h.redis.connectionTimeoutSeconds)],
        ["REDIS_POOL_TIMEOUT_SECONDS", n(h.redis.poolTimeoutSeconds)],
        ["REDIS_ENABLE_CLUSTER", n(h.redis.enableCluster)],
        ["REDIS_KEY_PREFIX", h.redis.keyPrefix],
        ["REDIS_DEFAULT_TTL_SECONDS", n(h.redis.defaultTtlSeconds)],
        ...Object.entries(h.redis.ttlSeconds).map(([db, ttl]): [string, string] => [`REDIS_${SCREAMING(db)}_TTL_SECONDS`, n(ttl)]),
      ],
    },
  ];
  if (h.tls.caFile) {
    groups.push({ comment: "The CA the stores' certificates are signed with", vars: [["NEXUS_DB_CA_FILE", h.tls.caFile], ["PGSSLROOTCERT", h.tls.caFile]] });
  }
  groups.push({ comment: `JWT signing secret (rotate: \`pulumi config set jwtSecretVersion <n+1>\`)`, vars: [["JWT_SECRET", h.jwt.secret]] });
  return groups;
}

/** The `.env` text: header comment lines, then each group. */
export function renderEnvFile(h: BackendHandoff, header: string[]): string {
  const lines = header.map((l) => `# ${l}`);
  for (const g of envVariables(h)) {
    lines.push("", `# ${g.comment}`, ...g.vars.map(([k, v]) => `${k}=${envValue(v, k)}`));
  }
  return lines.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------------
// config.toml

/** The config.toml document in the specification's shape (`[database]`, `[redis]`), plus the other stores. */
export function configTomlDocument(h: BackendHandoff): Record<string, unknown> {
  const snake = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
  return {
    database: {
      url: h.postgres.url,
      max_connections: h.postgres.maxConnections,
      min_connections: h.postgres.minConnections,
      connection_timeout_seconds: h.postgres.connectTimeoutSeconds,
      idle_timeout_seconds: h.postgres.idleTimeoutSeconds,
      max_lifetime_seconds: h.postgres.maxLifetimeSeconds,
      enable_logging: h.postgres.enableLogging,
      run_migrations: h.postgres.runMigrations,
    },
    mongodb: {
      url: h.mongo.url,
      database: h.mongo.database,
      app_name: h.mongo.appName,
      max_pool_size: h.mongo.maxPoolSize,
      min_pool_size: h.mongo.minPoolSize,
      connection_timeout_seconds: h.mongo.connectTimeoutSeconds,
      server_selection_timeout_seconds: h.mongo.serverSelectionTimeoutSeconds,
    },
    redis: {
      url: h.redis.url,
      max_connections: h.redis.maxConnections,
      connection_timeout_seconds: h.redis.connectionTimeoutSeconds,
      pool_timeout_seconds: h.redis.poolTimeoutSeconds,
      enable_cluster: h.redis.enableCluster,
      key_prefix: h.redis.keyPrefix,
      default_ttl_seconds: h.redis.defaultTtlSeconds,
      ttl_seconds: Object.fromEntries(Object.entries(h.redis.ttlSeconds).map(([db, ttl]) => [snake(db), ttl])),
    },
    ...(h.tls.caFile ? { tls: { ca_file: h.tls.caFile } } : {}),
    jwt: { secret: h.jwt.secret },
  };
}

export function renderConfigToml(h: BackendHandoff, header: string[]): string {
  return `${header.map((l) => `# ${l}`).join("\n")}\n\n${stringify(configTomlDocument(h))}\n`;
}

// ---------------------------------------------------------------------------------------------
// The committed examples

export const ENV_EXAMPLE_FILE = ".env.example";
export const TOML_EXAMPLE_FILE = "config.example.toml";
const PLACEHOLDER = "CHANGE_ME";

/** The handoff of a default dev stack with placeholder credentials (what the examples show). */
export function exampleHandoff(): BackendHandoff {
  const cfg = parseStackConfig({ environment: "dev" }, "dev");
  const h = backendHandoff(cfg, {
    databaseUrl: `postgresql://${cfg.postgres.roles.app}:${PLACEHOLDER}@127.0.0.1:5432/${cfg.postgres.database}?sslmode=verify-full`,
    mongoUrl: `mongodb://${cfg.mongo.settings.users.app.name}:${PLACEHOLDER}@127.0.0.1:27017/${cfg.mongo.settings.database}?authSource=${cfg.mongo.settings.database}&tls=true`,
    redisUrl: `rediss://${cfg.redis.settings.acl.users.app.name}:${PLACEHOLDER}@127.0.0.1:6379`,
    jwtSecret: `${PLACEHOLDER}_at_least_32_random_characters`,
    caCertPem: "(the stack's CA)",
  });
  return withCaFile(h, "ca.pem");
}

/** The example files as they should be: file name → text. */
export function exampleFiles(): { file: string; text: string }[] {
  const h = exampleHandoff();
  const header = (what: string) => [
    `${what} of what the backend receives, with placeholder credentials.`,
    "Generated from config/backend-handoff.ts (`npx tsx scripts/env-file.ts --examples`); a test fails when it is stale.",
    "`npm run env [-- <stack>]` writes the real one from a stack's outputs, readable by you only.",
  ];
  return [
    { file: ENV_EXAMPLE_FILE, text: renderEnvFile(h, header("An example .env")) },
    { file: TOML_EXAMPLE_FILE, text: renderConfigToml(h, header("An example config.toml")) },
  ];
}
