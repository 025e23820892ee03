// The contract between `nexus:db:Postgres` and its backends: what a backend is given, and what it
// yields — the endpoint, how the admin connects, TLS, and what must be ready before anyone does.
// Each backend lives in a file of its own (docker.ts, external.ts, rds.ts); the component picks one
// through a `Record<PostgresBackendName, PostgresBackend>`, so a new backend is a new key the
// compiler asks for.
import type * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../config/schema";
import type { ServerCertificate } from "../tls";
import type { PgConnection } from "./settings";

export type PostgresBackendName = StackConfig["postgres"]["backend"];

export interface PostgresBackendArgs {
  /** The stack config. */
  config: StackConfig;
  /** The admin password (the container's superuser, the existing server's admin, the RDS master user). */
  adminPassword: pulumi.Input<string>;
  /** CA and server certificate (docker backend). */
  tls?: { caCertPem: pulumi.Input<string>; server: ServerCertificate };
  /** The docker network (docker backend). */
  network?: pulumi.Input<string>;
  /** The component: every resource a backend creates is its child. */
  parent: pulumi.Resource;
}

/** What a backend yields: the same shape whatever runs the server. */
export interface PostgresServer {
  /** Where clients connect. */
  host: pulumi.Input<string>;
  port: pulumi.Input<number>;
  /** How clients verify the server ("disable" when the server has no TLS). */
  sslMode: PgConnection["sslMode"];
  /** The CA clients verify the server with. Default: the system's store. */
  caPem?: pulumi.Input<string>;
  /** The admin login and the database it connects to first. */
  adminUser: string;
  adminDatabase: string;
  /** Read replica hosts. Default: none. */
  replicaHosts?: pulumi.Output<string>[];
  /** The endpoint of a point-in-time restore into a new instance (cloud backend, `postgres.cloud.restore`). Default: none. */
  restoredHost?: pulumi.Output<string>;
  /** Resources that must exist (healthy) before anything connects. */
  ready: pulumi.Resource[];
}

/** A backend: creates what runs the server (as children of `args.parent`) and says how to reach it. */
export type PostgresBackend = (name: string, args: PostgresBackendArgs) => PostgresServer;
