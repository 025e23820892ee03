// The contract between `nexus:db:Mongo` and its backends (docker.ts, external.ts, atlas.ts): what a
// backend is given, and what it yields — the endpoint, the reconciler's admin connection, TLS, the
// users' URLs, and what must be ready before the reconciler connects.
import type { AdvancedCluster } from "@pulumi/mongodbatlas";
import type * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../config/schema";
import type { MongoConnection } from "../../providers/mongo-schema";
import type { ServerCertificate } from "../tls";

export type MongoBackendName = StackConfig["mongo"]["backend"];

export interface MongoBackendArgs {
  config: StackConfig;
  /** The root user's password (container), the existing server's admin password, or the Atlas schema user's. */
  adminPassword?: pulumi.Input<string>;
  /** The application and analytics users' passwords. */
  passwords: { app: pulumi.Input<string>; analytics: pulumi.Input<string> };
  /** CA and server certificate (docker backend). */
  tls?: { caCertPem: pulumi.Input<string>; server: ServerCertificate };
  /** The docker network (docker backend). */
  network?: pulumi.Input<string>;
  /** The component: every resource a backend creates is its child. */
  parent: pulumi.Resource;
}

/** What a backend yields: the same shape whatever runs the server. */
export interface MongoServer {
  host: pulumi.Input<string>;
  port: pulumi.Input<number>;
  tls: boolean;
  /** The reconciler's connection (secret). */
  admin: pulumi.Output<MongoConnection>;
  /** Whether the reconciler creates the app and analytics users (Atlas keeps its users itself). */
  reconcilerManagesUsers: boolean;
  /** Per user: the URL the backend uses (secrets). */
  urls: { app: pulumi.Output<string>; analytics: pulumi.Output<string> };
  /** Resources that must exist (healthy) before the reconciler connects. */
  ready: pulumi.Resource[];
  /** The Atlas cluster (cloud backend). */
  atlasCluster?: AdvancedCluster;
  /** The snapshot restore job's id (cloud backend, `mongo.cloud.restore`). */
  restoreJobId?: pulumi.Output<string>;
}

export type MongoBackend = (name: string, args: MongoBackendArgs) => MongoServer;
