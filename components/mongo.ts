// `nexus:db:Mongo`: the MongoDB server (a container with authentication and requireTLS, or one that
// exists) and, reconciled on it, the platform's collections, validators, indexes and users.
import type { AdvancedCluster } from "@pulumi/mongodbatlas";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import { nexusCollections } from "../mongo/collections";
import { MongoSchema, type MongoConnection } from "../providers/mongo-schema";
import { atlasMongo } from "./cloud/atlas";
import { dockerStore } from "./docker-store";
import type { ServerCertificate } from "./tls";

/** mongod's command line in the container: authentication on, TLS required, TLS 1.2 minimum. */
export function mongodCommand(): string[] {
  return [
    "mongod",
    "--auth",
    "--bind_ip_all",
    "--tlsMode", "requireTLS",
    "--tlsCertificateKeyFile", "/etc/mongo/tls/server.pem",
    "--tlsCAFile", "/etc/mongo/tls/ca.pem",
    // Clients are not asked for certificates: they authenticate with SCRAM.
    "--tlsAllowConnectionsWithoutCertificates",
    "--tlsDisabledProtocols", "TLS1_0,TLS1_1",
  ];
}

/** `mongodb://user:password@host:port/db?…` with the user and password URL-encoded. */
export function mongoUrl(a: { host: string; port: number; user?: string; password?: string; database: string; authSource?: string; tls: boolean }): string {
  const auth = a.user ? `${encodeURIComponent(a.user)}${a.password ? `:${encodeURIComponent(a.password)}` : ""}@` : "";
  const q = new URLSearchParams();
  if (a.user) q.set("authSource", a.authSource ?? a.database);
  if (a.tls) q.set("tls", "true");
  const qs = q.toString();
  return `mongodb://${auth}${a.host}:${a.port}/${a.database}${qs ? `?${qs}` : ""}`;
}

export interface MongoArgs {
  config: StackConfig;
  /** The root user's password (container), the existing server's admin password, or the Atlas schema user's (cloud). */
  adminPassword?: pulumi.Input<string>;
  /** The application and analytics users' passwords. Required. */
  passwords: { app: pulumi.Input<string>; analytics: pulumi.Input<string> };
  tls?: { caCertPem: pulumi.Input<string>; server: ServerCertificate };
  network?: pulumi.Input<string>;
  /** Resources to wait for before reconciling (none needed: only the server). */
  dependsOn?: pulumi.Resource[];
}

export class Mongo extends pulumi.ComponentResource {
  readonly host: pulumi.Output<string>;
  readonly port: pulumi.Output<number>;
  readonly database: string;
  readonly tls: boolean;
  /** Per user: the URL the backend uses (secret). */
  readonly urls: { app: pulumi.Output<string>; analytics: pulumi.Output<string> };
  readonly schema: MongoSchema;
  /** The Atlas cluster (cloud backend). */
  readonly atlasCluster?: AdvancedCluster;

  constructor(name: string, args: MongoArgs, opts?: pulumi.ComponentResourceOptions) {
    super("nexus:db:Mongo", name, {}, opts);
    const c = args.config.mongo;
    const s = c.settings;
    const prot = args.config.protected;

    let host: string;
    let port: number;
    let adminUser: string;
    let authSource: string;
    let tlsOn: boolean;
    let caPem: pulumi.Input<string> | undefined;
    const dependsOn: pulumi.Resource[] = [...(args.dependsOn ?? [])];

    if (c.backend === "docker") {
      if (!args.network || !args.tls) throw new Error("nexus-db:mongo.backend docker needs the docker network and TLS certificates");
      if (!args.adminPassword) throw new Error("nexus-db:mongo.backend docker needs an admin password");
      const containerName = `${args.config.stack}-mongo`;
      const store = dockerStore(name, {
        containerName,
        settings: c.docker,
        containerPort: 27017,
        bindAddress: args.config.docker.bindAddress,
        network: args.network,
        dataPath: "/data/db",
        ephemeral: args.config.ephemeral,
        protect: prot,
        parent: this,
        command: mongodCommand(),
        envs: ["MONGO_INITDB_ROOT_USERNAME=nexus_admin", pulumi.interpolate`MONGO_INITDB_ROOT_PASSWORD=${args.adminPassword}`, `MONGO_INITDB_DATABASE=${s.database}`],
        uploads: [
          { file: "/etc/mongo/tls/ca.pem", content: args.tls.caCertPem },
          // mongod wants certificate and key in one PEM file, readable by the mongodb user (uid 999).
          { file: "/etc/mongo/tls/server.pem", content: pulumi.secret(pulumi.interpolate`${args.tls.server.certPem}${args.tls.server.keyPem}`), owner: "999", group: "999", permissions: "0600" },
        ],
        healthcheck: ["mongosh --quiet --tls --tlsCAFile /etc/mongo/tls/ca.pem --host localhost --eval \"db.adminCommand('ping').ok\" | grep -q 1"],
      });
      dependsOn.push(store.container);
      host = "127.0.0.1";
      port = c.docker.hostPort;
      adminUser = "nexus_admin";
      authSource = "admin";
      tlsOn = true;
      caPem = args.tls.caCertPem;
    } else if (c.backend === "external") {
      host = c.external.host;
      port = c.external.port;
      adminUser = c.external.adminUser;
      authSource = c.external.authSource;
      tlsOn = s.tls.enabled;
    } else {
      // Atlas: users belong to Atlas, the reconciler only applies collections and indexes.
      const atlas = atlasMongo(name, { config: args.config, schemaPassword: args.adminPassword ?? "", passwords: args.passwords, parent: this });
      this.atlasCluster = atlas.cluster;
      this.schema = new MongoSchema(
        `${name}-schema`,
        {
          connection: atlas.schemaConnection,
          database: s.database,
          collections: nexusCollections(s.ttl),
          allowMissingFeatures: s.allowMissingFeatures,
          protected: s.protected || prot,
          dropCollectionsOnDelete: s.dropCollectionsOnDelete,
        },
        { parent: this, dependsOn: [...dependsOn, ...atlas.dependsOn], protect: prot },
      );
      this.host = atlas.host;
      this.port = pulumi.output(27017);
      this.database = s.database;
      this.tls = true;
      this.urls = atlas.urls;
      this.registerOutputs({ host: this.host, port: this.port, database: this.database });
      return;
    }

    const adminConnection: pulumi.Output<MongoConnection> = pulumi.secret(
      pulumi.all([args.adminPassword, caPem]).apply(([pw, ca]) => ({
        url: mongoUrl({ host, port, user: adminUser || undefined, password: pw, database: authSource, authSource, tls: tlsOn }),
        tls: { ...s.tls, enabled: tlsOn, ...(ca ? { caPem: ca } : {}) },
      })),
    );

    this.schema = new MongoSchema(
      `${name}-schema`,
      {
        connection: adminConnection,
        database: s.database,
        collections: nexusCollections(s.ttl),
        users: s.users.manage
          ? pulumi.secret(
              pulumi.all([args.passwords.app, args.passwords.analytics]).apply(([app, analytics]) => ({
                app: { name: s.users.app.name, password: app },
                analytics: { name: s.users.analytics.name, password: analytics },
              })),
            )
          : undefined,
        allowMissingFeatures: s.allowMissingFeatures,
        protected: s.protected || prot,
        dropCollectionsOnDelete: s.dropCollectionsOnDelete,
      },
      { parent: this, dependsOn, protect: prot },
    );

    const userUrl = (user: string, password: pulumi.Input<string>) =>
      pulumi.secret(
        pulumi.output(password).apply((pw) =>
          mongoUrl({ host, port, user: s.users.manage ? user : undefined, password: s.users.manage ? pw : undefined, database: s.database, tls: tlsOn }),
        ),
      );
    this.host = pulumi.output(host);
    this.port = pulumi.output(port);
    this.database = s.database;
    this.tls = tlsOn;
    this.urls = { app: userUrl(s.users.app.name, args.passwords.app), analytics: userUrl(s.users.analytics.name, args.passwords.analytics) };
    this.registerOutputs({ host: this.host, port: this.port, database: this.database });
  }
}
