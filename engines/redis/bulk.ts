// Pipelined SETs for the warmup, written as raw RESP on a connection of their own: what
// `redis-cli --pipe` does, with the same credentials as the ioredis client it is made from.
//
// Why not an ioredis pipeline: per-command objects and promises cap it at about a quarter of
// redis-cli's throughput on a small machine (see bench/redis-warmup.bench.ts). SET without GET only
// ever answers with one line (+OK or -ERR …), so counting replies needs no full RESP parser.
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type Redis from "ioredis";
import type { RedisOptions } from "ioredis";

interface Pending {
  remaining: number;
  firstError?: { index: number; message: string };
  size: number;
  resolve: () => void;
  reject: (e: Error) => void;
  /** The key of the i-th command of this write, for the error message. */
  keyAt: (i: number) => string;
}

function bulk(s: string): string {
  return `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
}

function encodeCommand(args: string[]): string {
  let out = `*${args.length}\r\n`;
  for (const a of args) out += bulk(a);
  return out;
}

export class BulkWriter {
  private readonly queue: Pending[] = [];
  private partial = "";
  private failure: Error | undefined;
  private readonly inFlight: Promise<void>[] = [];

  private constructor(private readonly socket: Socket, private readonly window: number) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    const fail = (e: Error) => this.failAll(e);
    socket.on("error", fail);
    socket.on("close", () => fail(new Error("Connection is closed.")));
  }

  /** A writer on a new connection to the same server, user and database as `redis`. */
  static async from(redis: Redis, options: { window?: number } = {}): Promise<BulkWriter> {
    return BulkWriter.connect(redis.options, options);
  }

  static async connect(o: RedisOptions, options: { window?: number } = {}): Promise<BulkWriter> {
    const host = o.host ?? "127.0.0.1";
    const port = o.port ?? 6379;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = o.tls
        ? tlsConnect({ host, port, servername: host, ...o.tls }, () => resolve(s))
        : o.path
          ? netConnect(o.path, () => resolve(s))
          : netConnect({ host, port }, () => resolve(s));
      s.once("error", reject);
      s.setTimeout(o.connectTimeout ?? 10_000, () => s.destroy(new Error(`connect to ${host}:${port} timed out`)));
    });
    socket.setTimeout(0);
    socket.setNoDelay(true);
    const w = new BulkWriter(socket, options.window ?? 8);
    const hello: string[][] = [];
    if (o.password) hello.push(o.username ? ["AUTH", o.username, o.password] : ["AUTH", o.password]);
    if (o.db) hello.push(["SELECT", String(o.db)]);
    for (const cmd of hello) await w.send(encodeCommand(cmd), 1, () => cmd[0]);
    return w;
  }

  private failAll(e: Error): void {
    if (!this.failure) this.failure = e;
    while (this.queue.length > 0) this.queue.shift()!.reject(this.failure);
  }

  private onData(chunk: Buffer): void {
    const text = this.partial + chunk.toString("latin1");
    let start = 0;
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl < 0) break;
      const head = this.queue[0];
      if (!head) {
        this.failAll(new Error(`unexpected reply from Redis: ${text.slice(start, nl).trim()}`));
        return;
      }
      if (text.charCodeAt(start) === 0x2d /* '-' */ && !head.firstError) {
        head.firstError = { index: head.size - head.remaining, message: text.slice(start + 1, nl - 1) };
      }
      start = nl + 1;
      if (--head.remaining === 0) {
        this.queue.shift();
        if (head.firstError) head.reject(new Error(`${head.keyAt(head.firstError.index)}: ${head.firstError.message}`));
        else head.resolve();
      }
    }
    this.partial = text.slice(start);
  }

  /** Writes `payload` (`count` commands) and resolves when all their replies arrived. */
  private send(payload: string, count: number, keyAt: (i: number) => string): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ remaining: count, size: count, resolve, reject, keyAt });
      this.socket.write(payload);
    });
  }

  /**
   * Sends entries[start, end) as one write. Up to `window` batches are in flight; this resolves
   * once the batch that fell out of the window was acknowledged. `flush()` waits for the rest.
   */
  async set<E extends { key: string; value: string }>(entries: E[], start: number, end: number, expiry: (e: E) => number | undefined): Promise<void> {
    let out = "";
    for (let i = start; i < end; i++) {
      const e = entries[i];
      const pxat = expiry(e);
      out +=
        pxat === undefined
          ? `*3\r\n$3\r\nSET\r\n${bulk(e.key)}${bulk(e.value)}`
          : `*5\r\n$3\r\nSET\r\n${bulk(e.key)}${bulk(e.value)}$4\r\nPXAT\r\n${bulk(String(pxat))}`;
    }
    const p = this.send(out, end - start, (i) => `SET ${entries[start + i]?.key}`);
    p.catch(() => undefined); // observed through inFlight
    this.inFlight.push(p);
    while (this.inFlight.length > this.window) await this.inFlight.shift();
  }

  /** Waits until every batch sent so far was acknowledged. */
  async flush(): Promise<void> {
    while (this.inFlight.length > 0) await this.inFlight.shift();
  }

  close(): void {
    this.socket.destroy();
  }
}
