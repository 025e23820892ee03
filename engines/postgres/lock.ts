// One applier at a time: a session-level advisory lock, so it spans the per-migration transactions
// and no-transaction migrations, and dies with the connection (no stale lock after a crash).
import { createHash } from "node:crypto";
import type { Client } from "pg";
import { MigrationError } from "./errors";

/** The advisory lock key of a history table: positive 63-bit, stable across versions of nexus-db. */
export function lockKey(historyTable: string): bigint {
  const h = createHash("sha256").update(`nexus-db:migrations:${historyTable}`).digest();
  return h.readBigUInt64BE(0) & 0x7fffffffffffffffn;
}

export interface LockHolder {
  pid: number;
  user: string | null;
  application: string | null;
  clientAddr: string | null;
  backendStart: Date | null;
  state: string | null;
  query: string | null;
}

/** Who holds the lock, from pg_locks and pg_stat_activity. */
export async function lockHolder(client: Client, key: bigint): Promise<LockHolder | undefined> {
  const r = await client.query<{ pid: number; usename: string | null; application_name: string | null; client_addr: string | null; backend_start: Date | null; state: string | null; query: string | null }>(
    `SELECT a.pid, a.usename, a.application_name, a.client_addr::text, a.backend_start, a.state, a.query
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid
      LIMIT 1`,
    [(key >> 32n).toString(), (key & 0xffffffffn).toString()],
  );
  const h = r.rows[0];
  return h && { pid: h.pid, user: h.usename, application: h.application_name, clientAddr: h.client_addr, backendStart: h.backend_start, state: h.state, query: h.query };
}

export function describeHolder(h: LockHolder): string {
  const q = h.query ? h.query.replace(/\s+/g, " ").trim() : "";
  return [
    `pid ${h.pid}`,
    h.application ? `application "${h.application}"` : undefined,
    h.user ? `user ${h.user}` : undefined,
    h.clientAddr ? `from ${h.clientAddr}` : undefined,
    h.backendStart ? `connected since ${h.backendStart.toISOString()}` : undefined,
    h.state ? `state ${h.state}` : undefined,
    q ? `last query "${q.length > 80 ? `${q.slice(0, 79)}…` : q}"` : undefined,
  ]
    .filter(Boolean)
    .join(", ");
}

/**
 * Takes the lock, waiting at most `timeoutMs`; the error names the holder.
 *
 * Waits by polling `pg_try_advisory_lock` rather than blocking in `pg_advisory_lock`: a session
 * blocked in that SELECT holds a snapshot, and the holder's `CREATE INDEX CONCURRENTLY` waits for
 * every older snapshot, so the two would deadlock (flyway #1654 is this bug with a table lock).
 * Between polls the waiter holds nothing.
 */
export async function acquireMigrationLock(client: Client, historyTable: string, timeoutMs: number): Promise<bigint> {
  const key = lockKey(historyTable);
  const deadline = Date.now() + timeoutMs;
  for (let pause = 20; ; pause = Math.min(pause * 2, 500)) {
    const r = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1::bigint) AS ok", [key.toString()]);
    if (r.rows[0].ok) return key;
    const left = deadline - Date.now();
    if (left <= 0) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
  }
  const holder = await lockHolder(client, key).catch(() => undefined);
  throw new MigrationError(
    "lock",
    `could not take the migration lock for ${historyTable} within ${timeoutMs} ms: ` +
      (holder ? `held by ${describeHolder(holder)}` : "its holder has just let go (try again)") +
      `. Another migrate is running: wait for it to finish` +
      (holder ? `, or, if that session is stuck, end it with SELECT pg_terminate_backend(${holder.pid})` : "") +
      `; a longer wait is the setting lockTimeoutMs.`,
    { sqlstate: "55P03" }, // lock_not_available, as a server-side lock_timeout would report
  );
}

export async function releaseMigrationLock(client: Client, key: bigint): Promise<void> {
  await client.query("SELECT pg_advisory_unlock($1::bigint)", [key.toString()]);
}
