// The `external` backend of `nexus:db:Postgres`: a server that exists. Nothing is created for the
// server itself; its endpoint, admin login, TLS mode and CA come from the stack config.
import { readFileSync } from "node:fs";
import type { PostgresBackend } from "./backend";

export const externalPostgres: PostgresBackend = (_name, args) => {
  const x = args.config.postgres.external;
  return {
    host: x.host,
    port: x.port,
    sslMode: x.sslMode,
    caPem: x.caFile ? readFileSync(x.caFile, "utf8") : undefined,
    adminUser: x.adminUser,
    adminDatabase: x.adminDatabase,
    ready: [],
  };
};
