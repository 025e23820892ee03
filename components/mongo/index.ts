// `nexus:db:Mongo`: the MongoDB server (a container with authentication and requireTLS, one that
// exists, or Atlas) and, reconciled on it, the platform's collections, validators, indexes and users.
// The server comes from a backend (docker.ts, external.ts, atlas.ts); the reconciliation is shared.
import type { AdvancedCluster } from "@pulumi/mongodbatlas";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../config/schema";
import { nexusCollections } from "../../mongo/collections";
import { MongoSchema } from "../../providers/mongo-schema";
import type { ServerCertificate } from "../tls";
import { cloudMongo } from "./atlas";
import type { MongoBackend, MongoBackendName } from "./backend";
import { dockerMongo } from "./docker";
import { externalMongo } from "./external";

export { mongoUrl, mongodCommand } from "./settings";

/** Every backend by its config name: a backend added to the config schema is a compile error here until it has a file. */
export const MONGO_BACKENDS: Record<MongoBackendName, MongoBackend> = {
  docker: dockerMongo,
  external: externalMongo,
  cloud: cloudMongo,
};

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
  /** The Atlas restore job (cloud backend with `mongo.cloud.restore`). */
  readonly restoreJobId?: pulumi.Output<string>;

  constructor(name: string, args: MongoArgs, opts?: pulumi.ComponentResourceOptions) {
    super("nexus:db:Mongo", name, {}, opts);
    const s = args.config.mongo.settings;
    const prot = args.config.protected;
    const server = MONGO_BACKENDS[args.config.mongo.backend](name, { config: args.config, adminPassword: args.adminPassword, passwords: args.passwords, tls: args.tls, network: args.network, parent: this });

    this.schema = new MongoSchema(
      `${name}-schema`,
      {
        connection: server.admin,
        database: s.database,
        collections: nexusCollections(s.ttl),
        users:
          server.reconcilerManagesUsers && s.users.manage
            ? pulumi.secret(
                pulumi.all([args.passwords.app, args.passwords.analytics]).apply(([app, analytics]) => ({
                  app: { name: s.users.app.name, password: app },
                  analytics: { name: s.users.analytics.name, password: analytics },
                })),
              )
            : undefined,
        allowMissingFeatures: s.allowMissingFeatures,
        allowUnenforcedRules: s.allowUnenforcedRules,
        protected: s.protected || prot,
        dropCollectionsOnDelete: s.dropCollectionsOnDelete,
      },
      { parent: this, dependsOn: [...(args.dependsOn ?? []), ...server.ready], protect: prot },
    );

    this.host = pulumi.output(server.host);
    this.port = pulumi.output(server.port);
    this.database = s.database;
    this.tls = server.tls;
    this.urls = server.urls;
    this.atlasCluster = server.atlasCluster;
    this.restoreJobId = server.restoreJobId;
    this.registerOutputs({ host: this.host, port: this.port, database: this.database });
  }
}
