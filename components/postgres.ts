// `nexus:db:Postgres`: the PostgreSQL server (a container, or one that exists), its roles, the
// migrations of sql/migrations, grants on what they create, and (dev/test) the seed data.
// Order: server healthy → roles and database → migrations (as the owner) → grants → seeds.
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import type { SchemaConnection } from "../engines/postgres/schema-resource";
import { PostgresGrants, PostgresRoles, PostgresSeedData } from "../providers/postgres-roles";
import { PostgresSchema } from "../providers/postgres-schema";
import { rdsPostgres } from "./cloud/rds";
import { dockerStore } from "./docker-store";
import type { ServerCertificate } from "./tls";

type PostgresConfig = StackConfig["postgres"];
/** Connection settings as the providers take them (never a URL here: passwords stay separate). */
export type PgConnection = Exclude<SchemaConnection, string>;

/** Connections beyond the backend pools: superuser reserve, admin sessions, migrations, monitoring. */
export const RESERVED_CONNECTIONS = 20;

/** max_connections of the server: every service's pool at its maximum, plus the reserve. */
export function serverMaxConnections(c: Pick<PostgresConfig, "poolMaxConnections" | "services">): number {
  return c.poolMaxConnections * c.services + RESERVED_CONNECTIONS;
}

/** postgresql.conf of the container: TLS only with TLSv1.2+, DDL logged for the audit trail. */
export function postgresqlConf(c: PostgresConfig): string {
  return [
    "listen_addresses = '*'",
    "port = 5432",
    `max_connections = ${serverMaxConnections(c)}`,
    "superuser_reserved_connections = 5",
    `shared_buffers = ${c.memory.sharedBuffers}`,
    `work_mem = ${c.memory.workMem}`,
    `maintenance_work_mem = ${c.memory.maintenanceWorkMem}`,
    `effective_cache_size = ${c.memory.effectiveCacheSize}`,
    "password_encryption = scram-sha-256",
    "ssl = on",
    "ssl_cert_file = '/etc/postgresql/tls/server.crt'",
    "ssl_key_file = '/etc/postgresql/tls/server.key'",
    "ssl_ca_file = '/etc/postgresql/tls/ca.crt'",
    "ssl_min_protocol_version = 'TLSv1.2'",
    "hba_file = '/etc/postgresql/pg_hba.conf'",
    // The audit trail the spec asks for: every DDL statement, connections, lock waits.
    "log_statement = 'ddl'",
    "log_connections = on",
    "log_disconnections = on",
    "log_lock_waits = on",
    "log_min_duration_statement = 1000",
    "log_line_prefix = '%m [%p] %q%u@%d/%a '",
    "",
  ].join("\n");
}

/** pg_hba.conf: local socket for the image's own scripts; network clients only over TLS with SCRAM. */
export function pgHbaConf(): string {
  return [
    "# TYPE   DATABASE USER ADDRESS    METHOD",
    "local    all      all             scram-sha-256",
    "hostssl  all      all  0.0.0.0/0  scram-sha-256",
    "hostssl  all      all  ::/0       scram-sha-256",
    "hostnossl all     all  0.0.0.0/0  reject",
    "hostnossl all     all  ::/0       reject",
    "",
  ].join("\n");
}

export interface PostgresArgs {
  /** The stack config (its postgres section and the stack-wide flags). Required. */
  config: StackConfig;
  /** The admin password (the container's superuser, or the existing server's admin). Required. */
  adminPassword: pulumi.Input<string>;
  /** Owner, app and read-only passwords. Required. */
  passwords: { owner: pulumi.Input<string>; app: pulumi.Input<string>; readonly: pulumi.Input<string> };
  /** CA and server certificate (docker backend with TLS). Default: none. */
  tls?: { caCertPem: pulumi.Input<string>; server: ServerCertificate };
  /** The docker network (docker backend). */
  network?: pulumi.Input<string>;
}

export class Postgres extends pulumi.ComponentResource {
  /** Where clients connect. */
  readonly host: pulumi.Output<string>;
  readonly port: pulumi.Output<number>;
  readonly database: string;
  /** Whether clients must use TLS (sslmode verify-full). */
  readonly tls: boolean;
  /** Read replica hosts (cloud backend with read replicas). Default: none. */
  readonly replicaHosts: pulumi.Output<string>[] = [];
  /** Connection settings per role (secrets). */
  readonly connections: Record<"owner" | "app" | "readonly", pulumi.Output<PgConnection>>;
  readonly schema: PostgresSchema;
  readonly grants: PostgresGrants;
  /** The last resource of the chain (grants or seeds): what reads the data waits for it. */
  readonly ready: pulumi.Resource;

  constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
    super("nexus:db:Postgres", name, {}, opts);
    const c = args.config.postgres;
    const prot = args.config.protected;
    const ephemeral = args.config.ephemeral;

    let host: pulumi.Input<string>;
    let port: pulumi.Input<number>;
    let sslMode: PgConnection["sslMode"];
    let caPem: pulumi.Input<string> | undefined;
    let adminUser: string;
    let adminDatabase: string;
    const dependsOn: pulumi.Resource[] = [];

    if (c.backend === "docker") {
      if (!args.network) throw new Error("nexus-db:postgres.backend docker needs the stack's docker network");
      if (!args.tls) throw new Error("nexus-db:postgres.backend docker needs TLS certificates (tls.mode generate or provided)");
      const containerName = `${args.config.stack}-postgres`;
      const store = dockerStore(name, {
        containerName,
        settings: c.docker,
        containerPort: 5432,
        bindAddress: args.config.docker.bindAddress,
        network: args.network,
        dataPath: "/var/lib/postgresql/data",
        ephemeral,
        protect: prot,
        parent: this,
        command: ["postgres", "-c", "config_file=/etc/postgresql/postgresql.conf"],
        envs: [pulumi.interpolate`POSTGRES_PASSWORD=${args.adminPassword}`, "POSTGRES_USER=postgres", "POSTGRES_INITDB_ARGS=--auth-host=scram-sha-256 --auth-local=scram-sha-256"],
        uploads: [
          { file: "/etc/postgresql/postgresql.conf", content: postgresqlConf(c) },
          { file: "/etc/postgresql/pg_hba.conf", content: pgHbaConf() },
          { file: "/etc/postgresql/tls/ca.crt", content: args.tls.caCertPem },
          { file: "/etc/postgresql/tls/server.crt", content: args.tls.server.certPem },
          // The image's postgres user (uid 999) must own the key, readable by it alone.
          { file: "/etc/postgresql/tls/server.key", content: args.tls.server.keyPem, owner: "999", group: "999", permissions: "0600" },
        ],
        healthcheck: ["pg_isready -U postgres -d postgres -h 127.0.0.1"],
      });
      dependsOn.push(store.container);
      host = "127.0.0.1";
      port = c.docker.hostPort;
      sslMode = "verify-full";
      caPem = args.tls.caCertPem;
      adminUser = "postgres";
      adminDatabase = "postgres";
    } else if (c.backend === "external") {
      host = c.external.host;
      port = c.external.port;
      sslMode = c.external.sslMode;
      caPem = c.external.caFile ? require("node:fs").readFileSync(c.external.caFile, "utf8") : undefined;
      adminUser = c.external.adminUser;
      adminDatabase = c.external.adminDatabase;
    } else {
      const rds = rdsPostgres(name, { config: args.config, adminPassword: args.adminPassword, parent: this });
      dependsOn.push(rds.instance, ...rds.replicas);
      host = rds.host;
      port = rds.port;
      sslMode = "verify-full";
      caPem = rds.caPem;
      adminUser = rds.adminUser;
      adminDatabase = rds.adminDatabase;
      this.replicaHosts = rds.replicaHosts;
    }

    const conn = (user: string, password: pulumi.Input<string> | undefined, database: string): pulumi.Output<PgConnection> =>
      pulumi.secret(
        pulumi.all([host, port, password, caPem]).apply(([h, p, pw, ca]) => {
          const out: PgConnection = { host: h, port: p, database, user, sslMode };
          if (pw !== undefined && pw !== "") out.password = pw;
          if (ca) out.caPem = ca;
          return out;
        }),
      );

    const roles = { owner: c.roles.owner, app: c.roles.app, readonly: c.roles.readonly };
    const child = { parent: this, protect: prot };

    const rolesResource = new PostgresRoles(
      `${name}-roles`,
      {
        admin: conn(adminUser, args.adminPassword, adminDatabase),
        database: c.database,
        roles,
        passwords: pulumi.secret(pulumi.all([args.passwords.owner, args.passwords.app, args.passwords.readonly]).apply(([owner, app, readonly]) => ({ owner, app, readonly }))),
        appConnectionLimit: c.poolMaxConnections * c.services,
        dropOnDelete: ephemeral,
      },
      { ...child, dependsOn },
    );

    const ownerConnection = conn(c.roles.owner, args.passwords.owner, c.database);
    this.schema = new PostgresSchema(
      `${name}-schema`,
      {
        connection: ownerConnection,
        migrationsDir: "sql/migrations",
        settings: { ...c.migrations, protected: c.migrations.protected || prot },
        appliedBy: `pulumi:${args.config.stack}`,
      },
      { ...child, dependsOn: [rolesResource] },
    );

    this.grants = new PostgresGrants(
      `${name}-grants`,
      {
        admin: conn(adminUser, args.adminPassword, c.database),
        roles,
        schema: "public",
        ownerOnlyTables: [c.migrations.historyTable],
        schemaVersion: this.schema.currentVersion,
      },
      { parent: this, dependsOn: [this.schema] },
    );

    let ready: pulumi.Resource = this.grants;
    if (c.seedData) {
      ready = new PostgresSeedData(`${name}-seed`, { connection: ownerConnection }, { parent: this, dependsOn: [this.grants] });
    }

    this.host = pulumi.output(host);
    this.port = pulumi.output(port);
    this.database = c.database;
    this.tls = sslMode !== "disable";
    this.connections = {
      owner: ownerConnection,
      app: conn(c.roles.app, args.passwords.app, c.database),
      readonly: conn(c.roles.readonly, args.passwords.readonly, c.database),
    };
    this.ready = ready;
    this.registerOutputs({ host: this.host, port: this.port, database: this.database, currentVersion: this.schema.currentVersion });
  }
}

/** `postgresql://user:password@host:port/db?sslmode=…` for the backend's DATABASE_URL. */
export function postgresUrl(c: SchemaConnection): string {
  if (typeof c === "string") return c;
  const u = new URL(`postgresql://${c.host}:${c.port ?? 5432}/${c.database}`);
  u.username = c.user;
  if (c.password) u.password = c.password;
  u.searchParams.set("sslmode", c.sslMode ?? "verify-full");
  return u.toString();
}
