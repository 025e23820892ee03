// Where each warmup write goes, and how it gets there: one pipelined raw-RESP connection per
// target (a numbered database on a standalone server, or a master of a Redis Cluster), batches
// sent per target in parallel with a bounded window, and — on a cluster — keys routed by hash
// slot, with MOVED (slot moved: update the map, resend) and ASK (slot migrating: ASKING + resend
// to the importing node) answered per command. CLUSTERDOWN/TRYAGAIN/LOADING are retried a few
// times with a pause; anything else fails the warmup, naming the key.
import type { RedisOptions } from "ioredis";
import { BulkWriter, encodeCommand, type CommandError } from "./bulk";

const CRC16_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

function crc16(b: Buffer, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ b[i]) & 0xff];
  return crc;
}

/** The hash slot of prefix + buf[start, end), the prefix having no '{' (key prefixes cannot). */
function slotOfParts(prefix: Buffer, buf: Buffer, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    if (buf[i] === 0x7b) {
      for (let j = i + 1; j < end; j++) if (buf[j] === 0x7d) return j > i + 1 ? crc16(buf, i + 1, j) & 16383 : slotOfWhole(prefix, buf, start, end);
      break;
    }
  }
  return slotOfWhole(prefix, buf, start, end);
}

// The CRC state after the last prefix seen: a set's keys share their prefix.
let lastPrefix: Buffer | undefined;
let lastPrefixCrc = 0;

function slotOfWhole(prefix: Buffer, buf: Buffer, start: number, end: number): number {
  let crc = 0;
  if (prefix === lastPrefix) crc = lastPrefixCrc;
  else {
    for (let i = 0; i < prefix.length; i++) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ prefix[i]) & 0xff];
    lastPrefix = prefix;
    lastPrefixCrc = crc;
  }
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ buf[i]) & 0xff];
  return crc & 16383;
}

/** The Redis Cluster hash slot of a key given as bytes (`{hash tags}` honoured). */
export function keySlot(key: Buffer): number {
  const open = key.indexOf(0x7b); // {
  if (open >= 0) {
    const close = key.indexOf(0x7d, open + 1); // }
    if (close > open + 1) return crc16(key, open + 1, close) & 16383;
  }
  return crc16(key, 0, key.length) & 16383;
}

/** The slot ranges of a cluster as CLUSTER SLOTS gives them. */
export type ClusterSlotsReply = [number, number, ...[string, number, ...unknown[]][]][];

interface Batch {
  buf: Buffer;
  len: number;
  /** Start offset of each command in buf. */
  offsets: number[];
}

interface Target {
  address: string;
  writer: BulkWriter;
  batch: Batch;
  inFlight: Promise<void>[];
  /** Replicas of this master (cluster), for WAIT. */
  replicas: number;
  /** Serves slots in the latest slot map (cluster). */
  master: boolean;
  /** Commands acknowledged or sent to this target. */
  used: boolean;
}

/** Bytes in place: buf[start, end). */
export interface Slice {
  buf: Buffer;
  start: number;
  end: number;
}

const EMPTY = Buffer.alloc(0);

const SET3 = Buffer.from("*3\r\n$3\r\nSET\r\n$");
const SET5 = Buffer.from("*5\r\n$3\r\nSET\r\n$");

/** Copies src[start, end) to dst at p (a loop for short runs: Buffer#copy costs more than it moves); returns the new position. */
function put(dst: Buffer, p: number, src: Buffer, start = 0, end = src.length): number {
  if (end - start > 96) return p + src.copy(dst, p, start, end);
  for (let i = start; i < end; i++) dst[p++] = src[i];
  return p;
}

/** Writes a non-negative integer's decimal digits at buf[p]; returns the new position. */
function writeInt(buf: Buffer, p: number, n: number): number {
  if (n < 10) {
    buf[p] = 48 + n;
    return p + 1;
  }
  const s = String(n);
  for (let i = 0; i < s.length; i++) buf[p + i] = s.charCodeAt(i);
  return p + s.length;
}

const RETRYABLE = /^(TRYAGAIN|CLUSTERDOWN|LOADING)\b/;
const REDIRECT = /^(MOVED|ASK) (\d+) (\S+):(\d+)$/;
const ASKING = encodeCommand(["ASKING"]);
const MAX_REDIRECTS = 8;

/** A batch is sent when it holds `batchSize` commands or this many bytes (digest buckets are large commands). */
const BATCH_BYTES = 512 * 1024;

function newBatch(size = 64 * 1024): Batch {
  return { buf: Buffer.allocUnsafe(size), len: 0, offsets: [] };
}

function describe(cmd: Buffer): string {
  const parts = cmd.toString("latin1").split("\r\n");
  return `${parts[2] ?? "?"} ${parts[4] ?? ""}`.trim();
}

export interface RouterOptions {
  /** Connection settings (user, password, TLS); host and port come from the target. */
  redis: RedisOptions;
  /** Commands per batch (one write, one round of replies). */
  batchSize: number;
  /** Batches in flight per target. Default 8. */
  window?: number;
}

/**
 * Routes writes to their targets. `set`/`unlink` only queue (synchronously); the caller awaits
 * `room()` now and then for backpressure and `flush()` at the end; a failed write surfaces there.
 */
export class WriteRouter {
  private readonly targets = new Map<string, Target>();
  private readonly byDb = new Map<number, Target>();
  private slotMap: Target[] = [];
  private failure: Error | undefined;
  private readonly window: number;
  /** Commands queued so far. */
  sent = 0;

  private constructor(private readonly options: RouterOptions, readonly cluster: boolean) {
    this.window = options.window ?? 8;
  }

  /** A router for a standalone server: one connection per database number used. */
  static async standalone(options: RouterOptions, dbs: number[]): Promise<WriteRouter> {
    const r = new WriteRouter(options, false);
    for (const db of [...new Set(dbs)]) {
      const writer = await BulkWriter.connect(options.redis, { db });
      const t = r.target(`db${db}`, writer);
      r.byDb.set(db, t);
    }
    return r;
  }

  /** A router for a cluster, from its CLUSTER SLOTS reply: one connection per master. */
  static async cluster(options: RouterOptions, slots: ClusterSlotsReply): Promise<WriteRouter> {
    const r = new WriteRouter(options, true);
    await r.applySlots(slots);
    return r;
  }

  private target(address: string, writer: BulkWriter): Target {
    const t: Target = { address, writer, batch: newBatch(), inFlight: [], replicas: 0, master: !this.cluster, used: false };
    this.targets.set(address, t);
    return t;
  }

  private async node(host: string, port: number): Promise<Target> {
    const address = `${host}:${port}`;
    const known = this.targets.get(address);
    if (known && !known.writer.failed) return known;
    return this.target(address, await BulkWriter.connect(this.options.redis, { host, port }));
  }

  /** Takes the cluster's current slot map (and replica counts). */
  async applySlots(slots: ClusterSlotsReply): Promise<void> {
    const map: Target[] = new Array(16384);
    for (const t of this.targets.values()) {
      t.replicas = 0;
      t.master = false;
    }
    for (const [from, to, master, ...replicas] of slots) {
      const t = await this.node(String(master[0]), Number(master[1]));
      t.replicas = replicas.length;
      t.master = true;
      for (let s = from; s <= to; s++) map[s] = t;
    }
    this.slotMap = map;
  }

  private pick(db: number, prefix: Buffer, buf: Buffer, start: number, end: number): Target {
    if (!this.cluster) return this.byDb.get(db)!;
    const slot = slotOfParts(prefix, buf, start, end);
    const t = this.slotMap[slot];
    if (!t) throw new Error(`no cluster node serves slot ${slot} (key ${prefix.toString()}${buf.toString("utf8", start, end)}): is every slot assigned?`);
    return t;
  }

  /** Room for `size` more bytes in the target's batch. */
  private reserve(t: Target, size: number): Batch {
    if (this.failure) throw this.failure;
    const b = t.batch;
    if (b.len + size > b.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(b.buf.length * 2, b.len + size));
      b.buf.copy(grown, 0, 0, b.len);
      b.buf = grown;
    }
    b.offsets.push(b.len);
    return b;
  }

  private done(t: Target): void {
    this.sent++;
    if (t.batch.offsets.length >= this.options.batchSize || t.batch.len >= BATCH_BYTES) this.dispatch(t);
  }

  /** SET prefix+key value [PXAT ms], the key and value given in place (buf[start, end)). */
  set(db: number, prefix: Buffer, key: Slice, value: Slice, pxat?: number): void {
    const t = this.pick(db, prefix, key.buf, key.start, key.end);
    const klen = prefix.length + key.end - key.start;
    const vlen = value.end - value.start;
    const px = pxat === undefined ? "" : String(pxat);
    const b = this.reserve(t, 64 + klen + vlen + px.length);
    const buf = b.buf;
    let p = b.len;
    p = put(buf, p, pxat === undefined ? SET3 : SET5);
    p = writeInt(buf, p, klen);
    buf[p++] = 13;
    buf[p++] = 10;
    p = put(buf, p, prefix);
    p = put(buf, p, key.buf, key.start, key.end);
    buf[p++] = 13;
    buf[p++] = 10;
    buf[p++] = 0x24; // $
    p = writeInt(buf, p, vlen);
    buf[p++] = 13;
    buf[p++] = 10;
    p = put(buf, p, value.buf, value.start, value.end);
    buf[p++] = 13;
    buf[p++] = 10;
    if (pxat !== undefined) p += buf.write(`$4\r\nPXAT\r\n$${px.length}\r\n${px}\r\n`, p, "latin1");
    b.len = p;
    this.done(t);
  }

  /** UNLINK key. */
  unlink(db: number, key: Buffer): void {
    this.command(db, key, ["UNLINK", key]);
  }

  /** SET key blob [PXAT ms] (the warmup's own keys: digest buckets). */
  setBlob(db: number, key: Buffer, blob: Buffer, pxat?: number): void {
    this.command(db, key, pxat === undefined ? ["SET", key, blob] : ["SET", key, blob, "PXAT", String(pxat)]);
  }

  /** SETRANGE key offset bytes (a digest record rewritten in its bucket; keeps the key's expiry). */
  setRange(db: number, key: Buffer, offset: number, bytes: Buffer): void {
    this.command(db, key, ["SETRANGE", key, String(offset), bytes]);
  }

  /** APPEND key bytes (a digest bucket written in pieces; APPEND keeps the key's expiry). */
  append(db: number, key: Buffer, bytes: Buffer): void {
    this.command(db, key, ["APPEND", key, bytes]);
  }

  /**
   * Sends a single-key command (one-line reply) to the key's target now, behind what is queued
   * there, and — on a cluster — waits until that master's replicas have it too: the warmup deletes
   * a marker this way, so a master killed afterwards cannot come back through its replica with the
   * old marker over half-written keys.
   */
  async sendDurably(db: number, key: Buffer, args: (string | Buffer)[], timeoutMs: number): Promise<void> {
    if (this.failure) throw this.failure;
    const t = this.pick(db, EMPTY, key, 0, key.length);
    this.dispatch(t);
    const wait = this.cluster && t.replicas > 0;
    const cmd = encodeCommand(args);
    t.used = true;
    const { errors, lines } = await t.writer.send(wait ? Buffer.concat([cmd, encodeCommand(["WAIT", String(t.replicas), String(timeoutMs)])]) : cmd, wait ? 2 : 1, { lines: true });
    if (errors.length > 0) throw new Error(`${describe(cmd)}: ${errors[0].message}`);
    const acked = wait ? Number(lines?.[1]?.slice(1)) : 0;
    if (wait && !(acked >= t.replicas)) throw new Error(`only ${acked} of ${t.replicas} replica(s) of ${t.address} acknowledged ${describe(cmd)} within ${timeoutMs} ms`);
  }

  /** Any single-key command whose reply is one line, routed by `key`. */
  private command(db: number, key: Buffer, args: (string | Buffer)[]): void {
    const t = this.pick(db, EMPTY, key, 0, key.length);
    const size = args.reduce((n, a) => n + 16 + (typeof a === "string" ? Buffer.byteLength(a) : a.length), 16);
    const b = this.reserve(t, size);
    // Written in place (a digest bucket is large: no intermediate copy).
    b.len += b.buf.write(`*${args.length}\r\n`, b.len, "latin1");
    for (const a of args) {
      const arg = typeof a === "string" ? Buffer.from(a) : a;
      b.len += b.buf.write(`$${arg.length}\r\n`, b.len, "latin1");
      b.len += arg.copy(b.buf, b.len);
      b.buf[b.len++] = 13;
      b.buf[b.len++] = 10;
    }
    this.done(t);
  }

  private dispatch(t: Target): void {
    const b = t.batch;
    if (b.offsets.length === 0) return;
    t.batch = newBatch(Math.min(b.buf.length, BATCH_BYTES));
    t.used = true;
    const payload = b.buf.subarray(0, b.len);
    const p = t.writer
      .send(payload, b.offsets.length)
      .then(({ errors }) => this.settle(t, payload, b.offsets, errors, 0))
      .catch((e: unknown) => {
        this.failure ??= e instanceof Error ? e : new Error(String(e));
      });
    t.inFlight.push(p);
  }

  /** Resends what was redirected; throws for any other error. */
  private async settle(origin: Target, payload: Buffer, offsets: number[], errors: CommandError[], depth: number): Promise<void> {
    if (errors.length === 0) return;
    const cmdAt = (i: number) => payload.subarray(offsets[i], i + 1 < offsets.length ? offsets[i + 1] : payload.length);
    const resend = new Map<Target, { parts: Buffer[]; offsets: number[]; len: number }>();
    let pause = false;
    for (const e of errors) {
      const cmd = cmdAt(e.index);
      if (cmd.equals(ASKING)) continue; // its command's own reply says what happened
      const m = REDIRECT.exec(e.message);
      let to: Target | undefined;
      let asking = false;
      if (m && this.cluster) {
        to = await this.node(m[3], Number(m[4]));
        if (m[1] === "MOVED") this.slotMap[Number(m[2])] = to;
        else asking = true;
      } else if (RETRYABLE.test(e.message)) {
        to = origin;
        pause = true;
      }
      if (!to || depth >= MAX_REDIRECTS) {
        throw new Error(`${describe(cmd)}: ${e.message}${depth >= MAX_REDIRECTS ? ` (after ${depth} redirects or retries)` : ""}`);
      }
      let r = resend.get(to);
      if (!r) resend.set(to, (r = { parts: [], offsets: [], len: 0 }));
      for (const part of asking ? [ASKING, cmd] : [cmd]) {
        r.offsets.push(r.len);
        r.parts.push(part);
        r.len += part.length;
      }
    }
    if (pause) await new Promise((res) => setTimeout(res, 200));
    await Promise.all(
      [...resend].map(async ([t, r]) => {
        const again = Buffer.concat(r.parts);
        t.used = true;
        const { errors: next } = await t.writer.send(again, r.offsets.length);
        await this.settle(t, again, r.offsets, next, depth + 1);
      }),
    );
  }

  /** Waits while some target has more than `window` batches in flight. Throws a failed write's error. */
  async room(): Promise<void> {
    for (const t of this.targets.values()) {
      while (t.inFlight.length > this.window) await t.inFlight.shift();
    }
    if (this.failure) throw this.failure;
  }

  /** Sends every queued command and waits for all replies (and resends). */
  async flush(): Promise<void> {
    for (const t of this.targets.values()) this.dispatch(t);
    for (const t of this.targets.values()) {
      while (t.inFlight.length > 0) await t.inFlight.shift();
    }
    if (this.failure) throw this.failure;
  }

  /**
   * WAIT on every master written to until its replicas have every write, so that a failover after
   * the marker cannot bring back a master without the data. Throws if a replica lags past the timeout.
   */
  async waitForReplicas(timeoutMs: number): Promise<void> {
    // A master written to that serves no slot now was failed over during the warm: what it
    // acknowledged after its replica took over is lost, and nothing here can tell which writes.
    const demoted = [...this.targets.values()].filter((t) => t.used && !t.master).map((t) => t.address);
    if (demoted.length > 0) {
      throw new Error(
        `${demoted.join(", ")} stopped being a master during the warmup (a failover): writes it acknowledged may not have reached the new master`,
      );
    }
    await Promise.all(
      [...this.targets.values()]
        .filter((t) => t.used && t.replicas > 0)
        .map(async (t) => {
          const { errors, lines } = await t.writer.send(encodeCommand(["WAIT", String(t.replicas), String(timeoutMs)]), 1, { lines: true });
          if (errors.length > 0) throw new Error(`WAIT on ${t.address}: ${errors[0].message}`);
          const acked = Number(lines?.[0]?.slice(1));
          if (!(acked >= t.replicas)) {
            throw new Error(`only ${acked} of ${t.replicas} replica(s) of ${t.address} acknowledged the warmup's writes within ${timeoutMs} ms`);
          }
        }),
    );
  }

  close(): void {
    for (const t of this.targets.values()) t.writer.close();
    this.targets.clear();
  }
}
