// `nexus:db:DevTools`: the spec's dev profile — pgAdmin, Mongo Express and Redis Commander — as
// containers on the stack's docker network, published on loopback only, each logged in to its
// store as the store's admin over TLS (verifying the stack's CA). Dev stacks only: the config
// refuses `docker.devTools` elsewhere. The tools' own web logins share one generated password.
import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { sdk } from "./sdk";
import type { StackConfig } from "../config/schema";
import { mongoUrl } from "./mongo/settings";
import { DOCKER_PLUGIN } from "./docker-store";

/** Images of the tools, pinned by tag (the stores' images are pinned in config). */
export const DEV_TOOL_IMAGES = {
  pgAdmin: "dpage/pgadmin4:8.14",
  mongoExpress: "mongo-express:1.0.2-20-alpine3.19",
  redisCommander: "ghcr.io/joeferner/redis-commander:0.9.0",
} as const;

/** The pgAdmin login (pgAdmin wants an e-mail address with a public-looking domain). */
export const PGADMIN_EMAIL = "admin@nexus-security.dev";
/** The web login of Mongo Express and Redis Commander. */
export const DEV_TOOLS_USER = "nexus";

/** pgAdmin's storage directory of a user: server-mode file paths (CA, passfile) are relative to it. */
export function pgAdminStorageDir(email: string): string {
  return `/var/lib/pgadmin/storage/${email.replace("@", "_")}`;
}

/** servers.json for pgAdmin: the stack's PostgreSQL, verified against the stack's CA. */
export function pgAdminServers(a: { stack: string; host: string; user: string }): string {
  const servers = {
    Servers: {
      "1": {
        Name: `nexus-db (${a.stack})`,
        Group: "Nexus-Security",
        Host: a.host,
        Port: 5432,
        MaintenanceDB: "postgres",
        Username: a.user,
        // Relative to the user's storage directory (pgAdmin in server mode).
        ConnectionParameters: { sslmode: "verify-full", sslrootcert: "/nexus-ca.pem", passfile: "/pgpass", connect_timeout: 10 },
      },
    },
  };
  return JSON.stringify(servers, null, 2) + "\n";
}

/** One pgpass line; `:` and `\` escaped as libpq wants. */
export function pgpassLine(a: { host: string; port: number; user: string; password: string }): string {
  const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/:/g, "\\:");
  return `${esc(a.host)}:${a.port}:*:${esc(a.user)}:${esc(a.password)}\n`;
}

/** Where Mongo Express connects: the stack's container, or a server the containers can reach. */
export interface DevToolsMongo {
  host: string;
  port: number;
  /** The admin login; absent: a server without authentication. */
  user?: string;
  password?: pulumi.Input<string>;
  authSource?: string;
  tls: boolean;
  /** The CA the server's certificate is checked against (with `tls`). */
  caPem?: pulumi.Input<string>;
}

export interface DevToolsArgs {
  /** The stack config (docker section: bind address, tool ports, tool images). Required. */
  config: StackConfig;
  /** The stack's docker network. Required. */
  network: pulumi.Input<string>;
  /** The CA the stores' certificates are signed with. Required (the docker stores require TLS). */
  caCertPem: pulumi.Input<string>;
  /** The PostgreSQL container's superuser password (user `postgres`). Absent: no pgAdmin. */
  postgresAdminPassword?: pulumi.Input<string>;
  /** Mongo Express's server. Absent: no Mongo Express. */
  mongo?: DevToolsMongo;
  /** The Redis container's admin ACL user and its password. Absent: no Redis Commander. */
  redisAdmin?: { user: string; password: pulumi.Input<string> };
}

type Tool = "pgAdmin" | "mongoExpress" | "redisCommander";

/** The image of each tool: the stack's `docker.devToolImages`, else the default; false leaves the tool out. */
export function devToolImage(config: StackConfig, tool: Tool): string | false {
  const chosen = config.docker.devToolImages[tool];
  return chosen === undefined ? DEV_TOOL_IMAGES[tool] : chosen;
}

/**
 * pgAdmin runs as uid 5050 and libpq reads a passfile only when its owner alone can read it: the
 * start command installs the files with that owner (an upload cannot say, see docker-store.ts),
 * then drops to the pgadmin user for the image's entrypoint.
 */
export function pgAdminCommand(files: { path: string; mode: string }[]): string[] {
  const install = files.map((f) => `install -D -o 5050 -g 0 -m ${f.mode} '/etc/nexus-db/files${f.path}' '${f.path}'`);
  return ["sh", "-c", [...install, "exec su -p -s /bin/sh pgadmin -c /entrypoint.sh"].join(" && ")];
}

export class DevTools extends pulumi.ComponentResource {
  /** Where the tools that were created answer, on the host. */
  readonly urls: Partial<Record<Tool, string>>;
  /** The tools' web logins (user names; the password is `password`). */
  readonly logins: Partial<Record<Tool, string>>;
  /** The tools' web password (secret). */
  readonly password: pulumi.Output<string>;

  constructor(name: string, args: DevToolsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("nexus:db:DevTools", name, {}, opts);
    const cfg = args.config;
    if (cfg.environment !== "dev") throw new Error("nexus-db:docker.devTools: the admin tools are for dev stacks only");
    const stack = cfg.stack;
    const bind = cfg.docker.bindAddress;
    const ports = cfg.docker.devToolPorts;
    const hosts = { postgres: `${stack}-postgres`, redis: `${stack}-redis` };
    const images = { pgAdmin: devToolImage(cfg, "pgAdmin"), mongoExpress: devToolImage(cfg, "mongoExpress"), redisCommander: devToolImage(cfg, "redisCommander") };

    const password = new sdk.random.RandomPassword(`${name}-password`, { length: 24, special: false }, { parent: this }).result;
    const sessionSecret = new sdk.random.RandomPassword(`${name}-session-secret`, { length: 32, special: false }, { parent: this }).result;

    const tool = (suffix: string, image: string, internalPort: number, externalPort: number, envs: pulumi.Input<pulumi.Input<string>[]>, uploads: docker.types.input.ContainerUpload[], extra: Partial<docker.ContainerArgs> = {}) => {
      const img = new sdk.docker.RemoteImage(`${name}-${suffix}-image`, { name: image, keepLocally: true }, { ...DOCKER_PLUGIN, parent: this });
      return new sdk.docker.Container(
        `${name}-${suffix}`,
        {
          name: `${stack}-${suffix}`,
          image: img.imageId,
          restart: "unless-stopped",
          envs,
          uploads,
          memory: 512,
          memorySwap: 512,
          ports: [{ internal: internalPort, external: externalPort, ip: bind, protocol: "tcp" }],
          networksAdvanced: [{ name: args.network, aliases: [`${stack}-${suffix}`] }],
          logDriver: "json-file",
          logOpts: { "max-size": "10m", "max-file": "2" },
          ...extra,
        },
        { ...DOCKER_PLUGIN, parent: this, deleteBeforeReplace: true },
      );
    };
    const local = bind === "0.0.0.0" || bind === "::" ? "127.0.0.1" : bind;
    this.urls = {};
    this.logins = {};

    if (images.pgAdmin && args.postgresAdminPassword !== undefined) {
      const storage = pgAdminStorageDir(PGADMIN_EMAIL);
      const files = [
        { path: "/pgadmin4/servers.json", content: pgAdminServers({ stack, host: hosts.postgres, user: "postgres" }), mode: "0644" },
        { path: `${storage}/nexus-ca.pem`, content: args.caCertPem, mode: "0644" },
        { path: `${storage}/pgpass`, content: pulumi.secret(pulumi.output(args.postgresAdminPassword).apply((pw) => pgpassLine({ host: hosts.postgres, port: 5432, user: "postgres", password: pw }))), mode: "0600" },
      ];
      tool(
        "pgadmin",
        images.pgAdmin,
        80,
        ports.pgAdmin,
        [
          `PGADMIN_DEFAULT_EMAIL=${PGADMIN_EMAIL}`,
          pulumi.interpolate`PGADMIN_DEFAULT_PASSWORD=${password}`,
          "PGADMIN_SERVER_JSON_FILE=/pgadmin4/servers.json",
          "PGADMIN_CONFIG_ENHANCED_COOKIE_PROTECTION=True",
          "PGADMIN_DISABLE_POSTFIX=true",
        ],
        files.map((f) => ({ file: `/etc/nexus-db/files${f.path}`, content: f.content })),
        { user: "0", entrypoints: pgAdminCommand(files) },
      );
      this.urls.pgAdmin = `http://${local}:${ports.pgAdmin}`;
      this.logins.pgAdmin = PGADMIN_EMAIL;
    }

    if (images.mongoExpress && args.mongo) {
      const m = args.mongo;
      const meCa = "/etc/mongo-express/ca.pem";
      const url = pulumi.output(m.password).apply((pw) => {
        const u = mongoUrl({ host: m.host, port: m.port, user: m.user, password: pw, database: "admin", authSource: m.authSource ?? "admin", tls: m.tls });
        return m.tls && m.caPem ? `${u}&tlsCAFile=${encodeURIComponent(meCa)}` : u;
      });
      tool(
        "mongo-express",
        images.mongoExpress,
        8081,
        ports.mongoExpress,
        [
          pulumi.secret(pulumi.interpolate`ME_CONFIG_MONGODB_URL=${url}`),
          "ME_CONFIG_MONGODB_ENABLE_ADMIN=true",
          ...(m.tls ? ["ME_CONFIG_MONGODB_TLS=true", ...(m.caPem ? [`ME_CONFIG_MONGODB_TLS_CA_FILE=${meCa}`] : [])] : []),
          "ME_CONFIG_BASICAUTH=true",
          `ME_CONFIG_BASICAUTH_USERNAME=${DEV_TOOLS_USER}`,
          pulumi.interpolate`ME_CONFIG_BASICAUTH_PASSWORD=${password}`,
          pulumi.interpolate`ME_CONFIG_SITE_COOKIESECRET=${sessionSecret}`,
          pulumi.interpolate`ME_CONFIG_SITE_SESSIONSECRET=${sessionSecret}`,
        ],
        m.tls && m.caPem ? [{ file: meCa, content: m.caPem }] : [],
      );
      this.urls.mongoExpress = `http://${local}:${ports.mongoExpress}`;
      this.logins.mongoExpress = DEV_TOOLS_USER;
    }

    if (images.redisCommander && args.redisAdmin) {
      const rcCa = "/etc/redis-commander/ca.pem";
      tool(
        "redis-commander",
        images.redisCommander,
        8081,
        ports.redisCommander,
        [
          `REDIS_HOST=${hosts.redis}`,
          "REDIS_PORT=6379",
          `REDIS_USERNAME=${args.redisAdmin.user}`,
          pulumi.interpolate`REDIS_PASSWORD=${args.redisAdmin.password}`,
          "REDIS_TLS=true",
          `REDIS_TLS_CA_CERT_FILE=${rcCa}`,
          `REDIS_TLS_SERVER_NAME=${hosts.redis}`,
          `HTTP_USER=${DEV_TOOLS_USER}`,
          pulumi.interpolate`HTTP_PASSWORD=${password}`,
        ],
        [{ file: rcCa, content: args.caCertPem }],
      );
      this.urls.redisCommander = `http://${local}:${ports.redisCommander}`;
      this.logins.redisCommander = DEV_TOOLS_USER;
    }

    this.password = pulumi.secret(password);
    this.registerOutputs({ urls: this.urls, logins: this.logins });
  }
}
