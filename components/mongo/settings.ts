// What the MongoDB backends share: mongod's command line in a container, URLs, and the connections
// of a server reached by host and port (docker, external). No component here, so no cycle.
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../config/schema";
import type { MongoConnection } from "../../providers/mongo-schema";

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

export interface HostedMongo {
  host: string;
  port: number;
  tls: boolean;
  caPem?: pulumi.Input<string>;
  /** The admin login ("" for none) and its authentication database. */
  adminUser: string;
  authSource: string;
  adminPassword?: pulumi.Input<string>;
}

/** The reconciler's admin connection and the users' URLs of a server reached by host and port (secrets). */
export function hostedMongoConnections(config: StackConfig, m: HostedMongo, passwords: { app: pulumi.Input<string>; analytics: pulumi.Input<string> }) {
  const s = config.mongo.settings;
  const admin: pulumi.Output<MongoConnection> = pulumi.secret(
    pulumi.all([m.adminPassword, m.caPem]).apply(([pw, ca]) => ({
      url: mongoUrl({ host: m.host, port: m.port, user: m.adminUser || undefined, password: pw, database: m.authSource, authSource: m.authSource, tls: m.tls }),
      tls: { ...s.tls, enabled: m.tls, ...(ca ? { caPem: ca } : {}) },
    })),
  );
  const userUrl = (user: string, password: pulumi.Input<string>) =>
    pulumi.secret(
      pulumi.output(password).apply((pw) =>
        mongoUrl({ host: m.host, port: m.port, user: s.users.manage ? user : undefined, password: s.users.manage ? pw : undefined, database: s.database, tls: m.tls }),
      ),
    );
  return { admin, urls: { app: userUrl(s.users.app.name, passwords.app), analytics: userUrl(s.users.analytics.name, passwords.analytics) } };
}
