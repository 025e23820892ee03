// Where the day-2 commands (backup, restore, doctor, stats) find the stores: URLs given with
// `--url` (the scheme says which store), the environment (`--env`: DATABASE_URL, MONGODB_URL,
// REDIS_URL; `--env-file` fills it), or a deployed stack's outputs (`--stack S`, read with the
// pulumi CLI as `npm run env` does); and the CA they trust: `--ca`, else the stack's, else
// NEXUS_DB_CA_FILE. Nothing here connects; it only resolves.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { databaseFromUrl } from "../engines/mongo/connection";
import type { StoreTargets } from "../engines/backup";
import { buildKeyspaceLayout } from "../engines/redis/keyspace";
import { markerKey, warmupDatabases } from "../engines/redis/warmup-spec";
import { KEYSPACE } from "../redis/layout";
import { WARMUP_SPEC } from "../redis/warmup";
import { readStackOutputs, type StackOutputs } from "../scripts/env-file";
import { CA_OPTION, CA_USAGE, caFile } from "./tls";

export class UsageError extends Error {}

export const TARGET_OPTIONS = {
  url: { type: "string", multiple: true },
  env: { type: "boolean" },
  stack: { type: "string", short: "s" },
  "mongo-database": { type: "string" },
  "history-table": { type: "string" },
  json: { type: "boolean" },
  ...CA_OPTION,
} as const;

export const TARGET_USAGE = `where the stores are (any mix; each store at most once):
  --url URL                 a store by its URL: postgres://…, mongodb://…, redis://… or rediss://… (repeatable)
  --env                     the URLs in DATABASE_URL, MONGODB_URL and REDIS_URL
  --env-file FILE           the .env of \`npm run env\`: its URLs (as --env) and its CA
  --stack S                 the URLs a deployed stack exports (PostgreSQL as the schema owner)
  --mongo-database NAME     MongoDB database (default: the URL's path, else nexus_security)
  --history-table S.T       the migration history table (default public.schema_migrations)
${CA_USAGE.replace("(default:", "(default: the stack's CA with --stack, else")}`;

export interface ResolvedTargets {
  targets: StoreTargets;
  /** Where they came from, for messages: "stack dev", "URLs". */
  source: string;
  stack?: string;
  /** With --stack: each role's URL per store (role → URL), for the doctor's login checks. */
  roleUrls: { postgres?: Record<string, string>; mongo?: Record<string, string>; redis?: Record<string, string> };
  /** Removes temporary files (a stack's CA). */
  cleanup(): void;
}

function storeOf(url: string): "postgres" | "mongo" | "redis" {
  if (/^postgres(ql)?:\/\//.test(url)) return "postgres";
  if (/^mongodb(\+srv)?:\/\//.test(url)) return "mongo";
  if (/^rediss?:\/\//.test(url)) return "redis";
  throw new UsageError(`--url ${url.replace(/\/\/[^@/]*@/, "//***@")}: not a postgres://, mongodb:// or redis:// URL`);
}

/** The warmup marker key of every logical database the warmup writes (what the manifest and doctor read). */
export function warmupMarkers(): { db: number; key: string; name: string }[] {
  const layout = buildKeyspaceLayout(KEYSPACE);
  return warmupDatabases(WARMUP_SPEC).map((name) => ({ name, db: layout.database(name).db, key: markerKey(layout, name) }));
}

/** A bad file named on the command line (or in the environment) is a usage error: exit status 2. */
function asUsageError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function resolveTargets(o: { url?: string[]; env?: boolean; stack?: string; "mongo-database"?: string; "history-table"?: string; ca?: string }, projectDir: string): ResolvedTargets {
  const urls: Partial<Record<"postgres" | "mongo" | "redis", string>> = {};
  const put = (url: string | undefined) => {
    if (!url) return;
    const store = storeOf(url);
    if (urls[store]) throw new UsageError(`two ${store} URLs given: one per store`);
    urls[store] = url;
  };
  let tmp: string | undefined;
  // An explicit --ca wins; then the stack's CA (below); then NEXUS_DB_CA_FILE.
  let ca = o.ca === undefined ? undefined : asUsageError(() => caFile(o.ca));
  let source = "URLs";
  const roles: ResolvedTargets["roleUrls"] = {};
  if (o.stack) {
    const out: StackOutputs = readStackOutputs(o.stack, projectDir);
    const roleUrls = (out.urls ?? {}) as Record<string, string>;
    const pick = (names: Record<string, string>) => Object.fromEntries(Object.entries(names).filter(([, k]) => roleUrls[k]).map(([role, k]) => [role, roleUrls[k]]));
    roles.postgres = pick({ owner: "postgresOwner", app: "postgresApp", readonly: "postgresReadonly" });
    roles.mongo = pick({ app: "mongoApp", analytics: "mongoAnalytics" });
    roles.redis = pick({ app: "redisApp", readonly: "redisReadonly", warmup: "redisWarmup" });
    put(roleUrls.postgresOwner ?? out.DATABASE_URL);
    put(out.MONGODB_URL);
    put(out.REDIS_URL);
    if (out.caCertPem && !ca) {
      tmp = mkdtempSync(path.join(tmpdir(), "nexus-db-ca-"));
      ca = path.join(tmp, "ca.pem");
      writeFileSync(ca, String(out.caCertPem), { mode: 0o600 });
    }
    source = `stack ${o.stack}`;
  }
  if (o.env) {
    put(process.env.DATABASE_URL);
    put(process.env.MONGODB_URL);
    put(process.env.REDIS_URL);
    if (!o.stack) source = "environment";
  }
  for (const u of o.url ?? []) put(u);
  ca ??= asUsageError(() => caFile(undefined));
  const targets: StoreTargets = {};
  if (urls.postgres) {
    let url = urls.postgres;
    if (ca) {
      const u = new URL(url);
      if ((u.searchParams.get("sslmode") ?? "disable") !== "disable" && !u.searchParams.get("sslrootcert")) u.searchParams.set("sslrootcert", ca);
      url = u.toString();
    }
    targets.postgres = { url, historyTable: o["history-table"] };
  }
  if (urls.mongo) {
    const tlsOn = /[?&](tls|ssl)=true/.test(urls.mongo);
    targets.mongo = {
      url: urls.mongo,
      database: o["mongo-database"] ?? databaseFromUrl(urls.mongo) ?? "nexus_security",
      tls: ca && tlsOn ? { enabled: true, caFile: ca } : undefined,
    };
  }
  if (urls.redis) {
    targets.redis = {
      url: urls.redis,
      options: ca && urls.redis.startsWith("rediss:") ? { tls: { ca: readFileSync(ca, "utf8") } } : undefined,
      markers: warmupMarkers(),
    };
  }
  return { targets, source, stack: o.stack, roleUrls: roles, cleanup: () => tmp && rmSync(tmp, { recursive: true, force: true }) };
}

/**
 * The archive key: --key-file, else $NEXUS_BACKUP_KEY, else (with --stack) the stack's secret
 * `backupKey` (`pulumi config set --secret backupKey …`).
 */
export function resolveKey(o: { "key-file"?: string; stack?: string }, projectDir: string): string {
  if (o["key-file"]) {
    try {
      return readFileSync(o["key-file"], "utf8").trim();
    } catch (e) {
      throw new UsageError(`--key-file ${o["key-file"]}: ${(e as Error).message}`);
    }
  }
  if (process.env.NEXUS_BACKUP_KEY) return process.env.NEXUS_BACKUP_KEY;
  if (o.stack) {
    const script = '. "$0/scripts/env.sh" && exec pulumi config get backupKey --stack "$1"';
    try {
      return execFileSync("bash", ["-c", script, projectDir, o.stack], { cwd: projectDir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new UsageError(
        `stack ${o.stack} has no backupKey secret (${(err.stderr || err.message).trim().split("\n")[0]}): set one with \`pulumi config set --secret backupKey "$(npx nexus-db backup-key)" --stack ${o.stack}\`, or give --key-file / NEXUS_BACKUP_KEY`,
      );
    }
  }
  throw new UsageError("no backup key: give --key-file FILE, set NEXUS_BACKUP_KEY, or use --stack with its backupKey secret");
}

export function fail(command: string, err: unknown): number {
  console.error(`nexus-db ${command}: ${err instanceof Error ? err.message : String(err)}`);
  return err instanceof UsageError ? 2 : 1;
}

export function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (c ?? "").padEnd(widths[i])).join("  ").trimEnd();
  return [line(head), ...rows.map(line)].join("\n");
}
