// The Redis part of a backup: every key of every logical database, found with SCAN (never KEYS,
// which blocks the server), read with DUMP and its absolute expiry in pipelines, and written back
// with RESTORE … ABSTTL in pipelines. DUMP's payload carries the type and the value exactly.
//
// Record in a part:  key length (u32) | key | expiry (i64 ms since epoch, -1 = none) | payload length (u32) | payload
import Redis, { type RedisOptions } from "ioredis";
import { ByteQueue } from "./crypto";
import type { ArchiveWriter, PartReader } from "./container";

export interface RedisManifest {
  server: string;
  version: string;
  databases: { db: number; keys: number; part: string }[];
  /** The warmup markers found (logical database, key, value): which warmup version the cache held. */
  markers: { db: number; key: string; value: string }[];
  usedMemoryBytes?: number;
}

export class RedisBackupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RedisBackupError";
  }
}

export interface RedisTarget {
  url: string;
  /** Extra client options (TLS CA, …). */
  options?: RedisOptions;
}

export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(redis url)";
  }
}

/** A client on logical database `db`, failing fast instead of retrying forever. */
export async function redisClient(t: RedisTarget, db?: number): Promise<Redis> {
  const r = new Redis(t.url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => null, ...(db === undefined ? {} : { db }), ...t.options });
  r.on("error", () => undefined);
  try {
    await r.connect();
  } catch (err) {
    r.disconnect();
    throw new RedisBackupError(`cannot connect to Redis at ${redactRedisUrl(t.url)}: ${(err as Error).message}`, { cause: err });
  }
  return r;
}

/** INFO as a map of field → value. */
export async function redisInfo(r: Redis, section?: string): Promise<Map<string, string>> {
  const text = section ? await r.info(section) : await r.info();
  const m = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i > 0 && !line.startsWith("#")) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

/** Databases holding keys, from INFO keyspace (CONFIG is often refused on managed services). */
export async function databasesWithKeys(r: Redis): Promise<{ db: number; keys: number }[]> {
  const info = await redisInfo(r, "keyspace");
  const out: { db: number; keys: number }[] = [];
  for (const [k, v] of info) {
    const m = /^db(\d+)$/.exec(k);
    const keys = /keys=(\d+)/.exec(v);
    if (m && keys) out.push({ db: Number(m[1]), keys: Number(keys[1]) });
  }
  return out.sort((a, b) => a.db - b.db);
}

function major(version: string): number {
  return Number(version.split(".")[0]) || 0;
}

export interface RedisBackupOptions extends RedisTarget {
  /** Warmup marker keys to record in the manifest (logical database and key). */
  markers?: { db: number; key: string }[];
  /** Keys per SCAN and per pipeline. Default 1000. */
  batchSize?: number;
  onProgress?: (keys: number) => void;
}

/** Streams every key of every database into the open archive, one part per database. */
export async function backupRedis(writer: ArchiveWriter, opts: RedisBackupOptions): Promise<RedisManifest> {
  const batch = opts.batchSize ?? 1000;
  const main = await redisClient(opts);
  try {
    const server = await redisInfo(main, "server");
    const version = server.get("redis_version") ?? "unknown";
    const memory = await redisInfo(main, "memory").catch(() => new Map<string, string>());
    const hasExpireTime = major(version) >= 7;
    const databases: RedisManifest["databases"] = [];
    const markers: RedisManifest["markers"] = [];
    let total = 0;
    for (const { db } of await databasesWithKeys(main)) {
      const r = await redisClient(opts, db);
      const part = `redis/db${db}.dump`;
      await writer.beginPart({ name: part, kind: "redis", meta: { db } });
      let keys = 0;
      try {
        let cursor = "0";
        do {
          const [next, found] = await r.scanBuffer(cursor, "COUNT", batch);
          cursor = next.toString();
          if (found.length === 0) continue;
          const p = r.pipeline();
          for (const k of found) {
            p.dumpBuffer(k);
            if (hasExpireTime) p.call("PEXPIRETIME", k);
            else p.pttl(k);
          }
          if (!hasExpireTime) p.time();
          const replies = (await p.exec()) ?? [];
          const now = hasExpireTime ? 0 : timeMs(replies[replies.length - 1]?.[1]);
          const records: Buffer[] = [];
          for (let i = 0; i < found.length; i++) {
            const [dumpErr, payload] = replies[2 * i] ?? [];
            const [ttlErr, t] = replies[2 * i + 1] ?? [];
            if (dumpErr || ttlErr) throw new RedisBackupError(`DUMP of a key in DB ${db} failed: ${(dumpErr ?? ttlErr)!.message}`);
            if (payload === null || payload === undefined) continue; // expired or deleted since SCAN saw it
            const ttl = Number(t);
            if (ttl === -2) continue;
            const expireAt = ttl < 0 ? -1 : hasExpireTime ? ttl : now + ttl;
            records.push(encodeRecord(found[i], expireAt, payload as Buffer));
            keys++;
          }
          if (records.length) await writer.write(Buffer.concat(records));
          opts.onProgress?.(total + keys);
        } while (cursor !== "0");
        for (const m of opts.markers ?? []) {
          if (m.db !== db) continue;
          const value = await r.get(m.key);
          if (value !== null) markers.push({ db, key: m.key, value });
        }
      } finally {
        r.disconnect();
      }
      await writer.endPart();
      databases.push({ db, keys, part });
      total += keys;
    }
    const used = Number(memory.get("used_memory"));
    return { server: `Redis ${version}`, version, databases, markers, usedMemoryBytes: Number.isFinite(used) ? used : undefined };
  } finally {
    main.disconnect();
  }
}

function timeMs(reply: unknown): number {
  const [s, us] = (reply as [string, string]) ?? ["0", "0"];
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

function encodeRecord(key: Buffer, expireAt: number, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(4 + key.length + 8 + 4 + payload.length);
  b.writeUInt32BE(key.length, 0);
  key.copy(b, 4);
  b.writeBigInt64BE(BigInt(expireAt), 4 + key.length);
  b.writeUInt32BE(payload.length, 12 + key.length);
  payload.copy(b, 16 + key.length);
  return b;
}

/** Keys in the target's databases; a restore refuses any unless told to replace. */
export async function inspectRedisTarget(t: RedisTarget): Promise<{ version: string; databases: { db: number; keys: number }[] }> {
  const r = await redisClient(t);
  try {
    const version = (await redisInfo(r, "server")).get("redis_version") ?? "unknown";
    return { version, databases: await databasesWithKeys(r) };
  } finally {
    r.disconnect();
  }
}

export function checkRedisTarget(url: string, m: RedisManifest, state: { version: string; databases: { db: number; keys: number }[] }, opts: { replace?: boolean }): void {
  if (state.databases.length > 0 && !opts.replace) {
    const list = state.databases.map((d) => `DB ${d.db}: ${d.keys} keys`).join(", ");
    throw new RedisBackupError(`Redis at ${redactRedisUrl(url)} is not empty (${list}): restore into an empty server, or pass --replace to overwrite the keys the archive holds`);
  }
  // DUMP payloads carry the RDB version of the server that made them; an older server refuses them.
  if (major(state.version) < major(m.version)) {
    throw new RedisBackupError(`Redis at ${redactRedisUrl(url)} is version ${state.version}, older than the archive's source (${m.version}): its RESTORE would refuse the payloads. Restore onto Redis ${major(m.version)} or newer`);
  }
}

export interface RedisRestoreOptions extends RedisTarget {
  batchSize?: number;
  onProgress?: (keys: number) => void;
}

/**
 * RESTOREs one database's keys in pipelines, with their absolute expiry. REPLACE is safe here:
 * the target was checked empty (or the operator asked to replace) before the first write.
 */
export async function restoreRedisDatabase(part: PartReader, opts: RedisRestoreOptions): Promise<number> {
  const { db } = part.meta as { db: number };
  const r = await redisClient(opts, db);
  const batch = opts.batchSize ?? 1000;
  let restored = 0;
  try {
    const q = new ByteQueue();
    let p = r.pipeline();
    let queued = 0;
    const flush = async () => {
      if (queued === 0) return;
      const replies = (await p.exec()) ?? [];
      for (const [err] of replies) {
        if (err) throw new RedisBackupError(`RESTORE into DB ${db} failed after ${restored} keys: ${err.message}. Run the restore again with --replace once the server is back`);
      }
      restored += queued;
      queued = 0;
      p = r.pipeline();
      opts.onProgress?.(restored);
    };
    for await (const chunk of part.chunks()) {
      q.push(chunk);
      for (;;) {
        if (q.length < 4) break;
        const keyLen = q.peek(4).readUInt32BE(0);
        if (q.length < 4 + keyLen + 12) break;
        const head = q.peek(4 + keyLen + 12);
        const payloadLen = head.readUInt32BE(4 + keyLen + 8);
        const whole = 4 + keyLen + 12 + payloadLen;
        if (q.length < whole) break;
        const rec = q.take(whole);
        const key = rec.subarray(4, 4 + keyLen);
        const expireAt = Number(rec.readBigInt64BE(4 + keyLen));
        const payload = rec.subarray(16 + keyLen);
        if (expireAt > 0) p.callBuffer("RESTORE", [key, String(expireAt), payload, "ABSTTL", "REPLACE"]);
        else p.callBuffer("RESTORE", [key, "0", payload, "REPLACE"]);
        queued++;
        if (queued >= batch) await flush();
      }
    }
    if (q.length) throw new RedisBackupError(`${part.name}: ${q.length} bytes after the last whole key (damaged archive)`);
    await flush();
  } catch (err) {
    if (err instanceof RedisBackupError) throw err;
    throw new RedisBackupError(`restore into Redis DB ${db} at ${redactRedisUrl(opts.url)} stopped after ${restored} keys: ${(err as Error).message}. Run the restore again with --replace once the server is back`, { cause: err });
  } finally {
    r.disconnect();
  }
  return restored;
}
