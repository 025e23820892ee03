// Pipelined writes for the warmup, as raw RESP on a connection of their own: what
// `redis-cli --pipe` does, with the same credentials as the ioredis client options given.
//
// Why not an ioredis pipeline: per-command objects and promises cap it at about a quarter of
// redis-cli's throughput on a small machine (see bench/redis-warmup.bench.ts). The commands sent
// here (SET, UNLINK, ASKING, WAIT) only ever answer with one line (+OK, :1, -ERR …), so counting
// replies needs no full RESP parser. Errors are returned per command, not thrown: a cluster
// router resends a command that was answered with MOVED or ASK.
import { isIP, connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { RedisOptions } from "ioredis";

/** One command's error reply within a batch. */
export interface CommandError {
  /** The command's position in the batch. */
  index: number;
  /** The error line without the leading '-', e.g. "MOVED 3999 127.0.0.1:6381". */
  message: string;
}

interface Pending {
  remaining: number;
  size: number;
  errors: CommandError[];
  lines?: string[];
  resolve: (r: { errors: CommandError[]; lines?: string[] }) => void;
  reject: (e: Error) => void;
}

export function encodeCommand(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === "string" ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, CRLF);
  }
  return Buffer.concat(parts);
}
const CRLF = Buffer.from("\r\n");

export class BulkWriter {
  private readonly queue: Pending[] = [];
  private partial = "";
  private failure: Error | undefined;
  /** Where the writer is connected, `host:port`. */
  readonly address: string;

  private constructor(private readonly socket: Socket, address: string) {
    this.address = address;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    const fail = (e: Error) => this.failAll(e);
    socket.on("error", fail);
    socket.on("close", () => fail(new Error(`Connection is closed (${address}).`)));
  }

  /** A writer on a new connection to `host:port` with the user, TLS and database of `o`. */
  static async connect(o: RedisOptions, at: { host?: string; port?: number; db?: number } = {}): Promise<BulkWriter> {
    const host = at.host ?? o.host ?? "127.0.0.1";
    const port = at.port ?? o.port ?? 6379;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = o.tls
        ? // SNI carries host names only (RFC 6066; Node warns DEP0123 for an address).
          tlsConnect({ host, port, ...(isIP(host) === 0 ? { servername: host } : {}), ...o.tls }, () => resolve(s))
        : o.path
          ? netConnect(o.path, () => resolve(s))
          : netConnect({ host, port }, () => resolve(s));
      s.once("error", reject);
      s.setTimeout(o.connectTimeout ?? 10_000, () => s.destroy(new Error(`connect to ${host}:${port} timed out`)));
    });
    socket.setTimeout(0);
    socket.setNoDelay(true);
    const w = new BulkWriter(socket, `${host}:${port}`);
    const hello: string[][] = [];
    if (o.password) hello.push(o.username ? ["AUTH", o.username, o.password] : ["AUTH", o.password]);
    const db = at.db ?? o.db ?? 0;
    if (db) hello.push(["SELECT", String(db)]);
    for (const cmd of hello) {
      const { errors } = await w.send(encodeCommand(cmd), 1);
      if (errors.length > 0) {
        w.close();
        throw new Error(`${cmd[0]} on ${host}:${port}${o.username ? ` as ${o.username}` : ""}: ${errors[0].message}`);
      }
    }
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
        this.failAll(new Error(`unexpected reply from Redis at ${this.address}: ${text.slice(start, nl).trim()}`));
        this.socket.destroy();
        return;
      }
      if (text.charCodeAt(start) === 0x2d /* '-' */) head.errors.push({ index: head.size - head.remaining, message: text.slice(start + 1, nl - 1) });
      if (head.lines) head.lines.push(text.slice(start, nl - 1));
      start = nl + 1;
      if (--head.remaining === 0) {
        this.queue.shift();
        head.resolve({ errors: head.errors, lines: head.lines });
      }
    }
    this.partial = text.slice(start);
  }

  /**
   * Writes `payload` (`count` commands, each answering with one line) and resolves, once every
   * reply arrived, with the error replies by position (and every reply line when `lines`).
   * Rejects only when the connection fails.
   */
  send(payload: Buffer, count: number, options: { lines?: boolean } = {}): Promise<{ errors: CommandError[]; lines?: string[] }> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.queue.push({ remaining: count, size: count, errors: [], lines: options.lines ? [] : undefined, resolve, reject });
      this.socket.write(payload);
    });
  }

  /** The first connection error, if the connection failed. */
  get failed(): Error | undefined {
    return this.failure;
  }

  close(): void {
    this.socket.destroy();
  }
}
