// Per-row digests of a warmup set, for incremental re-warms: which source rows changed since the
// last complete warm, and which are gone — compared bucket by bucket, so that neither side is ever
// held whole in memory.
//
// The digest of a row is PostgreSQL's 64-bit `hashtextextended` of its value (computed by the
// server inside the COPY query, so an unchanged row costs its key and 16 hex digits on the wire, not
// its value), folded with the row's expiry. Rows are spread over 2^k buckets by PostgreSQL's
// `hashtext` of the key; an incremental run spills the source's keys and digests by bucket
// (spill.ts) and compares each bucket with that bucket's stored table.
//
// Where and what it costs: one Redis string per bucket (`<db prefix>warmup:digests:<set>:<slot>:<n>`,
// beside the marker; the slot alternates a/b between generations so the marker's generation stays
// readable until the new one is complete), each a 20-byte header (magic, generation id) and records
// [u16 key length][row key][u32 d1][u32 d2][u32 expiry s]: (row key length + 14) bytes per row —
// 21 MB for 1M rows with 7-byte keys, about a tenth of the warmed keys themselves. Buckets hold
// about 4096 rows (at most 4096 buckets): the warmup's process holds one bucket's old and new table
// (≈ 2 × 4096 × (key length + 22) bytes) and a few prefetched blobs, whatever the number of rows.
//
// A change-tracked re-warm (changes.ts) edits the marker's generation in place instead: a changed
// record's digest is rewritten where it is (SETRANGE), new records are appended, a bucket that
// loses one is rewritten whole — after the marker was deleted, like every other write.
//
// The digest decides only whether a key is rewritten; the data version (the marker) is built from
// the digests too, so a 64-bit collision could hide one change until the next forced warm.

const MAGIC = Buffer.from("NXD2");
const HEADER = MAGIC.length + 16;
/** Bytes after the key: d1, d2, expiry in seconds since the epoch (0: none). */
const REST = 12;
/** Rows per bucket aimed at, and the most buckets a set is spread over. */
export const ROWS_PER_BUCKET = 4096;
export const MAX_BUCKETS = 4096;

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The in-memory hash of a row key, buf[start, end) (the bucket tables' index). */
export function keyHash(buf: Buffer, start = 0, end = buf.length): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i], 0x01000193);
  return fmix(h);
}

/** How many buckets (a power of two) for about `rows` rows. */
export function bucketCount(rows: number): number {
  let b = 1;
  while (b < MAX_BUCKETS && b * ROWS_PER_BUCKET < rows) b *= 2;
  return b;
}

const HEX = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < 10; i++) t[48 + i] = i;
  for (let i = 0; i < 6; i++) t[97 + i] = 10 + i;
  return t;
})();

/** Output: the row digest [d1, d2] (reused). */
export const digestOut = new Uint32Array(2);

/**
 * The row digest from PostgreSQL's `to_hex(hashtextextended(value, 0))` in buf[start, end) and the
 * row's expiry (ms), into `digestOut`.
 */
export function rowDigest(buf: Buffer, start: number, end: number, expiresAtMs: number | undefined): void {
  let lo = 0;
  let hi = 0;
  let shift = 0;
  for (let i = end - 1; i >= start; i--, shift += 4) {
    const v = HEX[buf[i]];
    if (v < 0 || shift >= 64) throw new Error(`not a 64-bit hex digest: ${buf.toString("latin1", start, end)}`);
    if (shift < 32) lo |= v << shift;
    else hi |= v << (shift - 32);
  }
  if (expiresAtMs !== undefined) {
    lo = fmix(lo ^ Math.imul(expiresAtMs % 0x100000000 | 0, 0x9e3779b1));
    hi = fmix(hi ^ (Math.floor(expiresAtMs / 0x100000000) + 0x7f4a7c15));
  }
  digestOut[0] = hi;
  digestOut[1] = lo;
}

/** Order-independent accumulators of a set's (key, digest) pairs: the data version is built from them. */
export function accumulate(acc: Uint32Array, kh: number, d1: number, d2: number): void {
  const a = fmix(d1 ^ kh);
  const b = fmix((d2 + kh) >>> 0);
  acc[0] ^= a;
  acc[1] ^= b;
  acc[2] = (acc[2] + a) >>> 0;
  acc[3] = (acc[3] + b) >>> 0;
}

/** Takes a (key, digest) pair back out of the accumulators (a row changed or gone, in a change-tracked re-warm). */
export function unaccumulate(acc: Uint32Array, kh: number, d1: number, d2: number): void {
  const a = fmix(d1 ^ kh);
  const b = fmix((d2 + kh) >>> 0);
  acc[0] ^= a;
  acc[1] ^= b;
  acc[2] = (acc[2] - a) >>> 0;
  acc[3] = (acc[3] - b) >>> 0;
}

/** The generation id of a bucket blob, or undefined if it is not one. */
export function bucketGeneration(blob: Buffer | null): string | undefined {
  if (!blob || blob.length < HEADER || !blob.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  return blob.subarray(MAGIC.length, HEADER).toString("hex");
}

/** A cheap fingerprint of the key buf[start, end): its length and last four bytes (locateRecords' filter). */
function tailPrint(buf: Buffer, start: number, end: number): number {
  let t = end - start;
  for (let i = Math.max(start, end - 4); i < end; i++) t = (t << 8) ^ buf[i] ^ (t >>> 24);
  return Math.imul(t, 0x9e3779b1) >>> 0;
}

/**
 * Where the records of `keys` are in a bucket blob (offset of the record, -1 when absent), found
 * in one walk over the records without indexing them all: a change-tracked re-warm looks up a few
 * keys in each bucket, so each record is only fingerprinted (length, last bytes) and compared in
 * full when that matches. Undefined if the blob is not a whole bucket.
 */
export function locateRecords(blob: Buffer, keys: Buffer[]): Int32Array | undefined {
  const at = new Int32Array(keys.length).fill(-1);
  const size = pow2(Math.max(16, keys.length * 4));
  const shift = 32 - Math.log2(size);
  // Open addressing: slot → index of a wanted key + 1 (0: empty); keys with the same print chain on.
  const slots = new Int32Array(size);
  const prints = new Uint32Array(size);
  keys.forEach((k, i) => {
    const print = tailPrint(k, 0, k.length);
    let s = print >>> shift;
    while (slots[s] !== 0) s = (s + 1) & (size - 1);
    slots[s] = i + 1;
    prints[s] = print;
  });
  let p = HEADER;
  for (; p + 2 <= blob.length; ) {
    const klen = blob[p] + (blob[p + 1] << 8);
    const end = p + 2 + klen;
    if (end > blob.length) return undefined;
    const print = tailPrint(blob, p + 2, end);
    for (let s = print >>> shift; slots[s] !== 0; s = (s + 1) & (size - 1)) {
      if (prints[s] !== print) continue;
      const i = slots[s] - 1;
      if (keys[i].length === klen && blob.compare(keys[i], 0, klen, p + 2, end) === 0) at[i] = p;
    }
    p = end + REST;
  }
  return p === blob.length ? at : undefined;
}

/** The digest of the record at `at` (as `locateRecords` gives it), into `digestOut`. */
export function recordDigest(blob: Buffer, at: number): void {
  const p = at + 2 + blob.readUInt16LE(at);
  digestOut[0] = blob.readUInt32LE(p);
  digestOut[1] = blob.readUInt32LE(p + 4);
}

/** The bytes after the key of the record at `at` for a new digest, and where they go in the blob (SETRANGE). */
export function digestPatch(blob: Buffer, at: number, d1: number, d2: number, expiresAtMs?: number): { offset: number; bytes: Buffer } {
  const offset = at + 2 + blob.readUInt16LE(at);
  const bytes = Buffer.allocUnsafe(REST);
  u32(bytes, 0, d1);
  u32(bytes, 4, d2);
  u32(bytes, 8, expiresAtMs === undefined ? 0 : Math.min(0xffffffff, Math.max(1, Math.floor(expiresAtMs / 1000))));
  return { offset, bytes };
}

/**
 * A bucket blob edited in place of a full comparison: records at the offsets in `changed` get new
 * digests, records at the offsets in `removed` go, `added` (records) is appended. Same generation.
 */
export function editBucket(blob: Buffer, changed: Map<number, { d1: number; d2: number; expiresAtMs?: number }>, removed: Set<number>, added: Buffer): Buffer {
  const out = Buffer.allocUnsafe(blob.length + added.length);
  blob.copy(out, 0, 0, HEADER);
  let o = HEADER;
  let runFrom = HEADER;
  for (let p = HEADER; p < blob.length; ) {
    const next = p + 2 + blob.readUInt16LE(p) + REST;
    if (removed.has(p)) {
      o += blob.copy(out, o, runFrom, p);
      runFrom = next;
    }
    p = next;
  }
  o += blob.copy(out, o, runFrom, blob.length);
  o += added.copy(out, o);
  const edited = out.subarray(0, o);
  if (changed.size > 0) {
    // Offsets in the new blob: shifted by the removed records before them.
    const gone = [...removed].sort((a, b) => a - b);
    for (const [at, d] of changed) {
      let shift = 0;
      for (const r of gone) {
        if (r >= at) break;
        shift += 2 + blob.readUInt16LE(r) + REST;
      }
      const klen = blob.readUInt16LE(at);
      writeRecord(edited, at - shift, blob, at + 2, at + 2 + klen, d.d1, d.d2, d.expiresAtMs);
    }
  }
  return edited;
}

/** A record as appended to a bucket: [u16 key length][key][d1][d2][expiry s]. */
export function writeRecord(out: Buffer, p: number, key: Buffer, start: number, end: number, d1: number, d2: number, expiresAtMs?: number): number {
  const klen = end - start;
  if (klen > 0xffff) throw new Error(`row key of ${klen} bytes: at most 65535`);
  out[p] = klen & 0xff;
  out[p + 1] = klen >> 8;
  for (let i = 0; i < klen; i++) out[p + 2 + i] = key[start + i];
  p += 2 + klen;
  u32(out, p, d1);
  u32(out, p + 4, d2);
  u32(out, p + 8, expiresAtMs === undefined ? 0 : Math.min(0xffffffff, Math.max(1, Math.floor(expiresAtMs / 1000))));
  return p + REST;
}

/** The size of a record for a key of `klen` bytes. */
export const recordSize = (klen: number) => 2 + klen + REST;

/** A bucket's header: magic and generation id (32 hex digits). */
export function bucketHeader(id: string): Buffer {
  const h = Buffer.alloc(HEADER);
  MAGIC.copy(h, 0);
  Buffer.from(id, "hex").copy(h, MAGIC.length, 0, 16);
  return h;
}

/** The blob `blob` re-headed for generation `id` (a bucket carried unchanged into a new generation). */
export function reheader(blob: Buffer, id: string): Buffer {
  const out = Buffer.from(blob);
  Buffer.from(id, "hex").copy(out, MAGIC.length, 0, 16);
  return out;
}

/**
 * A bucket's next blob, generation `id`: the records of `old` marked 1 in `seen` (rows unchanged),
 * then the records of `delta` (rows new or changed).
 */
export function mergeBucket(id: string, old: DigestTable, seen: Uint8Array, delta: DigestTable): Buffer {
  const added = delta.records;
  const out = Buffer.allocUnsafe(old.size + added.length);
  bucketHeader(id).copy(out, 0);
  let p = HEADER;
  // Runs of kept records are copied at once: most records are kept.
  for (let o = 0; o < old.count; ) {
    if (seen[o] !== 1) {
      o++;
      continue;
    }
    let end = o + 1;
    while (end < old.count && seen[end] === 1) end++;
    const run = old.span(o, end);
    p += run.copy(out, p);
    o = end;
  }
  p += added.copy(out, p);
  return out.subarray(0, p);
}

/** A table of row key → 64-bit digest, packed in one buffer, with an open-addressing index: one bucket. */
export class DigestTable {
  private buf: Buffer;
  private len: number;
  private offsets: Uint32Array;
  private slots: Int32Array;
  count = 0;

  private constructor(buf: Buffer, len: number, capacity: number) {
    this.buf = buf;
    this.len = len;
    this.offsets = new Uint32Array(Math.max(16, capacity));
    this.slots = new Int32Array(pow2(Math.max(32, capacity * 2)));
  }

  /** An empty table to fill with `add` (also the bucket blob `serialize` gives). */
  static empty(expectedRows = 1024): DigestTable {
    return new DigestTable(Buffer.allocUnsafe(HEADER + expectedRows * 24), HEADER, expectedRows);
  }

  /**
   * The table a bucket blob holds, with its generation id; undefined if `blob` is not one (or
   * names a key twice: a source that returned duplicate keys on a full warm).
   */
  static parse(blob: Buffer | null): { table: DigestTable; id: string } | undefined {
    if (!blob || blob.length < HEADER || !blob.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
    const id = blob.subarray(MAGIC.length, HEADER).toString("hex");
    let n = 0;
    let p = HEADER;
    for (; p + 2 <= blob.length; p += 2 + blob.readUInt16LE(p) + REST) n++;
    if (p !== blob.length) return undefined; // truncated
    const t = new DigestTable(blob, blob.length, n);
    for (p = HEADER; p < blob.length; p += 2 + blob.readUInt16LE(p) + REST) {
      const klen = blob.readUInt16LE(p);
      const kh = keyHash(blob, p + 2, p + 2 + klen);
      if (t.find(blob, kh, p + 2, p + 2 + klen) >= 0) return undefined;
      t.offsets[t.count] = p;
      t.index(t.count++, kh);
    }
    return { table: t, id };
  }

  private index(ordinal: number, kh: number): void {
    const mask = this.slots.length - 1;
    let i = kh & mask;
    while (this.slots[i] !== 0) i = (i + 1) & mask;
    this.slots[i] = ordinal + 1;
  }

  private keyEquals(ordinal: number, key: Buffer, start: number, end: number): boolean {
    const b = this.buf;
    const p = this.offsets[ordinal];
    const n = end - start;
    if (b[p] + (b[p + 1] << 8) !== n) return false;
    for (let i = 0; i < n; i++) if (b[p + 2 + i] !== key[start + i]) return false;
    return true;
  }

  /** The ordinal of the row key key[start, end), or -1. */
  find(key: Buffer, kh: number, start = 0, end = key.length): number {
    const mask = this.slots.length - 1;
    for (let i = kh & mask; ; i = (i + 1) & mask) {
      const o = this.slots[i];
      if (o === 0) return -1;
      if (this.keyEquals(o - 1, key, start, end)) return o - 1;
    }
  }

  /** Whether the digest stored for `ordinal` is (d1, d2). */
  same(ordinal: number, d1: number, d2: number): boolean {
    const p = this.offsets[ordinal] + 2 + this.buf.readUInt16LE(this.offsets[ordinal]);
    return this.buf.readUInt32LE(p) === d1 && this.buf.readUInt32LE(p + 4) === d2;
  }

  /** The row's expiry (ms since the epoch) as recorded, or undefined. */
  expiryAt(ordinal: number): number | undefined {
    const p = this.offsets[ordinal] + 2 + this.buf.readUInt16LE(this.offsets[ordinal]) + 8;
    const s = this.buf.readUInt32LE(p);
    return s === 0 ? undefined : s * 1000;
  }

  /** The row key of `ordinal`. */
  keyAt(ordinal: number): Buffer {
    const p = this.offsets[ordinal];
    return this.buf.subarray(p + 2, p + 2 + this.buf.readUInt16LE(p));
  }

  /** Adds a row; returns false (and adds nothing) if the key is already in the table. */
  add(key: Buffer, kh: number, d1: number, d2: number, expiresAtMs?: number, start = 0, end = key.length): boolean {
    if (this.find(key, kh, start, end) >= 0) return false;
    const size = recordSize(end - start);
    if (this.len + size > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + size));
      this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
    if (this.count === this.offsets.length) {
      const o = new Uint32Array(this.offsets.length * 2);
      o.set(this.offsets);
      this.offsets = o;
    }
    if ((this.count + 1) * 2 > this.slots.length) this.rehash();
    const p = this.len;
    this.len = writeRecord(this.buf, p, key, start, end, d1, d2, expiresAtMs);
    this.offsets[this.count] = p;
    this.index(this.count++, kh);
    return true;
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    for (let o = 0; o < this.count; o++) {
      const p = this.offsets[o];
      this.index(o, keyHash(this.buf, p + 2, p + 2 + this.buf.readUInt16LE(p)));
    }
  }

  /** The bytes of the records `from` to `to` (exclusive), consecutive in the table's buffer. */
  span(from: number, to: number): Buffer {
    const last = this.offsets[to - 1];
    return this.buf.subarray(this.offsets[from], last + recordSize(this.buf.readUInt16LE(last)));
  }

  /** Bytes of the table as a blob (header and records). */
  get size(): number {
    return this.len;
  }

  /** Every record, in the order added, without the header. */
  get records(): Buffer {
    return this.buf.subarray(HEADER, this.len);
  }

  /** The table as a bucket blob of generation `id`. */
  serialize(id: string): Buffer {
    const out = this.buf.subarray(0, this.len);
    bucketHeader(id).copy(out, 0);
    return out;
  }

  /** Bytes this table holds in memory (buffer and index). */
  get bytes(): number {
    return this.buf.length + this.offsets.byteLength + this.slots.byteLength;
  }
}

function u32(b: Buffer, p: number, v: number): void {
  b[p] = v & 0xff;
  b[p + 1] = (v >>> 8) & 0xff;
  b[p + 2] = (v >>> 16) & 0xff;
  b[p + 3] = v >>> 24;
}

function pow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * A full warm's digest buckets, written as the rows stream by (in source order, not bucket order):
 * each bucket's records are buffered up to a small threshold and then sent — the first piece with
 * the header (SET), the rest with APPEND — so the process holds about 1 MB of them (2 MB at 4096 buckets).
 */
export class BucketWriter {
  private readonly pending: Buffer[];
  private readonly lens: Uint32Array;
  private readonly started: Uint8Array;
  private readonly ready: number[] = [];
  private readonly threshold: number;

  constructor(
    readonly buckets: number,
    private readonly id: string,
    /** Sends bytes to a bucket: `first` means with the header, replacing whatever the key held. */
    private readonly emit: (bucket: number, bytes: Buffer, first: boolean) => void,
  ) {
    this.threshold = Math.min(16 * 1024, Math.max(512, Math.floor((1024 * 1024) / buckets)));
    this.pending = Array.from({ length: buckets }, () => Buffer.allocUnsafe(0));
    this.lens = new Uint32Array(buckets);
    this.started = new Uint8Array(buckets);
  }

  add(bucket: number, key: Buffer, start: number, end: number, d1: number, d2: number, expiresAtMs?: number): void {
    const size = recordSize(end - start);
    let buf = this.pending[bucket];
    const len = this.lens[bucket];
    if (len + size > buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(len + size, this.threshold + 256));
      buf.copy(grown, 0, 0, len);
      this.pending[bucket] = buf = grown;
    }
    this.lens[bucket] = writeRecord(buf, len, key, start, end, d1, d2, expiresAtMs);
    if (len < this.threshold && this.lens[bucket] >= this.threshold) this.ready.push(bucket);
  }

  private send(bucket: number): void {
    const bytes = this.pending[bucket].subarray(0, this.lens[bucket]);
    const first = this.started[bucket] === 0;
    this.emit(bucket, first ? Buffer.concat([bucketHeader(this.id), bytes]) : bytes, first);
    this.started[bucket] = 1;
    this.lens[bucket] = 0;
  }

  /** Sends the buckets past the threshold. */
  flushReady(): void {
    for (const b of this.ready) this.send(b);
    this.ready.length = 0;
  }

  /** Sends every bucket's remainder (a bucket without rows gets its header). */
  finish(): void {
    for (let b = 0; b < this.buckets; b++) if (this.lens[b] > 0 || this.started[b] === 0) this.send(b);
    this.ready.length = 0;
  }
}
