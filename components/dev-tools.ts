// `nexus:db:DevTools`: the spec's dev profile — pgAdmin, Mongo Express and Redis Commander — as
// containers on the stack's docker network, published on loopback only, each logged in to its
// store as the store's admin over TLS (verifying the stack's CA). Dev stacks only: the config
// refuses `docker.devTools` elsewhere. The tools' own web logins share one generated password.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { StackConfig } from "../config/schema";
import { mongoUrl } from "./mongo";

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

export interface DevToolsArgs {
  /** The stack config (docker section: bind address, tool ports). Required. */
  config: StackConfig;
  /** The stack's docker network. Required. */
  network: pulumi.Input<string>;
  /** The CA the stores' certificates are signed with. Required (the docker stores require TLS). */
  caCertPem: pulumi.Input<string>;
  /** The PostgreSQL superuser's password (user `postgres`). Required. */
  postgresAdminPassword: pulumi.Input<string>;
  /** The MongoDB root user (`nexus_admin`) and its password. Required. */
  mongoAdmin: { user: string; password: pulumi.Input<string> };
  /** The Redis admin ACL user and its password. Required. */
  redisAdmin: { user: string; password: pulumi.Input<string> };
}

export class DevTools extends pulumi.ComponentResource {
  /** Where the tools answer, on the host. */
  readonly urls: { pgAdmin: string; mongoExpress: string; redisCommander: string };
  /** The tools' web logins (user names; the password is `password`). */
  readonly logins: { pgAdmin: string; mongoExpress: string; redisCommander: string };
  /** The tools' web password (secret). */
  readonly password: pulumi.Output<string>;

  constructor(name: string, args: DevToolsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("nexus:db:DevTools", name, {}, opts);
    const cfg = args.config;
    if (cfg.environment !== "dev") throw new Error("nexus-db:docker.devTools: the admin tools are for dev stacks only");
    const stack = cfg.stack;
    const bind = cfg.docker.bindAddress;
    const ports = cfg.docker.devToolPorts;
    const hosts = { postgres: `${stack}-postgres`, mongo: `${stack}-mongo`, redis: `${stack}-redis` };

    const password = new random.RandomPassword(`${name}-password`, { length: 24, special: false }, { parent: this }).result;
    const sessionSecret = new random.RandomPassword(`${name}-session-secret`, { length: 32, special: false }, { parent: this }).result;

    const tool = (suffix: string, image: string, internalPort: number, externalPort: number, envs: pulumi.Input<pulumi.Input<string>[]>, uploads: docker.types.input.ContainerUpload[]) => {
      const img = new docker.RemoteImage(`${name}-${suffix}-image`, { name: image, keepLocally: true }, { parent: this });
      return new docker.Container(
        `${name}-${suffix}`,
        {
          name: `${stack}-${suffix}`,
          image: img.imageId,
          restart: "unless-stopped",
          envs,
          uploads,
          memory: 512,
          ports: [{ internal: internalPort, external: externalPort, ip: bind, protocol: "tcp" }],
          networksAdvanced: [{ name: args.network, aliases: [`${stack}-${suffix}`] }],
          logDriver: "json-file",
          logOpts: { "max-size": "10m", "max-file": "2" },
        },
        { parent: this, deleteBeforeReplace: true },
      );
    };

    const storage = pgAdminStorageDir(PGADMIN_EMAIL);
    // pgAdmin runs as uid 5050: it must own (and alone read) the passfile.
    const pgadminFile = (file: string, content: pulumi.Input<string>, permissions: string): docker.types.input.ContainerUpload => ({ file, content, owner: "5050", group: "0", permissions });
    tool("pgadmin", DEV_TOOL_IMAGES.pgAdmin, 80, ports.pgAdmin, [
      `PGADMIN_DEFAULT_EMAIL=${PGADMIN_EMAIL}`,
      pulumi.interpolate`PGADMIN_DEFAULT_PASSWORD=${password}`,
      "PGADMIN_SERVER_JSON_FILE=/pgadmin4/servers.json",
      "PGADMIN_CONFIG_ENHANCED_COOKIE_PROTECTION=True",
      "PGADMIN_DISABLE_POSTFIX=true",
    ], [
      pgadminFile("/pgadmin4/servers.json", pgAdminServers({ stack, host: hosts.postgres, user: "postgres" }), "0644"),
      pgadminFile(`${storage}/nexus-ca.pem`, args.caCertPem, "0644"),
      pgadminFile(`${storage}/pgpass`, pulumi.secret(pulumi.output(args.postgresAdminPassword).apply((pw) => pgpassLine({ host: hosts.postgres, port: 5432, user: "postgres", password: pw }))), "0600"),
    ]);

    const meCa = "/etc/mongo-express/ca.pem";
    tool("mongo-express", DEV_TOOL_IMAGES.mongoExpress, 8081, ports.mongoExpress, [
      pulumi.secret(
        pulumi.interpolate`ME_CONFIG_MONGODB_URL=${pulumi.output(args.mongoAdmin.password).apply((pw) => `${mongoUrl({ host: hosts.mongo, port: 27017, user: args.mongoAdmin.user, password: pw, database: "admin", authSource: "admin", tls: true })}&tlsCAFile=${encodeURIComponent(meCa)}`)}`,
      ),
      "ME_CONFIG_MONGODB_ENABLE_ADMIN=true",
      "ME_CONFIG_MONGODB_TLS=true",
      `ME_CONFIG_MONGODB_TLS_CA_FILE=${meCa}`,
      "ME_CONFIG_BASICAUTH=true",
      `ME_CONFIG_BASICAUTH_USERNAME=${DEV_TOOLS_USER}`,
      pulumi.interpolate`ME_CONFIG_BASICAUTH_PASSWORD=${password}`,
      pulumi.interpolate`ME_CONFIG_SITE_COOKIESECRET=${sessionSecret}`,
      pulumi.interpolate`ME_CONFIG_SITE_SESSIONSECRET=${sessionSecret}`,
    ], [{ file: meCa, content: args.caCertPem, permissions: "0644" }]);

    const rcCa = "/etc/redis-commander/ca.pem";
    tool("redis-commander", DEV_TOOL_IMAGES.redisCommander, 8081, ports.redisCommander, [
      `REDIS_HOST=${hosts.redis}`,
      "REDIS_PORT=6379",
      `REDIS_USERNAME=${args.redisAdmin.user}`,
      pulumi.interpolate`REDIS_PASSWORD=${args.redisAdmin.password}`,
      "REDIS_TLS=true",
      `REDIS_TLS_CA_CERT_FILE=${rcCa}`,
      `REDIS_TLS_SERVER_NAME=${hosts.redis}`,
      `HTTP_USER=${DEV_TOOLS_USER}`,
      pulumi.interpolate`HTTP_PASSWORD=${password}`,
    ], [{ file: rcCa, content: args.caCertPem, permissions: "0644" }]);

    const local = bind === "0.0.0.0" || bind === "::" ? "127.0.0.1" : bind;
    this.urls = {
      pgAdmin: `http://${local}:${ports.pgAdmin}`,
      mongoExpress: `http://${local}:${ports.mongoExpress}`,
      redisCommander: `http://${local}:${ports.redisCommander}`,
    };
    this.logins = { pgAdmin: PGADMIN_EMAIL, mongoExpress: DEV_TOOLS_USER, redisCommander: DEV_TOOLS_USER };
    this.password = pulumi.secret(password);
    this.registerOutputs({ urls: this.urls, logins: this.logins });
  }
}
