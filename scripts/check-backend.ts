// `npx tsx scripts/check-backend.ts <.env> [--state <pulumi stack export file>]`: what a new
// backend service does with the .env that `npm run env` wrote, and nothing else — connect to
// PostgreSQL, MongoDB and Redis with its URLs and CA file, and use them: a query as the app role,
// a ping and the collection list, a write and read under the key prefix. With --state, also check
// that none of the .env's secrets (URL passwords, JWT_SECRET) is in the exported state in plain
// text. Exit 1 naming each failed check. The deploy-test workflow runs it against the dev stack.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { parse } from "dotenv";

export interface CheckResult {
  ok: string[];
  failed: string[];
}

/** The secrets the .env holds: each URL's password and the JWT secret. */
export function envSecrets(vars: Record<string, string>): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  for (const k of ["DATABASE_URL", "MONGODB_URL", "REDIS_URL"]) {
    const m = vars[k] ? /^[a-z+]+:\/\/[^:/@]*:([^@]+)@/.exec(vars[k]) : null;
    if (m) out.push({ name: `${k} password`, value: decodeURIComponent(m[1]) });
  }
  if (vars.JWT_SECRET) out.push({ name: "JWT_SECRET", value: vars.JWT_SECRET });
  return out;
}

export async function checkBackend(vars: Record<string, string>, opts: { state?: string } = {}): Promise<CheckResult> {
  const r: CheckResult = { ok: [], failed: [] };
  const step = async (name: string, fn: () => Promise<string>) => {
    try {
      r.ok.push(`${name}: ${await fn()}`);
    } catch (e) {
      r.failed.push(`${name}: ${(e as Error).message}`);
    }
  };
  const need = (k: string) => {
    if (!vars[k]) throw new Error(`${k} is not set`);
    return vars[k];
  };
  const ca = vars.NEXUS_DB_CA_FILE ? readFileSync(vars.NEXUS_DB_CA_FILE, "utf8") : undefined;

  await step("JWT_SECRET", async () => {
    const n = need("JWT_SECRET").length;
    if (n < 32) throw new Error(`${n} characters (at least 32)`);
    return `${n} characters`;
  });
  await step("PostgreSQL", async () => {
    const { Client } = require("pg") as typeof import("pg");
    const c = new Client({ connectionString: need("DATABASE_URL"), connectionTimeoutMillis: Number(vars.DATABASE_CONNECT_TIMEOUT_SECONDS ?? 30) * 1000 });
    await c.connect();
    try {
      const row = (await c.query<{ who: string; db: string; tables: string }>("SELECT current_user AS who, current_database() AS db, (SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public')::text AS tables")).rows[0];
      return `${row.who}@${row.db}, ${row.tables} tables`;
    } finally {
      await c.end();
    }
  });
  await step("MongoDB", async () => {
    const { MongoClient } = require("mongodb") as typeof import("mongodb");
    const client = new MongoClient(need("MONGODB_URL"), ca && !/[?&]tlsCAFile=/.test(vars.MONGODB_URL) ? { ca } : {});
    await client.connect();
    try {
      const db = client.db(vars.MONGODB_DATABASE || undefined);
      await db.command({ ping: 1 });
      const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
      return `${db.databaseName}, ${names.length} collections`;
    } finally {
      await client.close();
    }
  });
  await step("Redis", async () => {
    const IORedis = (require("ioredis") as typeof import("ioredis")).default;
    const url = need("REDIS_URL");
    const redis = new IORedis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
      // The app user has no INFO (least privilege): ioredis's ready check would only warn.
      enableReadyCheck: false,
      connectTimeout: Number(vars.REDIS_CONNECTION_TIMEOUT_SECONDS ?? 5) * 1000,
      ...(url.startsWith("rediss:") ? { tls: ca ? { ca } : {} } : {}),
    });
    // ioredis reports a refused connection as "Connection is closed"; the socket's own error says why.
    let socketError: Error | undefined;
    redis.on("error", (e: Error) => (socketError = e));
    try {
      await redis.connect().catch((e: Error) => {
        throw socketError && socketError !== e ? new Error(`${e.message} (${socketError.message})`) : e;
      });
      // A key of the temporary-files namespace (DB 4 in standalone mode): the app user may write
      // only inside the layout's namespaces.
      const key = `${vars.REDIS_KEY_PREFIX ?? "nexus:"}tmpfile:deploy-check:${randomBytes(6).toString("hex")}`;
      await redis.set(key, "ok", "EX", 60);
      const got = await redis.get(key);
      await redis.del(key);
      if (got !== "ok") throw new Error(`wrote ${key} and read back ${JSON.stringify(got)}`);
      return `PONG as the app user, wrote and read ${key}`;
    } finally {
      redis.disconnect();
    }
  });
  if (opts.state) {
    await step("state", async () => {
      const text = readFileSync(opts.state!, "utf8");
      const leaked = envSecrets(vars).filter((s) => s.value.length >= 8 && text.includes(s.value)).map((s) => s.name);
      if (leaked.length > 0) throw new Error(`in plain text in ${opts.state}: ${leaked.join(", ")}`);
      return `none of ${envSecrets(vars).length} secrets in plain text`;
    });
  }
  return r;
}

async function main(argv: string[]): Promise<number> {
  const file = argv[0];
  if (!file) {
    console.error("usage: check-backend.ts <.env> [--state <stack export file>]");
    return 2;
  }
  const i = argv.indexOf("--state");
  const vars = parse(readFileSync(file, "utf8"));
  const r = await checkBackend(vars, { state: i >= 0 ? argv[i + 1] : undefined });
  for (const line of r.ok) console.log(`ok      ${line}`);
  for (const line of r.failed) console.error(`FAILED  ${line}`);
  return r.failed.length > 0 ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
