// The `docker` backend of `nexus:db:Postgres`: a `postgres` container with TLS only (TLSv1.2+),
// SCRAM, max_connections sized for the backend pools, DDL logging, and a named volume.
import * as pulumi from "@pulumi/pulumi";
import { dockerStore, stackContainerArgs } from "../docker-store";
import type { PostgresBackend } from "./backend";
import { pgHbaConf, postgresqlConf } from "./settings";

/**
 * The credentials of kept data: POSTGRES_PASSWORD acts only on an empty volume, so a volume that
 * outlived a `destroy` (or a rotated admin password) would keep the old superuser password and the
 * next `up` could not log in. The stack's password is the one that counts: on every start with
 * existing data, before the server listens, single-user mode (no client, no network, no
 * authentication) sets it. The value comes from the container's environment, never the command line.
 */
export const ADMIN_PASSWORD_FOLLOWS_STACK = [
  'PGDATA="${PGDATA:-/var/lib/postgresql/data}"',
  'if [ -s "$PGDATA/PG_VERSION" ] && [ -n "${POSTGRES_PASSWORD:-}" ]; then',
  `  pw=$(printf '%s' "$POSTGRES_PASSWORD" | sed "s/'/''/g")`,
  `  printf "ALTER ROLE \\"%s\\" PASSWORD '%s';\\n" "\${POSTGRES_USER:-postgres}" "$pw" |`,
  '    setpriv --reuid=postgres --regid=postgres --init-groups postgres --single -D "$PGDATA" -c log_statement=none -c log_min_error_statement=panic postgres >/dev/null 2>&1 ||',
  '    { echo "nexus-db: could not set the admin password of the existing data (single-user mode failed)" >&2; exit 1; }',
  "fi",
].join("\n");

export const dockerPostgres: PostgresBackend = (name, args) => {
  const c = args.config.postgres;
  if (!args.network) throw new Error("nexus-db:postgres.backend docker needs the stack's docker network");
  if (!args.tls) throw new Error("nexus-db:postgres.backend docker needs TLS certificates (tls.mode generate or provided)");
  const store = dockerStore(name, {
    ...stackContainerArgs("postgres", args.config, args.network, args.parent),
    settings: c.docker,
    containerPort: 5432,
    dataPath: "/var/lib/postgresql/data",
    command: ["postgres", "-c", "config_file=/etc/postgresql/postgresql.conf"],
    envs: [pulumi.interpolate`POSTGRES_PASSWORD=${args.adminPassword}`, "POSTGRES_USER=postgres", "POSTGRES_INITDB_ARGS=--auth-host=scram-sha-256 --auth-local=scram-sha-256"],
    files: [
      { path: "/etc/postgresql/postgresql.conf", content: postgresqlConf(c) },
      { path: "/etc/postgresql/pg_hba.conf", content: pgHbaConf() },
      { path: "/etc/postgresql/tls/ca.crt", content: args.tls.caCertPem },
      { path: "/etc/postgresql/tls/server.crt", content: args.tls.server.certPem },
      // The image's postgres user (uid 999) must own the key, readable by it alone.
      { path: "/etc/postgresql/tls/server.key", content: args.tls.server.keyPem, owner: "999:999", mode: "0600" },
    ],
    prelude: ADMIN_PASSWORD_FOLLOWS_STACK,
    healthcheck: ["pg_isready -U postgres -d postgres -h 127.0.0.1"],
    // The roles and the schema wait for the server to accept connections themselves.
    waitHealthy: false,
  });
  return {
    host: "127.0.0.1",
    port: c.docker.hostPort,
    sslMode: "verify-full",
    caPem: args.tls.caCertPem,
    adminUser: "postgres",
    adminDatabase: "postgres",
    ready: [store.container],
  };
};
