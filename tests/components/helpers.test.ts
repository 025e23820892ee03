// The components' pure helpers: sizing, rendered server configs, URLs, names. No Pulumi runtime.
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../../config/schema";
import { RESERVED_CONNECTIONS, pgHbaConf, postgresUrl, postgresqlConf, serverMaxConnections } from "../../components/postgres";
import { mongoUrl, mongodCommand } from "../../components/mongo";
import { containerRedisSettings } from "../../components/redis";
import { serverNames } from "../../components/tls";
import { imageReference } from "../../components/docker-store";
import { pgAdminServers, pgAdminStorageDir, pgpassLine } from "../../components/dev-tools";
import { renderRedisConf } from "../../engines/redis/render";

const dev = parseStackConfig({ environment: "dev" }, "dev");

describe("serverMaxConnections", () => {
  it("is every service's pool at its maximum plus the reserve", () => {
    expect(RESERVED_CONNECTIONS).toBe(20);
    expect(serverMaxConnections({ poolMaxConnections: 100, services: 2 })).toBe(220);
    expect(serverMaxConnections({ poolMaxConnections: 100, services: 1 })).toBe(120);
    expect(serverMaxConnections({ poolMaxConnections: 25, services: 4 })).toBe(120);
  });
});

describe("postgresqlConf", () => {
  it("renders the settings exactly", () => {
    expect(postgresqlConf(dev.postgres)).toBe(
      [
        "listen_addresses = '*'",
        "port = 5432",
        "max_connections = 220",
        "superuser_reserved_connections = 5",
        "shared_buffers = 256MB",
        "work_mem = 8MB",
        "maintenance_work_mem = 128MB",
        "effective_cache_size = 768MB",
        "password_encryption = scram-sha-256",
        "ssl = on",
        "ssl_cert_file = '/etc/postgresql/tls/server.crt'",
        "ssl_key_file = '/etc/postgresql/tls/server.key'",
        "ssl_ca_file = '/etc/postgresql/tls/ca.crt'",
        "ssl_min_protocol_version = 'TLSv1.2'",
        "hba_file = '/etc/postgresql/pg_hba.conf'",
        "log_statement = 'ddl'",
        "log_connections = on",
        "log_disconnections = on",
        "log_lock_waits = on",
        "log_min_duration_statement = 1000",
        "log_line_prefix = '%m [%p] %q%u@%d/%a '",
        "shared_preload_libraries = 'pg_stat_statements'",
        "pg_stat_statements.track = top",
        "",
      ].join("\n"),
    );
  });

  it("follows the pool size, services and memory settings of the config", () => {
    const c = parseStackConfig({ environment: "dev", postgres: { poolMaxConnections: 50, services: 3, memory: { sharedBuffers: "1GB", workMem: "16MB" } } }, "dev");
    const conf = postgresqlConf(c.postgres).split("\n");
    expect(conf).toContain("max_connections = 170");
    expect(conf).toContain("shared_buffers = 1GB");
    expect(conf).toContain("work_mem = 16MB");
  });

  it("max_connections leaves room beyond the app role's connection limit for the superuser reserve", () => {
    const max = serverMaxConnections(dev.postgres);
    const appLimit = dev.postgres.poolMaxConnections * dev.postgres.services;
    expect(max - appLimit).toBeGreaterThan(5); // superuser_reserved_connections
  });
});

describe("pgHbaConf", () => {
  it("lets network clients in only over TLS with scram-sha-256, and rejects the rest", () => {
    expect(pgHbaConf()).toBe(
      [
        "# TYPE   DATABASE USER ADDRESS    METHOD",
        "local    all      all             scram-sha-256",
        "hostssl  all      all  0.0.0.0/0  scram-sha-256",
        "hostssl  all      all  ::/0       scram-sha-256",
        "hostnossl all     all  0.0.0.0/0  reject",
        "hostnossl all     all  ::/0       reject",
        "",
      ].join("\n"),
    );
  });
});

describe("mongodCommand", () => {
  it("turns on authentication and requires TLS 1.2+", () => {
    const cmd = mongodCommand();
    expect(cmd[0]).toBe("mongod");
    expect(cmd).toContain("--auth");
    expect(cmd[cmd.indexOf("--tlsMode") + 1]).toBe("requireTLS");
    expect(cmd[cmd.indexOf("--tlsDisabledProtocols") + 1]).toBe("TLS1_0,TLS1_1");
    expect(cmd[cmd.indexOf("--tlsCertificateKeyFile") + 1]).toBe("/etc/mongo/tls/server.pem");
    expect(cmd[cmd.indexOf("--tlsCAFile") + 1]).toBe("/etc/mongo/tls/ca.pem");
    expect(cmd).not.toContain("--noauth");
  });
});

describe("mongoUrl", () => {
  it("encodes user and password, defaults authSource to the database, adds tls", () => {
    expect(mongoUrl({ host: "127.0.0.1", port: 27017, user: "nexus_app", password: "p@ss:w/rd", database: "nexus_security", tls: true })).toBe(
      "mongodb://nexus_app:p%40ss%3Aw%2Frd@127.0.0.1:27017/nexus_security?authSource=nexus_security&tls=true",
    );
  });
  it("takes an explicit authSource; no query without user and TLS", () => {
    expect(mongoUrl({ host: "db", port: 1, user: "root", password: "x", database: "nexus", authSource: "admin", tls: false })).toBe("mongodb://root:x@db:1/nexus?authSource=admin");
    expect(mongoUrl({ host: "127.0.0.1", port: 57017, database: "nexus", tls: false })).toBe("mongodb://127.0.0.1:57017/nexus");
  });
});

describe("postgresUrl", () => {
  it("encodes the password and keeps the sslmode", () => {
    expect(postgresUrl({ host: "127.0.0.1", port: 5432, database: "nexus_security", user: "nexus_app", password: "a b@c/d", sslMode: "verify-full" })).toBe(
      "postgresql://nexus_app:a%20b%40c%2Fd@127.0.0.1:5432/nexus_security?sslmode=verify-full",
    );
  });
  it("defaults to port 5432 and verify-full; no password, no colon", () => {
    expect(postgresUrl({ host: "db", database: "x", user: "u" })).toBe("postgresql://u@db:5432/x?sslmode=verify-full");
  });
  it("passes a URL through", () => {
    expect(postgresUrl("postgresql://u@h/db")).toBe("postgresql://u@h/db");
  });
});

describe("containerRedisSettings", () => {
  it("with TLS: plaintext port off, TLS on 6379 with the uploaded files, data in /data, the ACL file", () => {
    const s = containerRedisSettings(dev, true);
    expect(s.port).toBe(0);
    expect(s.bind).toEqual(["0.0.0.0", "::"]);
    expect(s.protectedMode).toBe(false);
    expect(s.tls).toMatchObject({
      port: 6379,
      certFile: "/usr/local/etc/redis/tls/server.crt",
      keyFile: "/usr/local/etc/redis/tls/server.key",
      caCertFile: "/usr/local/etc/redis/tls/ca.crt",
      protocols: ["TLSv1.2", "TLSv1.3"],
    });
    expect(s.persistence.dir).toBe("/data");
    expect(s.aclFile).toBe("/usr/local/etc/redis/users.acl");
  });
  it("without TLS: the plaintext port, no tls-port in redis.conf", () => {
    const s = containerRedisSettings(dev, false);
    expect(s.port).toBe(6379);
    expect(renderRedisConf(s)).not.toMatch(/^tls-port/m);
  });
  it("keeps the stack's own settings (maxmemory, policy)", () => {
    const c = parseStackConfig({ environment: "dev", redis: { settings: { maxmemory: "1gb", maxmemoryPolicy: "volatile-lru" } } }, "dev");
    const s = containerRedisSettings(c, true);
    expect(s.maxmemory).toBe(1024 ** 3);
    expect(s.maxmemoryPolicy).toBe("volatile-lru");
  });
  it("outside dev, the passwordless default user stays off", () => {
    const c = parseStackConfig({ environment: "prod", redis: { backend: "docker" } }, "prod");
    expect(containerRedisSettings(c, true).acl.defaultUser).toBe(false);
  });
});

describe("serverNames", () => {
  it("the container name, the store, localhost, the loopback addresses", () => {
    expect(serverNames("postgres", "dev")).toEqual({ dnsNames: ["dev-postgres", "postgres", "localhost"], ipAddresses: ["127.0.0.1", "::1"] });
  });
  it("extra names, without duplicates", () => {
    expect(serverNames("redis", "prod", ["cache.example.com", "localhost"]).dnsNames).toEqual(["prod-redis", "redis", "localhost", "cache.example.com"]);
  });
});

describe("imageReference", () => {
  it("a tag, or a tag pinned to a digest", () => {
    expect(imageReference({ image: "postgres:16" })).toBe("postgres:16");
    const digest = `sha256:${"a".repeat(64)}`;
    expect(imageReference({ image: "postgres:16", digest })).toBe(`postgres:16@${digest}`);
  });
});

describe("the admin tools' files", () => {
  it("pgpass escapes separators", () => {
    expect(pgpassLine({ host: "dev-postgres", port: 5432, user: "postgres", password: "a:b\\c" })).toBe("dev-postgres:5432:*:postgres:a\\:b\\\\c\n");
  });
  it("pgAdmin's storage directory and servers.json", () => {
    expect(pgAdminStorageDir("admin@nexus-security.dev")).toBe("/var/lib/pgadmin/storage/admin_nexus-security.dev");
    const s = JSON.parse(pgAdminServers({ stack: "dev", host: "dev-postgres", user: "postgres" }));
    expect(s.Servers["1"]).toMatchObject({ Host: "dev-postgres", Port: 5432, Username: "postgres", ConnectionParameters: { sslmode: "verify-full" } });
  });
});
