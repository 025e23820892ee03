// `nexus:db:Postgres`: the PostgreSQL server (a container, one that exists, or RDS), its roles, the
// migrations of sql/migrations, grants on what they create, and (dev/test) the seed data.
// Order: server healthy → roles and database → migrations (as the owner) → grants and seeds side by side.
// The server comes from a backend (docker.ts, external.ts, rds.ts); everything after it is shared.
import * as pulumi from "@pulumi/pulumi";
import { postgresConnectionBudget } from "../../config/backend-handoff";
import type { StackConfig } from "../../config/schema";
import { PostgresGrants, PostgresRoles, PostgresSeedData } from "../../providers/postgres-roles";
import { PostgresSchema } from "../../providers/postgres-schema";
import type { ServerCertificate } from "../tls";
import type { PostgresBackend, PostgresBackendName } from "./backend";
import { dockerPostgres } from "./docker";
import { externalPostgres } from "./external";
import { cloudPostgres } from "./rds";
import type { PgConnection } from "./settings";

export { RESERVED_CONNECTIONS, pgHbaConf, postgresUrl, postgresqlConf, serverMaxConnections, type PgConnection } from "./settings";

/** Every backend by its config name: a backend added to the config schema is a compile error here until it has a file. */
export const POSTGRES_BACKENDS: Record<PostgresBackendName, PostgresBackend> = {
  docker: dockerPostgres,
  external: externalPostgres,
  cloud: cloudPostgres,
};

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
  readonly replicaHosts: pulumi.Output<string>[];
  /** The instance a point-in-time restore made (cloud backend with `postgres.cloud.restore`). */
  readonly restoredHost?: pulumi.Output<string>;
  /** Connection settings per role (secrets). */
  readonly connections: Record<"owner" | "app" | "readonly", pulumi.Output<PgConnection>>;
  readonly schema: PostgresSchema;
  readonly grants: PostgresGrants;
  /**
   * What must be done before anyone reads the data: the grants and, when loaded, the seeds. Both
   * follow the schema and run side by side (the seeds load as the owner, who needs no grant).
   */
  readonly ready: pulumi.Resource[];
  /** The server's own resources (the container, the instance): what the roles wait for. */
  readonly serverReady: pulumi.Resource[];

  constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
    super("nexus:db:Postgres", name, {}, opts);
    const c = args.config.postgres;
    const prot = args.config.protected;
    const server = POSTGRES_BACKENDS[c.backend](name, { config: args.config, adminPassword: args.adminPassword, tls: args.tls, network: args.network, parent: this });

    const conn = (user: string, password: pulumi.Input<string> | undefined, database: string): pulumi.Output<PgConnection> =>
      pulumi.secret(
        pulumi.all([server.host, server.port, password, server.caPem]).apply(([h, p, pw, ca]) => {
          const out: PgConnection = { host: h, port: p, database, user, sslMode: server.sslMode };
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
        admin: conn(server.adminUser, args.adminPassword, server.adminDatabase),
        database: c.database,
        roles,
        passwords: pulumi.secret(pulumi.all([args.passwords.owner, args.passwords.app, args.passwords.readonly]).apply(([owner, app, readonly]) => ({ owner, app, readonly }))),
        appConnectionLimit: postgresConnectionBudget(c).appRoleLimit,
        dropOnDelete: args.config.ephemeral,
      },
      { ...child, dependsOn: server.ready },
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
        admin: conn(server.adminUser, args.adminPassword, c.database),
        roles,
        schema: "public",
        ownerOnlyTables: [c.migrations.historyTable],
        schemaVersion: this.schema.currentVersion,
      },
      { parent: this, dependsOn: [this.schema] },
    );

    this.ready = c.seedData
      ? [this.grants, new PostgresSeedData(`${name}-seed`, { connection: ownerConnection }, { parent: this, dependsOn: [this.schema] })]
      : [this.grants];
    this.serverReady = server.ready;
    this.host = pulumi.output(server.host);
    this.port = pulumi.output(server.port);
    this.database = c.database;
    this.tls = server.sslMode !== "disable";
    this.replicaHosts = server.replicaHosts ?? [];
    this.restoredHost = server.restoredHost;
    this.connections = {
      owner: ownerConnection,
      app: conn(c.roles.app, args.passwords.app, c.database),
      readonly: conn(c.roles.readonly, args.passwords.readonly, c.database),
    };
    this.registerOutputs({ host: this.host, port: this.port, database: this.database, currentVersion: this.schema.currentVersion });
  }
}
