// The `docker` backend of `nexus:db:Mongo`: a `mongo` container with authentication on, TLS
// required (TLS 1.2+) and a named volume; the reconciler logs in as the root user it was started with.
import * as pulumi from "@pulumi/pulumi";
import { dockerStore, stackContainerArgs } from "../docker-store";
import type { MongoBackend } from "./backend";
import { hostedMongoConnections, mongodCommand } from "./settings";

/** The root user the container is initialised with. */
export const MONGO_ROOT_USER = "nexus_admin";

/**
 * As for PostgreSQL (see ADMIN_PASSWORD_FOLLOWS_STACK there): MONGO_INITDB_ROOT_PASSWORD acts only
 * on an empty volume, so on a start with existing data a mongod without authentication, on the
 * container's loopback only, sets the stack's password for the root user, then stops. Not run on this
 * project's machines (no mongo image can be had there): covered by the mock tests only.
 */
export const ROOT_PASSWORD_FOLLOWS_STACK = [
  'if [ -f /data/db/WiredTiger ] && [ -n "${MONGO_INITDB_ROOT_PASSWORD:-}" ]; then',
  "  chown -R mongodb:mongodb /data/db",
  "  setpriv --reuid=mongodb --regid=mongodb --init-groups mongod --dbpath /data/db --noauth --bind_ip 127.0.0.1 --port 27099 --fork --logpath /tmp/nexus-db-reset.log >/dev/null",
  "  mongosh --quiet mongodb://127.0.0.1:27099/admin --eval 'db.changeUserPassword(process.env.MONGO_INITDB_ROOT_USERNAME, process.env.MONGO_INITDB_ROOT_PASSWORD)' >/dev/null 2>&1 ||",
  '    echo "nexus-db: could not set the root password of the existing data" >&2',
  "  setpriv --reuid=mongodb --regid=mongodb --init-groups mongod --dbpath /data/db --shutdown >/dev/null",
  "fi",
].join("\n");

export const dockerMongo: MongoBackend = (name, args) => {
  const c = args.config.mongo;
  if (!args.network || !args.tls) throw new Error("nexus-db:mongo.backend docker needs the docker network and TLS certificates");
  if (!args.adminPassword) throw new Error("nexus-db:mongo.backend docker needs an admin password");
  const store = dockerStore(name, {
    ...stackContainerArgs("mongo", args.config, args.network, args.parent),
    settings: c.docker,
    containerPort: 27017,
    dataPath: "/data/db",
    command: mongodCommand(),
    envs: [`MONGO_INITDB_ROOT_USERNAME=${MONGO_ROOT_USER}`, pulumi.interpolate`MONGO_INITDB_ROOT_PASSWORD=${args.adminPassword}`, `MONGO_INITDB_DATABASE=${c.settings.database}`],
    files: [
      { path: "/etc/mongo/tls/ca.pem", content: args.tls.caCertPem },
      // mongod wants certificate and key in one PEM file, readable by the mongodb user (uid 999).
      { path: "/etc/mongo/tls/server.pem", content: pulumi.secret(pulumi.interpolate`${args.tls.server.certPem}${args.tls.server.keyPem}`), owner: "999:999", mode: "0600" },
    ],
    prelude: ROOT_PASSWORD_FOLLOWS_STACK,
    healthcheck: ["mongosh --quiet --tls --tlsCAFile /etc/mongo/tls/ca.pem --host localhost --eval \"db.adminCommand('ping').ok\" | grep -q 1"],
  });
  const hosted = { host: "127.0.0.1", port: c.docker.hostPort, tls: true, caPem: args.tls.caCertPem, adminUser: MONGO_ROOT_USER, authSource: "admin", adminPassword: args.adminPassword };
  return { ...hostedMongoConnections(args.config, hosted, args.passwords), host: hosted.host, port: hosted.port, tls: true, reconcilerManagesUsers: true, ready: [store.container] };
};
