// What every PostgreSQL backend shares: server sizing, the container's config files, the
// connection shape the providers take, and the backend's URL. No Pulumi resource here, so the
// backends and the component import it without a cycle.
import { postgresConnectionBudget } from "../../config/backend-handoff";
import type { StackConfig } from "../../config/schema";
import type { SchemaConnection } from "../../engines/postgres/schema-resource";

export type PostgresConfig = StackConfig["postgres"];
/** Connection settings as the providers take them (never a URL here: passwords stay separate). */
export type PgConnection = Exclude<SchemaConnection, string>;

export { RESERVED_CONNECTIONS } from "../../config/backend-handoff";

/** max_connections of the server: every service's pool at its maximum, plus the reserve (the backend's .env says the same). */
export function serverMaxConnections(c: Pick<PostgresConfig, "poolMaxConnections" | "services">): number {
  return postgresConnectionBudget(c).serverMaxConnections;
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
    // The slowest statements for `nexus-db stats` (after CREATE EXTENSION pg_stat_statements in the database).
    "shared_preload_libraries = 'pg_stat_statements'",
    "pg_stat_statements.track = top",
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

/** `postgresql://user:password@host:port/db?sslmode=…` for the backend's DATABASE_URL. */
export function postgresUrl(c: SchemaConnection): string {
  if (typeof c === "string") return c;
  const u = new URL(`postgresql://${c.host}:${c.port ?? 5432}/${c.database}`);
  u.username = c.user;
  if (c.password) u.password = c.password;
  u.searchParams.set("sslmode", c.sslMode ?? "verify-full");
  return u.toString();
}
