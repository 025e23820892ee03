// The dev stack (Pulumi.dev.yaml) under the mock runtime: every child's exact inputs and options —
// pinned images, loopback ports, TLS files, volumes kept on destroy, health checks, limits, the
// rendered configs — the order roles → schema → grants → seeds, the admin tools, secret outputs.
import { REDIS_DECLARATIONS } from "../../redis/declarations";
import { beforeAll, describe, expect, it } from "vitest";
import type * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../config/schema";
import type { DatabaseLayer } from "../../components/database-layer";
import { networkOptions } from "../../components/docker-network";
import { bundledFiles } from "../helpers/file-bundles";
import { installMocks, isSecret, valueOf, type Inputs } from "../helpers/mocks";

const mocks = installMocks({ stack: "dev" });

// Fake values the mocks hand out (tests/helpers/mocks.ts → fakeOutputs).
const CA = "-----BEGIN CERTIFICATE-----\nnexus-tls-ca\n-----END CERTIFICATE-----\n";
const cert = (store: string) => `-----BEGIN CERTIFICATE-----\nnexus-tls-${store}-cert\n-----END CERTIFICATE-----\n`;
const key = (store: string) => `-----BEGIN PRIVATE KEY-----\nnexus-tls-${store}-key\n-----END PRIVATE KEY-----\n`;
const pw = (name: string) => `mockpw${name.replace(/[^A-Za-z0-9]/g, "")}`;

let cfg: StackConfig;
let layer: DatabaseLayer;
let m: {
  postgres: typeof import("../../components/postgres");
  mongo: typeof import("../../components/mongo");
  redis: typeof import("../../components/redis");
  render: typeof import("../../engines/redis/render");
  store: typeof import("../../components/docker-store");
};

beforeAll(async () => {
  const { stackFileConfig } = await import("../helpers/stack-files");
  const { DatabaseLayer } = await import("../../components/database-layer");
  m = {
    postgres: await import("../../components/postgres"),
    mongo: await import("../../components/mongo"),
    redis: await import("../../components/redis"),
    render: await import("../../engines/redis/render"),
    store: await import("../../components/docker-store"),
  };
  cfg = stackFileConfig("dev");
  layer = new DatabaseLayer("nexus", { config: cfg }, { transformations: [mocks.recordOptions] });
  await mocks.settle();
});

const container = (n: string) => mocks.byName(`nexus-${n}-container`).inputs;
/** The file `file` of a container: a store container's from its bundles, an admin tool's as uploaded. */
const upload = (r: Inputs, file: string) => {
  const bundled = bundledFiles((r.uploads as { file: string }[]).filter((x) => /^\/etc\/nexus-db\/files\/(owner-only-)?files\.sh$/.test(x.file)))[file];
  if (bundled) return { file, content: bundled.content };
  const u = (r.uploads as { file: string }[]).find((x) => x.file === file || x.file === `/etc/nexus-db/files${file}`);
  if (!u) throw new Error(`no upload ${file}`);
  return u as { file: string; content: string; owner?: string; group?: string; permissions?: string };
};

describe("the dev stack file", () => {
  it("parses to docker backends, TLS, admin tools, seeds, loopback", () => {
    expect(cfg.environment).toBe("dev");
    expect([cfg.postgres.backend, cfg.mongo.backend, cfg.redis.backend]).toEqual(["docker", "docker", "docker"]);
    expect(cfg.tls.mode).toBe("generate");
    expect(cfg.docker).toEqual({
      bindAddress: "127.0.0.1",
      devTools: true,
      devToolPorts: { pgAdmin: 5050, mongoExpress: 8081, redisCommander: 8082 },
      devToolImages: {},
      networkName: "dev-nexus-db",
    });
    expect(cfg.postgres.seedData).toBe(true);
    expect(cfg.protected).toBe(false);
    expect(cfg.ephemeral).toBe(false);
  });
});

describe("resources", () => {
  it("registers exactly these resources", () => {
    const names = mocks.registered.map((r) => `${r.type} ${r.name}`).sort();
    const dyn = (t: string) => `pulumi-nodejs:dynamic${t}`;
    const expected = [
      "nexus:db:DatabaseLayer nexus",
      "nexus:db:Certificates nexus-tls",
      "nexus:db:Postgres nexus-postgres",
      "nexus:db:Mongo nexus-mongo",
      "nexus:db:Redis nexus-redis",
      "nexus:db:DevTools nexus-devtools",
      "docker:index/network:Network nexus-network",
      "random:index/randomPassword:RandomPassword nexus-jwt-secret",
      ...["postgres-admin", "postgres-owner", "postgres-app", "postgres-readonly", "mongo-admin", "mongo-app", "mongo-analytics", "redis-admin", "redis-app", "redis-readonly", "redis-warmup", "devtools", "devtools-session-secret"].map(
        (p) => `random:index/randomPassword:RandomPassword nexus-${p === "devtools-session-secret" ? p : `${p}-password`}`,
      ),
      "tls:index/privateKey:PrivateKey nexus-tls-ca-key",
      "tls:index/selfSignedCert:SelfSignedCert nexus-tls-ca",
      ...["postgres", "mongo", "redis"].flatMap((s) => [
        `tls:index/privateKey:PrivateKey nexus-tls-${s}-key`,
        `tls:index/certRequest:CertRequest nexus-tls-${s}-csr`,
        `tls:index/locallySignedCert:LocallySignedCert nexus-tls-${s}-cert`,
        `docker:index/remoteImage:RemoteImage nexus-${s}-image`,
        `docker:index/volume:Volume nexus-${s}-data`,
        `docker:index/container:Container nexus-${s}-container`,
      ]),
      ...["pgadmin", "mongo-express", "redis-commander"].flatMap((t) => [`docker:index/remoteImage:RemoteImage nexus-devtools-${t}-image`, `docker:index/container:Container nexus-devtools-${t}`]),
      `${dyn("/nexus:db:PostgresRoles")} nexus-postgres-roles`,
      `${dyn("/nexus:db:PostgresSchema")} nexus-postgres-schema`,
      `${dyn("/nexus:db:PostgresGrants")} nexus-postgres-grants`,
      `${dyn("/nexus:db:PostgresSeedData")} nexus-postgres-seed`,
      `${dyn("/nexus:db:MongoSchema")} nexus-mongo-schema`,
      // The cache warmup comes with its own change; once wired, it belongs to the graph.
      ...(mocks.registered.some((r) => r.name === "nexus-redis-warmup") ? [`${dyn("/nexus:db:RedisWarmup")} nexus-redis-warmup`] : []),
    ].sort();
    expect(names).toEqual(expected);
  });

  it("generates every password with @pulumi/random: 32 characters, URL-safe", () => {
    for (const r of mocks.ofType("random:index/randomPassword:RandomPassword").filter((x) => !x.name.startsWith("nexus-devtools") && x.name !== "nexus-jwt-secret")) {
      expect(r.inputs, r.name).toEqual({ length: 32, special: false, minLower: 2, minUpper: 2, minNumeric: 2 });
    }
  });

  it("puts the containers on a private bridge network named after the stack", () => {
    expect(mocks.byName("nexus-network").inputs).toEqual({
      name: "dev-nexus-db",
      driver: "bridge",
      internal: false,
      labels: [{ label: "nexus-db.stack", value: "dev" }],
    });
  });

  it("the network is top-level (index.ts registers it before the layer exists), aliased to its place under the layer", async () => {
    expect(await valueOf(layer.network!.urn)).toBe("urn:pulumi:dev::nexus-db::docker:index/network:Network::nexus-network");
    const aliases = (networkOptions("nexus").aliases ?? []) as { parent?: pulumi.Input<string> }[];
    expect(aliases).toHaveLength(1);
    expect(await valueOf(aliases[0].parent!)).toBe(await valueOf(layer.urn));
  });
});

describe("TLS", () => {
  it("makes one CA and a certificate per store with the container name, localhost and loopback addresses", () => {
    expect(mocks.byName("nexus-tls-ca").inputs).toEqual({
      privateKeyPem: key("ca"),
      isCaCertificate: true,
      validityPeriodHours: 8760 * 5,
      subject: { commonName: "dev nexus-db CA", organization: "Nexus-Security" },
      allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
    });
    for (const s of ["postgres", "mongo", "redis"]) {
      expect(mocks.byName(`nexus-tls-${s}-key`).inputs).toEqual({ algorithm: "ECDSA", ecdsaCurve: "P256" });
      expect(mocks.byName(`nexus-tls-${s}-csr`).inputs).toEqual({
        privateKeyPem: key(s),
        subject: { commonName: `dev-${s}`, organization: "Nexus-Security" },
        dnsNames: [`dev-${s}`, s, "localhost"],
        ipAddresses: ["127.0.0.1", "::1"],
      });
      expect(mocks.byName(`nexus-tls-${s}-cert`).inputs).toEqual({
        certRequestPem: `csr-nexus-tls-${s}-csr`,
        caPrivateKeyPem: key("ca"),
        caCertPem: CA,
        validityPeriodHours: 8760,
        earlyRenewalHours: 720,
        allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
      });
    }
  });

  it("keeps the private keys secret (additionalSecretOutputs of the SDK's tls package)", () => {
    for (const s of ["ca", "postgres", "mongo", "redis"]) {
      expect(mocks.optionsOf(`nexus-tls-${s}-key`).additionalSecretOutputs, s).toContain("privateKeyPem");
    }
  });
});

describe("the store containers", () => {
  // Only Mongo's container is waited for until healthy: PostgreSQL's and Redis' dependents wait for
  // the server themselves (the roles and schema resources, the warmup).
  const common = (name: string, s: { image: string; port: number; memory: number; cpus: string; dataPath: string; waitHealthy: boolean }) => ({
    name,
    image: `sha256:mock-${s.image}`,
    hostname: name,
    restart: "unless-stopped",
    memory: s.memory,
    memorySwap: s.memory,
    cpus: s.cpus,
    ports: [{ internal: s.port, external: s.port, ip: "127.0.0.1", protocol: "tcp" }],
    networksAdvanced: [{ name: "dev-nexus-db", aliases: [name] }],
    volumes: [{ volumeName: `${name}-data`, containerPath: s.dataPath }],
    ...(s.waitHealthy ? { wait: true, waitTimeout: 300 } : {}),
    logDriver: "json-file",
    logOpts: { "max-size": "50m", "max-file": "3" },
  });
  const healthcheck = (cmd: string) => ({ tests: ["CMD-SHELL", cmd], interval: "5s", timeout: "5s", retries: 30, startPeriod: "10s" });
  /** The start script's parts: files installed (path → owner, mode), the prelude, and the image command it hands on. */
  const start = (inputs: Inputs) => {
    const [sh, c, script, name, ...command] = inputs.command as string[];
    expect([sh, c, name]).toEqual(["sh", "-c", "nexus-db-start"]);
    const lines = script.split("\n");
    const uploads = inputs.uploads as { file: string }[];
    const head = ["set -eu", "chmod -R go-rwx '/etc/nexus-db/files'", "umask 077", m.store.BUNDLE_FUNCTION, "R=", ...uploads.map((u) => `. '${u.file}'`), "umask 022"];
    expect(lines.slice(0, head.length)).toEqual(head);
    expect(lines.at(-1)).toBe('exec docker-entrypoint.sh "$@"');
    const files = Object.fromEntries(Object.entries(bundledFiles(uploads)).map(([p, f]) => [p, f.access]));
    const prelude = lines.slice(head.length, -1).join("\n");
    return { files, prelude, command };
  };
  /** The bundles' contents, path → content. */
  const staged = (inputs: Inputs) => Object.fromEntries(Object.entries(bundledFiles(inputs.uploads)).map(([p, f]) => [p, f.content]));
  /** The uploads of a store container: the public bundle, then the owner-only one (a secret). */
  const bundles = [{ file: "/etc/nexus-db/files/files.sh", content: expect.any(String) }, { file: "/etc/nexus-db/files/owner-only-files.sh", content: expect.any(String) }];

  it("pins the images by tag and keeps them locally", () => {
    expect(mocks.byName("nexus-postgres-image").inputs).toEqual({ name: "postgres:16", keepLocally: true });
    expect(mocks.byName("nexus-mongo-image").inputs).toEqual({ name: "mongo:7", keepLocally: true });
    expect(mocks.byName("nexus-redis-image").inputs).toEqual({ name: "redis:7", keepLocally: true });
  });

  it("keeps the volumes on destroy (not ephemeral) and does not protect them (not a protected stack)", () => {
    for (const s of ["postgres", "mongo", "redis"]) {
      expect(mocks.byName(`nexus-${s}-data`).inputs).toEqual({ name: `dev-${s}-data`, labels: [{ label: "nexus-db.ephemeral", value: "false" }] });
      expect(mocks.optionsOf(`nexus-${s}-data`)).toMatchObject({ retainOnDelete: true, protect: false, ignoreChanges: ["labels"] });
      expect(mocks.optionsOf(`nexus-${s}-container`)).toMatchObject({ protect: false, deleteBeforeReplace: true });
    }
  });

  it("PostgreSQL: the exact container", () => {
    const inputs = container("postgres");
    expect(inputs).toEqual({
      ...common("dev-postgres", { image: "postgres:16", port: 5432, memory: 1024, cpus: "1.0", dataPath: "/var/lib/postgresql/data", waitHealthy: false }),
      command: expect.any(Array),
      envs: [`POSTGRES_PASSWORD=${pw("nexus-postgres-admin-password")}`, "POSTGRES_USER=postgres", "POSTGRES_INITDB_ARGS=--auth-host=scram-sha-256 --auth-local=scram-sha-256"],
      uploads: bundles,
      healthcheck: healthcheck("pg_isready -U postgres -d postgres -h 127.0.0.1"),
    });
    expect(staged(inputs)).toEqual({
      "/etc/postgresql/postgresql.conf": m.postgres.postgresqlConf(cfg.postgres),
      "/etc/postgresql/pg_hba.conf": m.postgres.pgHbaConf(),
      "/etc/postgresql/tls/ca.crt": CA,
      "/etc/postgresql/tls/server.crt": cert("postgres"),
      "/etc/postgresql/tls/server.key": key("postgres"),
    });
    const s = start(inputs);
    expect(s.command).toEqual(["postgres", "-c", "config_file=/etc/postgresql/postgresql.conf"]);
    // The image's postgres user (uid 999) owns the key, readable by it alone.
    expect(s.files).toEqual({
      "/etc/postgresql/postgresql.conf": "0:0 0644",
      "/etc/postgresql/pg_hba.conf": "0:0 0644",
      "/etc/postgresql/tls/ca.crt": "0:0 0644",
      "/etc/postgresql/tls/server.crt": "0:0 0644",
      "/etc/postgresql/tls/server.key": "999:999 0600",
    });
    // Kept data takes the stack's admin password at every start (single-user mode, from the environment).
    expect(s.prelude).toContain('postgres --single -D "$PGDATA"');
    expect(s.prelude).not.toContain(pw("nexus-postgres-admin-password"));
  });

  it("PostgreSQL: postgresql.conf has TLS 1.2+, the pools' max_connections, DDL logging", () => {
    const conf = upload(container("postgres"), "/etc/postgresql/postgresql.conf").content.split("\n");
    expect(conf).toContain("ssl = on");
    expect(conf).toContain("ssl_min_protocol_version = 'TLSv1.2'");
    expect(conf).toContain("ssl_key_file = '/etc/postgresql/tls/server.key'");
    expect(conf).toContain("password_encryption = scram-sha-256");
    // 2 services × pools of 100, plus 20 for admin, migrations and monitoring.
    expect(conf).toContain("max_connections = 220");
    expect(conf).toContain("log_statement = 'ddl'");
    expect(conf).toContain("hba_file = '/etc/postgresql/pg_hba.conf'");
  });

  it("PostgreSQL: pg_hba.conf lets the network in only over TLS with scram-sha-256", () => {
    const rules = upload(container("postgres"), "/etc/postgresql/pg_hba.conf")
      .content.split("\n")
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => l.split(/\s+/));
    for (const r of rules.filter((x) => x[0] !== "local")) {
      if (r[0] === "hostssl") expect(r.at(-1)).toBe("scram-sha-256");
      else expect(r, r.join(" ")).toEqual(["hostnossl", "all", "all", r[3], "reject"]);
    }
    expect(rules.map((r) => r[0])).not.toContain("host");
    expect(rules.filter((r) => r[0] === "hostssl").map((r) => r[3])).toEqual(["0.0.0.0/0", "::/0"]);
    expect(rules.every((r) => !r.includes("trust") && !r.includes("md5") && !r.includes("password"))).toBe(true);
  });

  it("MongoDB: the exact container, with --auth and requireTLS", () => {
    expect(container("mongo")).toEqual({
      ...common("dev-mongo", { image: "mongo:7", port: 27017, memory: 1024, cpus: "1.0", dataPath: "/data/db", waitHealthy: true }),
      command: expect.any(Array),
      envs: ["MONGO_INITDB_ROOT_USERNAME=nexus_admin", `MONGO_INITDB_ROOT_PASSWORD=${pw("nexus-mongo-admin-password")}`, "MONGO_INITDB_DATABASE=nexus_security"],
      uploads: bundles,
      healthcheck: healthcheck(`mongosh --quiet --tls --tlsCAFile /etc/mongo/tls/ca.pem --host localhost --eval "db.adminCommand('ping').ok" | grep -q 1`),
    });
    expect(staged(container("mongo"))).toEqual({ "/etc/mongo/tls/ca.pem": CA, "/etc/mongo/tls/server.pem": cert("mongo") + key("mongo") });
    const s = start(container("mongo"));
    expect(s.files).toEqual({ "/etc/mongo/tls/ca.pem": "0:0 0644", "/etc/mongo/tls/server.pem": "999:999 0600" });
    expect(s.prelude).toContain("db.changeUserPassword(process.env.MONGO_INITDB_ROOT_USERNAME, process.env.MONGO_INITDB_ROOT_PASSWORD)");
    expect(s.command).toEqual([
        "mongod", "--auth", "--bind_ip_all",
        "--tlsMode", "requireTLS",
        "--tlsCertificateKeyFile", "/etc/mongo/tls/server.pem",
        "--tlsCAFile", "/etc/mongo/tls/ca.pem",
        "--tlsAllowConnectionsWithoutCertificates",
        "--tlsDisabledProtocols", "TLS1_0,TLS1_1",
    ]);
  });

  it("Redis: the exact container, with the rendered redis.conf and ACL file", () => {
    const settings = m.redis.containerRedisSettings(cfg, true);
    const acl = m.render.renderAclFile(settings, {
      admin: pw("nexus-redis-admin-password"),
      app: pw("nexus-redis-app-password"),
      readonly: pw("nexus-redis-readonly-password"),
      warmup: pw("nexus-redis-warmup-password"),
    }, REDIS_DECLARATIONS);
    const inputs = container("redis");
    expect(inputs).toEqual({
      ...common("dev-redis", { image: "redis:7", port: 6379, memory: 512, cpus: "0.5", dataPath: "/data", waitHealthy: false }),
      command: expect.any(Array),
      envs: [`REDISCLI_AUTH=${pw("nexus-redis-readonly-password")}`],
      uploads: bundles,
      healthcheck: healthcheck("redis-cli --tls --cacert /usr/local/etc/redis/tls/ca.crt --user nexus_readonly -h 127.0.0.1 -p 6379 ping | grep -q PONG"),
    });
    expect(staged(inputs)).toEqual({
      "/usr/local/etc/redis/redis.conf": m.render.renderRedisConf(settings),
      "/usr/local/etc/redis/users.acl": acl,
      "/usr/local/etc/redis/tls/ca.crt": CA,
      "/usr/local/etc/redis/tls/server.crt": cert("redis"),
      "/usr/local/etc/redis/tls/server.key": key("redis"),
    });
    const s = start(inputs);
    expect(s.command).toEqual(["redis-server", "/usr/local/etc/redis/redis.conf"]);
    // The image's redis user (uid/gid 999) alone reads the ACL file and the key; the entrypoint drops to it.
    expect(s.files).toEqual({
      "/usr/local/etc/redis/redis.conf": "0:0 0644",
      "/usr/local/etc/redis/users.acl": "999:999 0600",
      "/usr/local/etc/redis/tls/ca.crt": "0:0 0644",
      "/usr/local/etc/redis/tls/server.crt": "0:0 0644",
      "/usr/local/etc/redis/tls/server.key": "999:999 0600",
    });
    expect(s.prelude).toBe("");
  });

  it("Redis: redis.conf serves TLS only, the ACL file holds hashes and no plain password", () => {
    const inputs = container("redis");
    const conf = upload(inputs, "/usr/local/etc/redis/redis.conf").content.split("\n");
    expect(conf).toContain("port 0");
    expect(conf).toContain("tls-port 6379");
    expect(conf).toContain('tls-protocols "TLSv1.2 TLSv1.3"');
    expect(conf).toContain("aclfile /usr/local/etc/redis/users.acl");
    expect(conf.some((l) => l.startsWith("requirepass"))).toBe(false);
    const acl = upload(inputs, "/usr/local/etc/redis/users.acl").content;
    for (const u of ["admin", "app", "readonly", "warmup"]) {
      expect(acl).not.toContain(pw(`nexus-redis-${u}-password`));
      expect(acl).toMatch(new RegExp(`^user nexus_${u} on #[0-9a-f]{64} `, "m"));
    }
  });
});

describe("PostgreSQL roles, schema, grants, seeds", () => {
  const conn = (user: string, password: string, database: string) => ({ host: "127.0.0.1", port: 5432, database, user, sslMode: "verify-full", password, caPem: CA });
  const roles = { owner: "nexus_owner", app: "nexus_app", readonly: "nexus_readonly" };

  it("roles: the admin connection over verify-full TLS, three roles, the app's connection limit", () => {
    const { __provider, ...inputs } = mocks.byName("nexus-postgres-roles").inputs;
    expect(typeof __provider).toBe("string");
    expect(inputs).toEqual({
      admin: conn("postgres", pw("nexus-postgres-admin-password"), "postgres"),
      database: "nexus_security",
      roles,
      passwords: { owner: pw("nexus-postgres-owner-password"), app: pw("nexus-postgres-app-password"), readonly: pw("nexus-postgres-readonly-password") },
      appConnectionLimit: 200,
      dropOnDelete: false,
    });
  });

  it("schema: migrations as the owner, every file listed", () => {
    const { __provider: _p, migrations, ...inputs } = mocks.byName("nexus-postgres-schema").inputs;
    expect(inputs).toEqual({
      connection: conn("nexus_owner", pw("nexus-postgres-owner-password"), "nexus_security"),
      migrationsDir: "sql/migrations",
      settings: expect.objectContaining({ protected: false, dropOnDelete: false, historyTable: "public.schema_migrations" }),
      appliedBy: "pulumi:dev",
    });
    expect((migrations as { version: number }[]).map((x) => x.version)).toEqual([1, 2, 3, 4, 5]);
  });

  it("grants: as the superuser on the platform database, at the schema's version", () => {
    const { __provider: _p, ...inputs } = mocks.byName("nexus-postgres-grants").inputs;
    expect(inputs).toEqual({
      admin: conn("postgres", pw("nexus-postgres-admin-password"), "nexus_security"),
      roles,
      schema: "public",
      ownerOnlyTables: ["public.schema_migrations"],
      schemaVersion: 3, // the mocked PostgresSchema.currentVersion: grants follow the migrations
    });
  });

  it("seeds: as the owner, with the checksum of every seed file", () => {
    const { __provider: _p, ...inputs } = mocks.byName("nexus-postgres-seed").inputs;
    expect(inputs).toEqual({
      connection: conn("nexus_owner", pw("nexus-postgres-owner-password"), "nexus_security"),
      seedsDir: "sql/seeds",
      checksums: { test_data: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) },
    });
  });

  it("order: container → roles → schema → grants and seeds side by side; the Mongo schema after the containers (dependsOn)", () => {
    const dependsOn = (n: string) => mocks.optionsOf(n).dependsOn as unknown[];
    const resource = (n: string) => mocks.constructed.find((c) => c.name === n)!.resource;
    expect(dependsOn("nexus-postgres-roles")).toEqual([resource("nexus-postgres-container")]);
    expect(dependsOn("nexus-postgres-schema")).toEqual([resource("nexus-postgres-roles")]);
    expect(dependsOn("nexus-postgres-grants")).toEqual([resource("nexus-postgres-schema")]);
    expect(dependsOn("nexus-postgres-seed")).toEqual([resource("nexus-postgres-schema")]);
    expect(layer.postgres.ready).toEqual([resource("nexus-postgres-grants"), resource("nexus-postgres-seed")]);
    // The warmup reads as the read-only role (the grants) what the seeds loaded.
    expect(dependsOn("nexus-redis-warmup")).toEqual(expect.arrayContaining([resource("nexus-postgres-grants"), resource("nexus-postgres-seed")]));
    // The Mongo schema's first check (≈ 1 s, the engine registering nothing else) after the other
    // stores' containers: it cannot hold their registration back.
    expect(dependsOn("nexus-mongo-schema")).toEqual([resource("nexus-postgres-container"), resource("nexus-redis-container"), resource("nexus-mongo-container")]);
  });

  it("every dynamic resource waits for the PostgreSQL container: its process needs no head start here (providers/prestart.ts)", async () => {
    const { dynamicResourcesComeEarly } = await import("../../providers/prestart");
    const byResource = new Map(mocks.constructed.map((c) => [c.resource, c]));
    const pgContainer = mocks.constructed.find((c) => c.name === "nexus-postgres-container")!.resource;
    /** Whether the PostgreSQL container is among what `c` depends on, directly or through others. */
    const waitsFor = (c: (typeof mocks.constructed)[number]): boolean => {
      const seen = new Set<pulumi.Resource>();
      const todo = [...((c.opts.dependsOn ?? []) as pulumi.Resource[])];
      for (let d = todo.pop(); d !== undefined; d = todo.pop()) {
        if (d === pgContainer) return true;
        if (seen.has(d)) continue;
        seen.add(d);
        todo.push(...((byResource.get(d)?.opts.dependsOn ?? []) as pulumi.Resource[]));
      }
      return false;
    };
    const dynamic = mocks.constructed.filter((c) => c.type.startsWith("pulumi-nodejs:dynamic"));
    expect(dynamic.map((c) => c.name).sort()).toEqual(
      ["nexus-mongo-schema", "nexus-postgres-grants", "nexus-postgres-roles", "nexus-postgres-schema", "nexus-postgres-seed", "nexus-redis-warmup"].sort(),
    );
    for (const c of dynamic) expect(waitsFor(c), c.name).toBe(true);
    expect(dynamicResourcesComeEarly(cfg)).toBe(false);
    expect(dynamicResourcesComeEarly({ postgres: { backend: "external" } })).toBe(true);
  });

  it("the grant statements: DML and EXECUTE for the app, SELECT for read-only, default privileges, no DDL", async () => {
    const { grantStatements } = await import("../../engines/postgres/roles");
    const s = grantStatements(roles, "public", ["public.schema_migrations"]);
    expect(s).toEqual([
      "REVOKE CREATE ON SCHEMA \"public\" FROM PUBLIC",
      "GRANT USAGE ON SCHEMA \"public\" TO \"nexus_app\", \"nexus_readonly\"",
      "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA \"public\" TO \"nexus_app\"",
      "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA \"public\" TO \"nexus_app\"",
      "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA \"public\" TO \"nexus_app\"",
      "GRANT SELECT ON ALL TABLES IN SCHEMA \"public\" TO \"nexus_readonly\"",
      "GRANT SELECT ON ALL SEQUENCES IN SCHEMA \"public\" TO \"nexus_readonly\"",
      "ALTER DEFAULT PRIVILEGES FOR ROLE \"nexus_owner\" IN SCHEMA \"public\" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO \"nexus_app\"",
      "ALTER DEFAULT PRIVILEGES FOR ROLE \"nexus_owner\" IN SCHEMA \"public\" GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO \"nexus_app\"",
      "ALTER DEFAULT PRIVILEGES FOR ROLE \"nexus_owner\" IN SCHEMA \"public\" GRANT EXECUTE ON FUNCTIONS TO \"nexus_app\"",
      "ALTER DEFAULT PRIVILEGES FOR ROLE \"nexus_owner\" IN SCHEMA \"public\" GRANT SELECT ON TABLES TO \"nexus_readonly\"",
      "ALTER DEFAULT PRIVILEGES FOR ROLE \"nexus_owner\" IN SCHEMA \"public\" GRANT SELECT ON SEQUENCES TO \"nexus_readonly\"",
      "DO $$ BEGIN IF to_regclass('public.schema_migrations') IS NOT NULL THEN REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON \"public\".\"schema_migrations\" FROM \"nexus_app\"; END IF; END $$",
    ]);
    expect(s.join("\n")).not.toMatch(/GRANT (ALL|CREATE)|TO "nexus_readonly".*INSERT/);
    expect(() => grantStatements({ ...roles, app: 'x"; DROP' })).toThrow(/not a plain lower-case SQL identifier/);
  });
});

describe("MongoDB collections and users", () => {
  it("reconciles as the root user over TLS with the stack's CA, users with their passwords", () => {
    const { __provider: _p, collections, ...inputs } = mocks.byName("nexus-mongo-schema").inputs;
    expect(inputs.connection).toEqual({
      url: `mongodb://nexus_admin:${pw("nexus-mongo-admin-password")}@127.0.0.1:27017/admin?authSource=admin&tls=true`,
      tls: expect.objectContaining({ enabled: true, caPem: CA }),
    });
    expect(inputs.database).toBe("nexus_security");
    expect(inputs.protected).toBe(false);
    expect(inputs.users).toEqual({
      app: { name: expect.any(String), password: pw("nexus-mongo-app-password") },
      analytics: { name: expect.any(String), password: pw("nexus-mongo-analytics-password") },
    });
    expect(Array.isArray(collections) && collections.length).toBeGreaterThan(0);
    expect(mocks.optionsOf("nexus-mongo-schema").protect).toBe(false);
  });
});

describe("the admin tools (dev profile)", () => {
  const tool = (n: string) => mocks.byName(`nexus-devtools-${n}`).inputs;
  const base = (name: string, image: string, internal: number, external: number) => ({
    name,
    image: `sha256:mock-${image}`,
    restart: "unless-stopped",
    memory: 512,
    memorySwap: 512,
    ports: [{ internal, external, ip: "127.0.0.1", protocol: "tcp" }],
    networksAdvanced: [{ name: "dev-nexus-db", aliases: [name] }],
    logDriver: "json-file",
    logOpts: { "max-size": "10m", "max-file": "2" },
  });
  const toolPw = pw("nexus-devtools-password");

  it("pins the tools' images", () => {
    expect(mocks.byName("nexus-devtools-pgadmin-image").inputs).toEqual({ name: "dpage/pgadmin4:8.14", keepLocally: true });
    expect(mocks.byName("nexus-devtools-mongo-express-image").inputs).toEqual({ name: "mongo-express:1.0.2-20-alpine3.19", keepLocally: true });
    expect(mocks.byName("nexus-devtools-redis-commander-image").inputs).toEqual({ name: "ghcr.io/joeferner/redis-commander:0.9.0", keepLocally: true });
  });

  it("pgAdmin: on 127.0.0.1:5050, dev-postgres pre-registered with verify-full TLS and a pgpass file", () => {
    const storage = "/var/lib/pgadmin/storage/admin_nexus-security.dev";
    expect(tool("pgadmin")).toEqual({
      ...base("dev-pgadmin", "dpage/pgadmin4:8.14", 80, 5050),
      envs: [
        "PGADMIN_DEFAULT_EMAIL=admin@nexus-security.dev",
        `PGADMIN_DEFAULT_PASSWORD=${toolPw}`,
        "PGADMIN_SERVER_JSON_FILE=/pgadmin4/servers.json",
        "PGADMIN_CONFIG_ENHANCED_COOKIE_PROTECTION=True",
        "PGADMIN_DISABLE_POSTFIX=true",
      ],
      uploads: [
        { file: "/etc/nexus-db/files/pgadmin4/servers.json", content: expect.any(String) },
        { file: `/etc/nexus-db/files${storage}/nexus-ca.pem`, content: CA },
        { file: `/etc/nexus-db/files${storage}/pgpass`, content: `dev-postgres:5432:*:postgres:${pw("nexus-postgres-admin-password")}\n` },
      ],
      // pgAdmin runs as uid 5050 and libpq reads a passfile its owner alone can read: installed so, then the image's entrypoint as pgadmin.
      user: "0",
      entrypoints: [
        "sh",
        "-c",
        [
          "install -D -o 5050 -g 0 -m 0644 '/etc/nexus-db/files/pgadmin4/servers.json' '/pgadmin4/servers.json'",
          `install -D -o 5050 -g 0 -m 0644 '/etc/nexus-db/files${storage}/nexus-ca.pem' '${storage}/nexus-ca.pem'`,
          `install -D -o 5050 -g 0 -m 0600 '/etc/nexus-db/files${storage}/pgpass' '${storage}/pgpass'`,
          "exec su -p -s /bin/sh pgadmin -c /entrypoint.sh",
        ].join(" && "),
      ],
    });
    expect(JSON.parse(upload(tool("pgadmin"), "/pgadmin4/servers.json").content)).toEqual({
      Servers: {
        "1": {
          Name: "nexus-db (dev)",
          Group: "Nexus-Security",
          Host: "dev-postgres",
          Port: 5432,
          MaintenanceDB: "postgres",
          Username: "postgres",
          ConnectionParameters: { sslmode: "verify-full", sslrootcert: "/nexus-ca.pem", passfile: "/pgpass", connect_timeout: 10 },
        },
      },
    });
  });

  it("Mongo Express: on 127.0.0.1:8081, the root user to dev-mongo over TLS, basic auth on", () => {
    expect(tool("mongo-express")).toEqual({
      ...base("dev-mongo-express", "mongo-express:1.0.2-20-alpine3.19", 8081, 8081),
      envs: [
        `ME_CONFIG_MONGODB_URL=mongodb://nexus_admin:${pw("nexus-mongo-admin-password")}@dev-mongo:27017/admin?authSource=admin&tls=true&tlsCAFile=%2Fetc%2Fmongo-express%2Fca.pem`,
        "ME_CONFIG_MONGODB_ENABLE_ADMIN=true",
        "ME_CONFIG_MONGODB_TLS=true",
        "ME_CONFIG_MONGODB_TLS_CA_FILE=/etc/mongo-express/ca.pem",
        "ME_CONFIG_BASICAUTH=true",
        "ME_CONFIG_BASICAUTH_USERNAME=nexus",
        `ME_CONFIG_BASICAUTH_PASSWORD=${toolPw}`,
        `ME_CONFIG_SITE_COOKIESECRET=${pw("nexus-devtools-session-secret")}`,
        `ME_CONFIG_SITE_SESSIONSECRET=${pw("nexus-devtools-session-secret")}`,
      ],
      uploads: [{ file: "/etc/mongo-express/ca.pem", content: CA }],
    });
  });

  it("Redis Commander: on 127.0.0.1:8082, the admin ACL user to dev-redis over TLS, basic auth on", () => {
    expect(tool("redis-commander")).toEqual({
      ...base("dev-redis-commander", "ghcr.io/joeferner/redis-commander:0.9.0", 8081, 8082),
      envs: [
        "REDIS_HOST=dev-redis",
        "REDIS_PORT=6379",
        "REDIS_USERNAME=nexus_admin",
        `REDIS_PASSWORD=${pw("nexus-redis-admin-password")}`,
        "REDIS_TLS=true",
        "REDIS_TLS_CA_CERT_FILE=/etc/redis-commander/ca.pem",
        "REDIS_TLS_SERVER_NAME=dev-redis",
        "HTTP_USER=nexus",
        `HTTP_PASSWORD=${toolPw}`,
      ],
      uploads: [{ file: "/etc/redis-commander/ca.pem", content: CA }],
    });
  });

  it("start after the stores; the tools' URLs and logins; the password is secret", async () => {
    const deps = mocks.optionsOf("nexus-devtools").dependsOn as unknown[];
    expect(deps).toEqual([layer.postgres, layer.mongo, layer.redis]);
    expect(layer.devTools!.urls).toEqual({ pgAdmin: "http://127.0.0.1:5050", mongoExpress: "http://127.0.0.1:8081", redisCommander: "http://127.0.0.1:8082" });
    expect(layer.devTools!.logins).toEqual({ pgAdmin: "admin@nexus-security.dev", mongoExpress: "nexus", redisCommander: "nexus" });
    expect(await isSecret(layer.devTools!.password)).toBe(true);
    expect(await valueOf(layer.devTools!.password)).toBe(toolPw);
  });
});

describe("secrets in the state", () => {
  it("no resource input holds a password or a private key outside a secret", () => {
    const leaks = mocks.registered.flatMap((r) =>
      r.plainStrings.filter((x) => /mockpw|PRIVATE KEY/.test(x.value) && x.path !== "__provider").map((x) => `${r.name}: ${x.path}`),
    );
    expect(leaks).toEqual([]);
  });

  it("the secrets do reach the inputs that need them (the check above is not vacuous)", () => {
    expect(container("postgres").envs[0]).toBe(`POSTGRES_PASSWORD=${pw("nexus-postgres-admin-password")}`);
    expect(mocks.byName("nexus-postgres-container").plainStrings.some((x) => x.path.startsWith("envs"))).toBe(false);
  });
});

describe("outputs", () => {
  it("the backend's variables: URLs with TLS verification, as secrets", async () => {
    expect(await valueOf(layer.env.DATABASE_URL)).toBe(`postgresql://nexus_app:${pw("nexus-postgres-app-password")}@127.0.0.1:5432/nexus_security?sslmode=verify-full`);
    expect(layer.env.DATABASE_MAX_CONNECTIONS).toBe(100);
    expect(await valueOf(layer.env.MONGODB_URL)).toBe(`mongodb://nexus_app:${pw("nexus-mongo-app-password")}@127.0.0.1:27017/nexus_security?authSource=nexus_security&tls=true`);
    expect(await valueOf(layer.env.REDIS_URL)).toBe(`rediss://nexus_app:${pw("nexus-redis-app-password")}@127.0.0.1:6379`);
    for (const k of ["DATABASE_URL", "MONGODB_URL", "REDIS_URL"] as const) expect(await isSecret(layer.env[k]), k).toBe(true);
  });

  it("every per-role URL is secret and carries its role's password", async () => {
    expect(Object.keys(layer.urls).sort()).toEqual(["mongoAnalytics", "mongoApp", "postgresApp", "postgresOwner", "postgresReadonly", "redisApp", "redisReadonly", "redisWarmup"]);
    for (const [k, o] of Object.entries(layer.urls)) {
      expect(await isSecret(o), k).toBe(true);
      expect(await valueOf(o), k).toMatch(/^(postgresql|mongodb|rediss):\/\/nexus_[a-z]+:mockpw/);
    }
    expect(await valueOf(layer.urls.postgresReadonly)).toContain("nexus_readonly:");
    expect(await valueOf(layer.caCertPem!)).toBe(CA);
  });

  it("no password reaches a non-secret top-level output", async () => {
    const plain = JSON.stringify({ host: await valueOf(layer.postgres.host), port: await valueOf(layer.postgres.port), urls: layer.devTools!.urls });
    expect(plain).not.toContain("mockpw");
  });
});


