// `nexus-db doctor`: the specification's troubleshooting list as checks, each OK, WARN or FAIL with
// the next step. Reads only — except the Mongo plan, which probes the server's features on a scratch
// collection it drops (the same probe as `nexus-db mongo plan`).
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from "node:tls";
import type { Client } from "pg";
import type { MongoClient } from "mongodb";
import { connect as pgConnect, planAgainstDatabase, redactUrl, type MigrationSource } from "../postgres";
import { connectMongo, redactUrl as redactMongoUrl, type MongoTlsSettings } from "../mongo/connection";
import { MongoReconciler, type CollectionDeclaration } from "../mongo";
import { findPgTool, redactRedisUrl, redisClient, redisInfo } from "../backup";
import type Redis from "ioredis";
import type { RedisOptions } from "ioredis";

export type Status = "OK" | "WARN" | "FAIL";

export interface Check {
  store: "postgres" | "mongo" | "redis";
  check: string;
  status: Status;
  detail: string;
  /** What to do about a WARN or FAIL. */
  next?: string;
}

export interface DoctorInput {
  postgres?: {
    url: string;
    /** Other roles' URLs to prove their logins (name → URL). */
    roles?: Record<string, string>;
    migrations?: MigrationSource;
    historyTable?: string;
  };
  mongo?: { url: string; database: string; tls?: Partial<MongoTlsSettings>; collections?: readonly CollectionDeclaration[]; roles?: Record<string, string> };
  redis?: { url: string; options?: RedisOptions; markers?: { db: number; key: string; name: string }[]; roles?: Record<string, string> };
  /** Days before a certificate's expiry that warn. Default 30. */
  certificateWarnDays?: number;
  /** Seconds a transaction may run before it warns. Default 300. */
  longTransactionSeconds?: number;
  now?: Date;
}

/** PostgreSQL majors and the month their community support ends. */
const PG_END_OF_LIFE: Record<number, string> = { 11: "2023-11", 12: "2024-11", 13: "2025-11", 14: "2026-11", 15: "2027-11", 16: "2028-11", 17: "2029-11", 18: "2030-11" };

function certificateCheck(store: Check["store"], cert: PeerCertificate | undefined, warnDays: number, now: Date): Check {
  if (!cert || !cert.valid_to) return { store, check: "TLS certificate", status: "WARN", detail: "the server sent no certificate", next: "check the server's TLS configuration" };
  const expires = new Date(cert.valid_to);
  const days = Math.floor((expires.getTime() - now.getTime()) / 86_400_000);
  const subject = typeof cert.subject?.CN === "string" ? cert.subject.CN : "server";
  if (days < 0) return { store, check: "TLS certificate", status: "FAIL", detail: `${subject}: expired on ${expires.toISOString().slice(0, 10)}`, next: "renew it: `pulumi up` regenerates the stack's certificates (tls.mode generate)" };
  if (days < warnDays) return { store, check: "TLS certificate", status: "WARN", detail: `${subject}: expires in ${days} days (${expires.toISOString().slice(0, 10)})`, next: "renew it before then (`pulumi up` with tls.mode generate, or your CA)" };
  return { store, check: "TLS certificate", status: "OK", detail: `${subject}: valid until ${expires.toISOString().slice(0, 10)} (${days} days)` };
}

/** The peer certificate of a plain TLS endpoint (Mongo with tls=true, rediss://). */
function peerCertificate(host: string, port: number, ca?: string | Buffer): Promise<PeerCertificate | undefined> {
  return new Promise((resolve) => {
    const s: TLSSocket = tlsConnect({ host, port, servername: /^[\d.]+$/.test(host) ? undefined : host, ca, rejectUnauthorized: false, timeout: 5000 }, () => {
      const c = s.getPeerCertificate();
      s.end();
      resolve(c && Object.keys(c).length ? c : undefined);
    });
    s.on("error", () => resolve(undefined));
    s.on("timeout", () => {
      s.destroy();
      resolve(undefined);
    });
  });
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host.startsWith("127.") || host === "::1" || host === "[::1]";
}

export async function doctor(input: DoctorInput): Promise<Check[]> {
  const checks: Check[] = [];
  const now = input.now ?? new Date();
  const warnDays = input.certificateWarnDays ?? 30;
  if (input.postgres) checks.push(...(await postgresChecks(input.postgres, { now, warnDays, longTx: input.longTransactionSeconds ?? 300 })));
  if (input.mongo) checks.push(...(await mongoChecks(input.mongo, { now, warnDays })));
  if (input.redis) checks.push(...(await redisChecks(input.redis, { now, warnDays })));
  return checks;
}

async function roleLogins(store: Check["store"], roles: Record<string, string> | undefined, tryLogin: (url: string) => Promise<void>): Promise<Check[]> {
  const out: Check[] = [];
  for (const [role, url] of Object.entries(roles ?? {})) {
    try {
      await tryLogin(url);
      out.push({ store, check: `login ${role}`, status: "OK", detail: "authenticated" });
    } catch (e) {
      out.push({ store, check: `login ${role}`, status: "FAIL", detail: (e as Error).message.split("\n")[0], next: "check the role's password in the stack secrets and re-run `pulumi up`, which sets it" });
    }
  }
  return out;
}

async function postgresChecks(pg: NonNullable<DoctorInput["postgres"]>, o: { now: Date; warnDays: number; longTx: number }): Promise<Check[]> {
  const checks: Check[] = [];
  const S = "postgres" as const;
  const where = redactUrl(pg.url);
  let client: Client;
  try {
    client = await pgConnect(pg.url, "doctor");
  } catch (e) {
    return [{ store: S, check: "reachable", status: "FAIL", detail: (e as Error).message, next: `\`pg_isready -h <host> -p <port>\`; check the server runs, the host/port/firewall, and the password (${where})` }];
  }
  try {
    checks.push({ store: S, check: "reachable", status: "OK", detail: where });
    const v = (await client.query<{ v: string; n: string }>("SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS n")).rows[0];
    const major = Math.floor(Number(v.n) / 10000);
    const eol = PG_END_OF_LIFE[major];
    checks.push(
      eol && eol <= o.now.toISOString().slice(0, 7)
        ? { store: S, check: "version", status: "WARN", detail: `PostgreSQL ${v.v}: community support ended ${eol}`, next: `upgrade to a supported major (16 or newer)` }
        : { store: S, check: "version", status: "OK", detail: `PostgreSQL ${v.v}` },
    );
    try {
      const tool = findPgTool("pg_dump", major);
      checks.push({ store: S, check: "backup tools", status: "OK", detail: `pg_dump ${tool.version} (${tool.path})` });
    } catch (e) {
      checks.push({ store: S, check: "backup tools", status: "WARN", detail: (e as Error).message, next: "`nexus-db backup` needs it" });
    }

    // TLS: what this very connection negotiated, and the certificate the server presented.
    const ssl = (await client.query<{ ssl: boolean; version: string | null }>("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).rows[0];
    const host = new URL(pg.url).hostname;
    if (ssl?.ssl) {
      checks.push({ store: S, check: "TLS", status: "OK", detail: `${ssl.version}` });
      const stream = (client as unknown as { connection?: { stream?: TLSSocket } }).connection?.stream;
      checks.push(certificateCheck(S, typeof stream?.getPeerCertificate === "function" ? stream.getPeerCertificate() : undefined, o.warnDays, o.now));
    } else {
      checks.push(
        isLoopback(host)
          ? { store: S, check: "TLS", status: "OK", detail: "not encrypted (loopback connection)" }
          : { store: S, check: "TLS", status: "WARN", detail: "this connection is not encrypted", next: "use sslmode=verify-full with the stack's CA (`npm run env` writes it)" },
      );
    }

    checks.push(...(await roleLogins(S, pg.roles, async (url) => {
      const c = await pgConnect(url, "doctor login");
      await c.end();
    })));

    const conn = (await client.query<{ used: string; max: string; reserved: string }>(
      "SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS used, current_setting('max_connections') AS max, current_setting('superuser_reserved_connections') AS reserved",
    )).rows[0];
    const avail = Number(conn.max) - Number(conn.reserved);
    const ratio = Number(conn.used) / avail;
    const connDetail = `${conn.used} of ${avail} connections in use (max_connections ${conn.max}, ${conn.reserved} reserved)`;
    checks.push(
      ratio >= 0.95
        ? { store: S, check: "connections", status: "FAIL", detail: connDetail, next: "find the holders: `nexus-db stats` / SELECT usename, application_name, state, count(*) FROM pg_stat_activity GROUP BY 1,2,3; lower pool sizes or raise max_connections (postgres.poolMaxConnections × services)" }
        : ratio >= 0.8
          ? { store: S, check: "connections", status: "WARN", detail: connDetail, next: "SELECT usename, application_name, state, count(*) FROM pg_stat_activity GROUP BY 1,2,3; size the pools (postgres.poolMaxConnections, postgres.services)" }
          : { store: S, check: "connections", status: "OK", detail: connDetail },
    );

    const long = (await client.query<{ pid: number; usename: string | null; state: string; secs: string; query: string }>(
      `SELECT pid, usename, state, extract(epoch FROM now() - xact_start)::int AS secs, left(query, 80) AS query
         FROM pg_stat_activity
        WHERE xact_start IS NOT NULL AND now() - xact_start > make_interval(secs => $1) AND pid <> pg_backend_pid() AND backend_type = 'client backend'
        ORDER BY xact_start`,
      [o.longTx],
    )).rows;
    checks.push(
      long.length
        ? { store: S, check: "long transactions", status: "WARN", detail: long.map((l) => `pid ${l.pid} (${l.usename}, ${l.state}) open ${l.secs} s: ${l.query}`).join("; "), next: "end them if they are stuck: SELECT pg_cancel_backend(pid) (or pg_terminate_backend); they hold back vacuum and block DDL" }
        : { store: S, check: "long transactions", status: "OK", detail: `none open longer than ${o.longTx} s` },
    );
    const waits = (await client.query<{ pid: number; blockers: number[]; secs: string; query: string }>(
      `SELECT pid, pg_blocking_pids(pid) AS blockers, extract(epoch FROM now() - query_start)::int AS secs, left(query, 80) AS query
         FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND cardinality(pg_blocking_pids(pid)) > 0`,
    )).rows;
    checks.push(
      waits.length
        ? { store: S, check: "lock waits", status: "WARN", detail: waits.map((w) => `pid ${w.pid} waits ${w.secs} s on ${w.blockers.join(", ")}: ${w.query}`).join("; "), next: "look at the blockers in pg_stat_activity; end one with SELECT pg_terminate_backend(pid) if it is stuck" }
        : { store: S, check: "lock waits", status: "OK", detail: "no session waits for a lock" },
    );

    if (pg.migrations) {
      const { plan } = await planAgainstDatabase({ connection: pg.url, source: pg.migrations, settings: { historyTable: pg.historyTable } });
      const drift = [...plan.checksumFailures.map((f) => f.message), ...plan.missing.map((m) => `applied migration ${m.version} ${m.name} has no file`)];
      if (drift.length) checks.push({ store: S, check: "migration drift", status: "FAIL", detail: drift.join("; "), next: "restore the original file, or accept a harmless edit with postgres.migrations.repairChecksums" });
      else if (plan.toApply.length) checks.push({ store: S, check: "migrations", status: "WARN", detail: `${plan.toApply.length} pending: ${plan.toApply.map((m) => m.name).join(", ")} (at version ${plan.currentVersion ?? "none"})`, next: "`pulumi up` (or `nexus-db pg migrate`) applies them" });
      else checks.push({ store: S, check: "migrations", status: "OK", detail: `at version ${plan.currentVersion ?? "none"}, nothing pending, checksums match` });
    }
  } catch (e) {
    checks.push({ store: S, check: "queries", status: "FAIL", detail: (e as Error).message, next: "the role needs to read pg_stat_activity and the history table (connect as the owner or admin)" });
  } finally {
    await client.end().catch(() => undefined);
  }
  return checks;
}

async function mongoChecks(m: NonNullable<DoctorInput["mongo"]>, o: { now: Date; warnDays: number }): Promise<Check[]> {
  const S = "mongo" as const;
  const checks: Check[] = [];
  let client: MongoClient;
  try {
    client = await connectMongo(m.url, m.tls, { serverSelectionTimeoutMS: 5000 });
    await client.db("admin").command({ ping: 1 });
  } catch (e) {
    return [{ store: S, check: "reachable", status: "FAIL", detail: (e as Error).message, next: "`mongosh --eval \"db.adminCommand('ping')\"`; check the server runs, host/port, TLS options and the password" }];
  }
  try {
    checks.push({ store: S, check: "reachable", status: "OK", detail: redactMongoUrl(m.url) });
    const build = (await client.db("admin").command({ buildInfo: 1 })) as { version?: string; ferretdbVersion?: string };
    checks.push({ store: S, check: "version", status: "OK", detail: build.ferretdbVersion ? `FerretDB ${build.ferretdbVersion} (reports MongoDB ${build.version})` : `MongoDB ${build.version}` });
    const u = new URL(m.url.replace(/^mongodb\+srv:/, "mongodb:"));
    if (m.tls?.enabled || /[?&](tls|ssl)=true/.test(m.url)) {
      checks.push({ store: S, check: "TLS", status: "OK", detail: "required by the URL" });
      checks.push(certificateCheck(S, await peerCertificate(u.hostname, Number(u.port || 27017)), o.warnDays, o.now));
    } else if (isLoopback(u.hostname)) checks.push({ store: S, check: "TLS", status: "OK", detail: "not encrypted (loopback connection)" });
    else checks.push({ store: S, check: "TLS", status: "WARN", detail: "the URL does not ask for TLS", next: "add tls=true and the stack's CA (tlsCAFile)" });
    checks.push(...(await roleLogins(S, m.roles, async (url) => {
      const c = await connectMongo(url, m.tls, { serverSelectionTimeoutMS: 5000 });
      try {
        await c.db("admin").command({ ping: 1 });
      } finally {
        await c.close();
      }
    })));

    try {
      const status = (await client.db("admin").command({ serverStatus: 1 })) as { connections?: { current: number; available: number } };
      const c = status.connections;
      if (!c) checks.push({ store: S, check: "connections", status: "OK", detail: "the server does not report connection use" });
      else {
        const ratio = c.current / (c.current + c.available);
        const detail = `${c.current} in use, ${c.available} available`;
        checks.push(ratio >= 0.9 ? { store: S, check: "connections", status: "WARN", detail, next: "db.serverStatus().connections; lower the clients' pool sizes" } : { store: S, check: "connections", status: "OK", detail });
      }
    } catch (e) {
      checks.push({ store: S, check: "connections", status: "WARN", detail: `serverStatus refused: ${(e as Error).message.split("\n")[0]}`, next: "run doctor with a user that has clusterMonitor" });
    }

    if (m.collections) {
      const r = new MongoReconciler({ client, database: m.database, collections: m.collections });
      const plan = await r.plan();
      if (plan.conflicts.length) checks.push({ store: S, check: "collections and indexes", status: "FAIL", detail: plan.conflicts.join("; "), next: "resolve the conflicts (see `nexus-db mongo plan`)" });
      else if (plan.actions.length) checks.push({ store: S, check: "collections and indexes", status: "WARN", detail: `${plan.actions.length} differences from mongo/: ${plan.actions.join("; ")}`, next: "`pulumi up` (or `nexus-db mongo apply`) converges them" });
      else checks.push({ store: S, check: "collections and indexes", status: "OK", detail: `${plan.managed.collections.length} collections and ${plan.managed.indexes.length} indexes as declared` });
      if (plan.unsupported.length) checks.push({ store: S, check: "server features", status: "WARN", detail: plan.unsupported.map((x) => x.text).join("; "), next: "use a real MongoDB where validators and TTL indexes matter" });
    }
  } finally {
    await client.close().catch(() => undefined);
  }
  return checks;
}

async function redisChecks(rd: NonNullable<DoctorInput["redis"]>, o: { now: Date; warnDays: number }): Promise<Check[]> {
  const S = "redis" as const;
  const checks: Check[] = [];
  let r;
  try {
    r = await redisClient({ url: rd.url, options: rd.options });
    await r.ping();
  } catch (e) {
    r?.disconnect();
    return [{ store: S, check: "reachable", status: "FAIL", detail: (e as Error).message, next: "`redis-cli -h <host> -p <port> ping`; check the server runs, the host/port and the user's password" }];
  }
  try {
    checks.push({ store: S, check: "reachable", status: "OK", detail: redactRedisUrl(rd.url) });
    const info = await redisInfo(r);
    checks.push({ store: S, check: "version", status: "OK", detail: `Redis ${info.get("redis_version")} (${info.get("redis_mode") ?? "standalone"})` });
    const u = new URL(rd.url);
    if (rd.url.startsWith("rediss:")) {
      checks.push({ store: S, check: "TLS", status: "OK", detail: "rediss://" });
      checks.push(certificateCheck(S, await peerCertificate(u.hostname, Number(u.port || 6379)), o.warnDays, o.now));
    } else if (isLoopback(u.hostname)) checks.push({ store: S, check: "TLS", status: "OK", detail: "not encrypted (loopback connection)" });
    else checks.push({ store: S, check: "TLS", status: "WARN", detail: "redis:// is not encrypted", next: "use rediss:// with the stack's CA" });
    checks.push(...(await roleLogins(S, rd.roles, async (url) => {
      const c = await redisClient({ url, options: rd.options });
      try {
        await c.ping();
      } finally {
        c.disconnect();
      }
    })));

    const used = Number(info.get("used_memory"));
    const max = Number(info.get("maxmemory"));
    const policy = info.get("maxmemory_policy") ?? "?";
    const human = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
    if (!max) checks.push({ store: S, check: "memory", status: "WARN", detail: `${human(used)} used, no maxmemory (policy ${policy})`, next: "set maxmemory (redis.settings) so the cache evicts instead of the host running out of memory" });
    else {
      const ratio = used / max;
      const detail = `${human(used)} of ${human(max)} (${Math.round(ratio * 100)}%), policy ${policy}`;
      if (ratio >= 0.9 && policy === "noeviction") checks.push({ store: S, check: "memory", status: "FAIL", detail, next: "writes will fail at the limit: raise maxmemory or use an eviction policy (allkeys-lru)" });
      else if (ratio >= 0.9) checks.push({ store: S, check: "memory", status: "WARN", detail, next: "near the limit: keys are being evicted; raise maxmemory or look at `nexus-db stats` for the biggest databases" });
      else checks.push({ store: S, check: "memory", status: "OK", detail });
    }
    const evicted = Number(info.get("evicted_keys") ?? 0);
    checks.push(
      evicted > 0
        ? { store: S, check: "evictions", status: "WARN", detail: `${evicted} keys evicted since the server started`, next: "the cache is too small for its working set: raise maxmemory; re-warm with `nexus-db redis warm`" }
        : { store: S, check: "evictions", status: "OK", detail: "no key evicted since the server started" },
    );
    const clients = Number(info.get("connected_clients"));
    const maxClients = Number(info.get("maxclients"));
    if (maxClients && clients / maxClients >= 0.8) checks.push({ store: S, check: "connections", status: "WARN", detail: `${clients} of ${maxClients} clients`, next: "CLIENT LIST; lower the pools or raise maxclients" });
    else checks.push({ store: S, check: "connections", status: "OK", detail: `${clients} clients connected${maxClients ? ` of ${maxClients}` : ""}` });

    for (const m of rd.markers ?? []) {
      const c: Redis = m.db === 0 ? r : await redisClient({ url: rd.url, options: rd.options }, m.db);
      try {
        const raw = await c.get(m.key);
        if (raw === null) {
          checks.push({ store: S, check: `warm marker DB ${m.db}`, status: "WARN", detail: `${m.name}: no warmup marker (${await c.dbsize()} keys; flushed, evicted, or never warmed)`, next: "`nexus-db redis warm` (or `pulumi up`) re-warms it" });
        } else {
          let version = "unreadable";
          try {
            const j = JSON.parse(raw) as { version?: string; warmedAt?: string };
            version = `version ${j.version?.slice(0, 12)}, warmed ${j.warmedAt}`;
          } catch {
            // reported as unreadable
          }
          checks.push({ store: S, check: `warm marker DB ${m.db}`, status: version === "unreadable" ? "WARN" : "OK", detail: `${m.name}: ${version}`, next: version === "unreadable" ? "`nexus-db redis warm --force` rewrites it" : undefined });
        }
      } catch (e) {
        checks.push({ store: S, check: `warm marker DB ${m.db}`, status: "WARN", detail: `cannot read it: ${(e as Error).message.split("\n")[0]}`, next: "run doctor with a Redis user that may read the warmup marker (the warmup or admin user)" });
      } finally {
        if (c !== r) c.disconnect();
      }
    }
  } finally {
    r.disconnect();
  }
  return checks;
}

/** The exit status of a doctor run: 1 when any check failed. */
export function doctorExitCode(checks: readonly Check[]): number {
  return checks.some((c) => c.status === "FAIL") ? 1 : 0;
}
