// The CA every command trusts: `--ca FILE`, else NEXUS_DB_CA_FILE (what `npm run env` writes into
// .env next to the URLs), else the system's CAs. Applied to each store's connection the way its
// driver takes it: PostgreSQL through `sslrootcert` in the URL, Redis as ioredis `tls.ca`.
import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { parseEnv } from "node:util";
import type { RedisOptions } from "ioredis";

/** The option every store's command line takes. */
export const CA_OPTION = { ca: { type: "string" } } as const;
export const CA_USAGE = "  --ca FILE                 CA certificate (PEM) the servers' certificates are checked against (default: $NEXUS_DB_CA_FILE)";

/** The CA file of a command: `--ca`, else NEXUS_DB_CA_FILE; checked to exist. */
export function caFile(option: string | undefined): string | undefined {
  const file = option ?? (process.env.NEXUS_DB_CA_FILE || undefined);
  if (file !== undefined && !existsSync(file)) {
    throw new Error(`CA file ${file} (${option ? "--ca" : "NEXUS_DB_CA_FILE"}) does not exist: run \`npm run env\` or pass --ca`);
  }
  return file;
}

/** A PostgreSQL URL that verifies against `ca` when it uses TLS and names no CA of its own. */
export function pgUrlWithCa(url: string, ca: string | undefined): string {
  if (!ca) return url;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url; // a key=value connection string: left as given
  }
  if ((u.searchParams.get("sslmode") ?? "disable") === "disable" || u.searchParams.has("sslrootcert")) return url;
  u.searchParams.set("sslrootcert", ca);
  return u.toString();
}

/** ioredis options for a Redis URL; a `rediss://` URL verifies against `ca` (and its host name, when it has one). */
export function redisTarget(url: string, ca: string | undefined): string | RedisOptions {
  const u = new URL(url);
  if (u.protocol !== "rediss:" || !ca) return url;
  const db = u.pathname.replace(/^\//, "");
  return {
    host: u.hostname.replace(/^\[|\]$/g, ""),
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    // SNI only for host names (RFC 6066); the certificate is still checked against the address.
    tls: { ca: readFileSync(ca, "utf8"), ...(isIP(u.hostname) === 0 ? { servername: u.hostname } : {}) },
  };
}

/**
 * `--env-file FILE` anywhere on the command line: its variables (the .env of `npm run env`:
 * DATABASE_URL, MONGODB_URL, REDIS_URL, NEXUS_DB_CA_FILE) fill those the environment lacks — unset
 * or empty, as every command reads them (`--url` falls back to a non-empty DATABASE_URL, the CA to a
 * non-empty NEXUS_DB_CA_FILE). Returns the arguments without the option, and the files read.
 */
export function loadEnvFiles(argv: string[]): { args: string[]; files: string[] } {
  const args: string[] = [];
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    let file: string | undefined;
    if (a === "--env-file") file = argv[++i];
    else if (a.startsWith("--env-file=")) file = a.slice("--env-file=".length);
    else {
      args.push(a);
      continue;
    }
    if (!file || !existsSync(file)) throw new Error(`--env-file: ${file ?? "(no file given)"} does not exist (write it with \`npm run env\`)`);
    for (const [k, v] of Object.entries(parseEnv(readFileSync(file, "utf8")))) {
      if (!process.env[k]) process.env[k] = v;
    }
    files.push(file);
  }
  return { args, files };
}
