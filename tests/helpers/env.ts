// Where the tests find their servers. scripts/test.sh exports these from scripts/services.sh;
// the defaults are the private instances that script starts.
import { randomBytes } from "node:crypto";

export const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:55432/postgres";
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:56379";
export const MONGODB_URL = process.env.MONGODB_URL ?? "mongodb://127.0.0.1:57017/";

/** A short random suffix for database names, key prefixes and stack names of one test. */
export function uniqueSuffix(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}

/** The URL of `DATABASE_URL`'s server with another database name. */
export function pgUrlFor(database: string, base: string = DATABASE_URL): string {
  const u = new URL(base);
  u.pathname = `/${database}`;
  return u.toString();
}
