// The archive's inner container: named parts streamed one after the other, then the manifest.
//
// Why not tar: a tar header carries the entry's size before its data, and a `pg_dump` stream or a
// collection's cursor has no size until it ends — tar would mean spooling every part to disk first.
// So the framing is ours, and small:  frame = type (1 byte) | length (u32 BE) | payload.
//   PART   JSON {name, kind, meta}      starts a part
//   DATA   bytes                        the part's content, in frames of any size
//   END    JSON {bytes, sha256}         ends the part (checked against what was read)
//   MANIFEST JSON                      after the last part
//   CLOSE  (empty)                     the archive ends; nothing may follow
// Integrity and secrecy come from the encryption layer below (crypto.ts); the SHA-256 of each part
// is recorded for the manifest and checked again when reading.
import { createHash, type Hash } from "node:crypto";
import { createReadStream, createWriteStream, renameSync, rmSync, type WriteStream } from "node:fs";
import * as path from "node:path";
import { open } from "node:fs/promises";
import { once } from "node:events";
import { ARCHIVE_HEADER_BYTES, ArchiveError, ByteQueue, DecryptStream, EncryptStream, openArchiveKey, type ArchiveKey } from "./crypto";

const enum Frame {
  Part = 1,
  Data = 2,
  End = 3,
  Manifest = 4,
  Close = 5,
}

/** What a part is, as the writer declared it. */
export interface PartHeader {
  name: string;
  kind: string;
  meta?: unknown;
}

export interface PartSummary {
  name: string;
  kind: string;
  bytes: number;
  sha256: string;
}

const MAX_JSON_FRAME = 64 << 20;
/** Data frames are cut at this size, so a reader never holds more than this of one frame. */
const MAX_DATA_FRAME = 1 << 20;

/**
 * Writes an encrypted archive to `file` (via `file.partial`, renamed when complete). Mode 0600. The
 * archive is on disk before it gets its name (the file is synced before the rename, the folder
 * after it), as `pg_dump` syncs its output: a crash of the machine leaves the archive whole or
 * only a `.partial`, never a named archive with its end still in the page cache.
 */
export class ArchiveWriter {
  private readonly out: WriteStream;
  private enc!: EncryptStream;
  private readonly ready: Promise<void>;
  private readonly partial: string;
  private current?: { header: PartHeader; hash: Hash; bytes: number };
  private failed?: Error;
  readonly parts: PartSummary[] = [];

  /** `key` may still be being derived (scrypt takes a while): the first write waits for it, while the dump already starts. */
  constructor(
    private readonly file: string,
    key: ArchiveKey | Promise<ArchiveKey>,
  ) {
    this.partial = `${file}.partial`;
    this.out = createWriteStream(this.partial, { mode: 0o600, flush: true });
    const fail = (e: Error) => (this.failed ??= new Error(`cannot write ${this.partial}: ${e.message}`, { cause: e }));
    this.out.on("error", fail);
    this.ready = Promise.resolve(key).then((k) => {
      this.enc = new EncryptStream(k);
      this.enc.pipe(this.out);
      this.enc.on("error", fail);
    });
    this.ready.catch(() => undefined);
  }

  private async frame(type: Frame, payload: Buffer): Promise<void> {
    if (!this.enc) await this.ready;
    if (this.failed) throw this.failed;
    const head = Buffer.allocUnsafe(5);
    head[0] = type;
    head.writeUInt32BE(payload.length, 1);
    this.enc.write(head);
    if (!this.enc.write(payload)) await this.until(this.enc, "drain");
    if (this.failed) throw this.failed;
  }

  /** Waits for `event` on `emitter` or a failure of the file, then stops listening to both (a wait per full buffer). */
  private async until(emitter: NodeJS.EventEmitter, event: string): Promise<void> {
    const stop = new AbortController();
    const settled = (p: Promise<unknown>) => p.then(() => undefined, () => undefined);
    try {
      await Promise.race([settled(once(emitter, event, { signal: stop.signal })), settled(once(this.out, "error", { signal: stop.signal }))]);
    } finally {
      stop.abort();
    }
  }

  async beginPart(header: PartHeader): Promise<void> {
    if (this.current) throw new Error(`part ${this.current.header.name} is still open`);
    this.current = { header, hash: createHash("sha256"), bytes: 0 };
    await this.frame(Frame.Part, Buffer.from(JSON.stringify(header)));
  }

  async write(data: Buffer): Promise<void> {
    const c = this.current;
    if (!c) throw new Error("write outside a part");
    for (let off = 0; off < data.length; off += MAX_DATA_FRAME) {
      const piece = data.subarray(off, off + MAX_DATA_FRAME);
      c.hash.update(piece);
      c.bytes += piece.length;
      await this.frame(Frame.Data, piece);
    }
  }

  async endPart(): Promise<PartSummary> {
    const c = this.current;
    if (!c) throw new Error("no part is open");
    const summary = { name: c.header.name, kind: c.header.kind, bytes: c.bytes, sha256: c.hash.digest("hex") };
    await this.frame(Frame.End, Buffer.from(JSON.stringify({ bytes: summary.bytes, sha256: summary.sha256 })));
    this.current = undefined;
    this.parts.push(summary);
    return summary;
  }

  /** Writes the manifest, seals the archive and moves it into place. */
  async finish(manifest: unknown): Promise<void> {
    await this.ready;
    await this.frame(Frame.Manifest, Buffer.from(JSON.stringify(manifest)));
    await this.frame(Frame.Close, Buffer.alloc(0));
    this.enc.end();
    // "close", not "finish": the stream syncs the file (flush) when it closes it.
    await this.until(this.out, "close");
    if (this.failed) throw this.failed;
    renameSync(this.partial, this.file);
    await syncFolder(path.dirname(this.file));
  }

  /** Gives up: the partial file is removed, so no incomplete archive is left looking like one. */
  async abort(): Promise<void> {
    if (this.enc) {
      this.enc.unpipe(this.out);
      this.enc.destroy();
    }
    this.out.destroy();
    await once(this.out, "close").catch(() => undefined);
    rmSync(this.partial, { force: true });
  }
}

/** The folder's entries on disk (a rename is durable once its folder is synced). */
async function syncFolder(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Reads the archive's header and derives its key (throws ArchiveError on a wrong key or a non-archive). */
export async function openArchive(file: string, passphrase: string | Buffer): Promise<ArchiveKey> {
  let fh;
  try {
    fh = await open(file, "r");
  } catch (e) {
    throw new ArchiveError(`cannot open ${file}: ${(e as Error).message}`);
  }
  try {
    const head = Buffer.alloc(ARCHIVE_HEADER_BYTES);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return await openArchiveKey(passphrase, head.subarray(0, bytesRead), file);
  } finally {
    await fh.close();
  }
}

/** One part while it is read: its header and its content, to be consumed (or not) by the handler. */
export interface PartReader extends PartHeader {
  /** The content in pieces; what the handler leaves unread is skipped (and still checked). */
  chunks(): AsyncGenerator<Buffer>;
}

export interface ArchiveContents<M> {
  manifest: M;
  parts: PartSummary[];
}

/**
 * Reads the whole archive, handing each part to `onPart` as it streams by. Every chunk is
 * authenticated before it is handed on; each part's SHA-256 is checked at its end and against the
 * manifest. With no `onPart`, this is the verification pass.
 */
export async function readArchive<M extends { parts: PartSummary[] }>(
  file: string,
  key: ArchiveKey,
  onPart?: (part: PartReader) => Promise<void>,
): Promise<ArchiveContents<M>> {
  const dec = new DecryptStream(key, file);
  const input = createReadStream(file, { start: key.header.length, highWaterMark: 1 << 20 });
  input.on("error", (e) => dec.destroy(e));
  input.pipe(dec);
  const reader = new FrameReader(dec[Symbol.asyncIterator]() as AsyncIterator<Buffer>, file);
  const parts: PartSummary[] = [];
  try {
    for (;;) {
      const f = await reader.next();
      if (f.type === Frame.Manifest) {
        const manifest = parseJson<M>(f.payload, file, "manifest");
        const close = await reader.next();
        if (close.type !== Frame.Close) throw new ArchiveError(`${file} is damaged: no end after the manifest`);
        await reader.expectEnd();
        checkManifest(file, manifest, parts);
        return { manifest, parts };
      }
      if (f.type !== Frame.Part) throw new ArchiveError(`${file} is damaged: frame type ${f.type} where a part should start`);
      const header = parseJson<PartHeader>(f.payload, file, "part header");
      const hash = createHash("sha256");
      let bytes = 0;
      let ended: { bytes: number; sha256: string } | undefined;
      const chunks = async function* (): AsyncGenerator<Buffer> {
        while (!ended) {
          const d = await reader.next();
          if (d.type === Frame.Data) {
            hash.update(d.payload);
            bytes += d.payload.length;
            yield d.payload;
          } else if (d.type === Frame.End) {
            ended = parseJson(d.payload, file, `end of part ${header.name}`);
          } else throw new ArchiveError(`${file} is damaged: frame type ${d.type} inside part ${header.name}`);
        }
      };
      let started = false;
      const part: PartReader = {
        ...header,
        chunks: () => {
          if (started) throw new Error(`part ${header.name} is read twice`);
          started = true;
          return chunks();
        },
      };
      if (onPart) await onPart(part);
      for await (const _ of chunks()) void _; // the rest of the part, if the handler stopped early
      const sha256 = hash.digest("hex");
      if (ended!.sha256 !== sha256 || ended!.bytes !== bytes) throw new ArchiveError(`${file}: part ${header.name} does not match its recorded checksum`);
      parts.push({ name: header.name, kind: header.kind, bytes, sha256 });
    }
  } finally {
    input.destroy();
    dec.destroy();
  }
}

function checkManifest(file: string, manifest: { parts: PartSummary[] }, parts: PartSummary[]): void {
  const listed = manifest.parts ?? [];
  const seen = new Map(parts.map((p) => [p.name, p]));
  for (const p of listed) {
    const s = seen.get(p.name);
    if (!s) throw new ArchiveError(`${file}: the manifest lists part ${p.name}, which the archive does not hold`);
    if (s.sha256 !== p.sha256 || s.bytes !== p.bytes) throw new ArchiveError(`${file}: part ${p.name} does not match the SHA-256 in the manifest`);
  }
  if (listed.length !== parts.length) throw new ArchiveError(`${file}: the archive holds ${parts.length} parts, its manifest lists ${listed.length}`);
}

function parseJson<T>(b: Buffer, file: string, what: string): T {
  try {
    return JSON.parse(b.toString("utf8")) as T;
  } catch {
    throw new ArchiveError(`${file} is damaged: unreadable ${what}`);
  }
}

class FrameReader {
  private readonly q = new ByteQueue();
  private done = false;

  constructor(
    private readonly it: AsyncIterator<Buffer>,
    private readonly file: string,
  ) {}

  private async fill(n: number): Promise<void> {
    while (this.q.length < n) {
      if (this.done) throw new ArchiveError(`${this.file} ends in the middle of a record (truncated)`);
      const r = await this.it.next();
      if (r.done) this.done = true;
      else this.q.push(r.value);
    }
  }

  async next(): Promise<{ type: Frame; payload: Buffer }> {
    await this.fill(5);
    const head = this.q.take(5);
    const type = head[0] as Frame;
    const len = head.readUInt32BE(1);
    if (type < Frame.Part || type > Frame.Close) throw new ArchiveError(`${this.file} is damaged: unknown record type ${type}`);
    if (len > (type === Frame.Data ? MAX_DATA_FRAME : MAX_JSON_FRAME)) throw new ArchiveError(`${this.file} is damaged: a record of ${len} bytes`);
    await this.fill(len);
    return { type, payload: len ? this.q.take(len) : Buffer.alloc(0) };
  }

  async expectEnd(): Promise<void> {
    if (this.q.length > 0) throw new ArchiveError(`${this.file} has data after its end`);
    const r = await this.it.next();
    if (!r.done) throw new ArchiveError(`${this.file} has data after its end`);
  }
}
