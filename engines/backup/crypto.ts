// Encryption at rest of a backup archive: AES-256-GCM (Node's crypto) in authenticated chunks.
//
// File layout:  header | chunk 0 | chunk 1 | … | final chunk
//   header  = "NXDBENC1" | kdf id (1 byte) | log2 N (1) | r (1) | p (1) | salt (16) | [archive salt (16)] | key check (16)
//   chunk   = ciphertext length (u32 BE) | ciphertext | GCM tag (16)
// Key derivation: the passphrase is stretched with scrypt and the salt into a master key; the
// archive's AES key and its key check are HKDF outputs of the master key. kdf 2 (written now) takes
// the HKDF salt from the archive's own random salt, so a process derives the scrypt master once per
// passphrase and still seals every archive under a key of its own (the scheduled backups, a restore
// of an archive it just wrote); kdf 1 (read only) used the scrypt salt for both.
// kdf 3: a generated key (`nxdbk1-` and 32 random bytes, `nexus-db backup-key`) is the master key
// itself — 256 random bits gain nothing from stretching, as age's X25519 recipients are not
// stretched and its passphrases are. Its scrypt fields are zero; HKDF as kdf 2, its own labels.
// A key that starts with `nxdbk1-` but is not one (a typo) is refused, never taken as a passphrase.
// Each chunk is sealed with the nonce = its index, and the additional data = header | index (u64) |
// final flag (1 byte). So a flipped bit, a chunk moved, dropped or replayed, a header edited, or a
// file cut short (no chunk flagged final) fails authentication, and bytes after the final chunk are
// refused. Every archive has a key of its own (a fresh random salt), so counter nonces never repeat
// under one key. The key check (an HKDF output, not the key) tells a wrong passphrase from a damaged file.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";

const MAGIC = Buffer.from("NXDBENC1");
const KDF_SCRYPT = 1;
const KDF_SCRYPT_HKDF_ARCHIVE_SALT = 2;
const KDF_GENERATED_KEY = 3;
const HEADER_BYTES: Record<number, number> = {
  [KDF_SCRYPT]: MAGIC.length + 4 + 16 + 16,
  [KDF_SCRYPT_HKDF_ARCHIVE_SALT]: MAGIC.length + 4 + 16 + 16 + 16,
  [KDF_GENERATED_KEY]: MAGIC.length + 4 + 16 + 16 + 16,
};
/** The header of the archives written now (the longest there is): the bytes a reader takes first. */
export const ARCHIVE_HEADER_BYTES = HEADER_BYTES[KDF_SCRYPT_HKDF_ARCHIVE_SALT];
/** Plaintext bytes per chunk: large enough that the 20 bytes of framing cost nothing, small enough to keep memory flat. */
export const CHUNK_BYTES = 1 << 20;
const TAG_BYTES = 16;
// N = 2^15, r = 8, p = 1: 32 MiB and some 80 ms a derivation here. Never lowered for speed (tests may, for their own archives).
const DEFAULT_SCRYPT = { log2N: 15, r: 8, p: 1 };

/** The archive cannot be opened: wrong key, damaged, truncated or not an archive. Nothing was written anywhere. */
export class ArchiveError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ArchiveError";
  }
}

/** A key ready to seal or open archives: the passphrase stretched with the archive's salt. */
export interface ArchiveKey {
  header: Buffer;
  key: Buffer;
}

interface KdfParams {
  log2N: number;
  r: number;
  p: number;
  salt: Buffer;
}

function checkKdf(kdf: KdfParams): void {
  if (kdf.log2N < 10 || kdf.log2N > 20 || kdf.r < 1 || kdf.r > 32 || kdf.p < 1 || kdf.p > 16) {
    throw new ArchiveError(`unsupported key derivation parameters (N=2^${kdf.log2N}, r=${kdf.r}, p=${kdf.p}): not an archive of this tool, or a damaged header`);
  }
}

function scryptMaster(passphrase: string | Buffer, kdf: KdfParams): Promise<Buffer> {
  checkKdf(kdf);
  const N = 2 ** kdf.log2N;
  return new Promise<Buffer>((resolve, reject) =>
    scrypt(passphrase, kdf.salt, 32, { N, r: kdf.r, p: kdf.p, maxmem: 256 * N * kdf.r + (1 << 20) }, (err, k) => (err ? reject(err) : resolve(k))),
  );
}

/**
 * Master keys this process derived, by (passphrase digest, parameters, salt): scrypt runs once per
 * passphrase and salt, however many archives are written or opened with them. Bounded: a few entries.
 */
const masters = new Map<string, Promise<Buffer>>();
/** The scrypt salt this process seals new archives with, per passphrase digest and cost. */
const sealingSalts = new Map<string, Buffer>();
const MAX_CACHED = 8;

/** The entry for `id`, made by `make` when absent; the oldest entry goes when the map is full. */
function cached<V>(map: Map<string, V>, id: string, make: () => V): V {
  let v = map.get(id);
  if (v === undefined) {
    if (map.size >= MAX_CACHED) map.delete(map.keys().next().value!);
    v = make();
    map.set(id, v);
  }
  return v;
}

function passphraseId(passphrase: string | Buffer): string {
  return createHash("sha256").update("nexus-db backup passphrase id\0").update(passphrase).digest("hex");
}

function cachedMaster(passphrase: string | Buffer, kdf: KdfParams): Promise<Buffer> {
  const id = `${passphraseId(passphrase)}:${kdf.log2N}:${kdf.r}:${kdf.p}:${kdf.salt.toString("hex")}`;
  return cached(masters, id, () => {
    const m = scryptMaster(passphrase, kdf);
    m.catch(() => masters.delete(id));
    return m;
  });
}

/** Forgets every derived key (the next archive pays scrypt again): what a new process starts with. */
export function forgetDerivedKeys(): void {
  masters.clear();
  sealingSalts.clear();
}

/** What a generated key starts with. */
export const GENERATED_KEY_PREFIX = "nxdbk1-";

/** A new generated archive key: `nxdbk1-` and 32 random bytes (base64url). Keep it as a secret (the stack's `backupKey`). */
export function generateArchiveKey(): string {
  return GENERATED_KEY_PREFIX + randomBytes(32).toString("base64url");
}

/** The 32 bytes of a generated key; undefined for a passphrase; throws for a malformed generated key. */
function generatedKeyBytes(passphrase: string | Buffer): Buffer | undefined {
  const text = typeof passphrase === "string" ? passphrase : passphrase.toString("latin1");
  if (!text.startsWith(GENERATED_KEY_PREFIX)) return undefined;
  const body = text.slice(GENERATED_KEY_PREFIX.length);
  const bytes = /^[A-Za-z0-9_-]{43}$/.test(body) ? Buffer.from(body, "base64url") : undefined;
  if (bytes?.length !== 32) {
    throw new ArchiveError(`the backup key starts with "${GENERATED_KEY_PREFIX}" but is not a whole generated key (${GENERATED_KEY_PREFIX} and 43 base64url characters): copy it again, or make one with \`nexus-db backup-key\``);
  }
  return bytes;
}

function expand(master: Buffer, salt: Buffer, version: number): { key: Buffer; check: Buffer } {
  const tag = version === KDF_SCRYPT ? "nexus-db backup v1" : version === KDF_GENERATED_KEY ? "nexus-db backup v3 generated key" : "nexus-db backup v2";
  const key = Buffer.from(hkdfSync("sha256", master, salt, `${tag} aes-256-gcm`, 32));
  const check = Buffer.from(hkdfSync("sha256", master, salt, `${tag} key check`, 16));
  return { key, check };
}

/** A new key for sealing one archive (a fresh archive salt). `scryptLog2N` lowers the cost in tests only. */
export async function newArchiveKey(passphrase: string | Buffer, options: { scryptLog2N?: number } = {}): Promise<ArchiveKey> {
  checkPassphrase(passphrase);
  const generated = generatedKeyBytes(passphrase);
  if (generated) {
    const archiveSalt = randomBytes(16);
    const { key, check } = expand(generated, archiveSalt, KDF_GENERATED_KEY);
    return { header: Buffer.concat([MAGIC, Buffer.from([KDF_GENERATED_KEY, 0, 0, 0]), Buffer.alloc(16), archiveSalt, check]), key };
  }
  const params = { ...DEFAULT_SCRYPT, log2N: options.scryptLog2N ?? DEFAULT_SCRYPT.log2N };
  const saltId = `${passphraseId(passphrase)}:${params.log2N}:${params.r}:${params.p}`;
  const salt = cached(sealingSalts, saltId, () => randomBytes(16));
  const kdf = { ...params, salt };
  const archiveSalt = randomBytes(16);
  const { key, check } = expand(await cachedMaster(passphrase, kdf), archiveSalt, KDF_SCRYPT_HKDF_ARCHIVE_SALT);
  const header = Buffer.concat([MAGIC, Buffer.from([KDF_SCRYPT_HKDF_ARCHIVE_SALT, kdf.log2N, kdf.r, kdf.p]), salt, archiveSalt, check]);
  return { header, key };
}

/** Reads the header at the start of `head` and derives the key; throws ArchiveError on a wrong passphrase. */
export async function openArchiveKey(passphrase: string | Buffer, head: Buffer, file = "the archive"): Promise<ArchiveKey> {
  checkPassphrase(passphrase);
  const id = head[MAGIC.length];
  const size = HEADER_BYTES[id] ?? ARCHIVE_HEADER_BYTES;
  if (head.length < Math.min(size, HEADER_BYTES[KDF_SCRYPT]) || !head.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new ArchiveError(`${file} is not a nexus-db backup archive (no "NXDBENC1" header)${head.length < size ? ", or it is cut short" : ""}`);
  }
  if (!(id in HEADER_BYTES)) throw new ArchiveError(`${file}: unknown key derivation ${id} (made by a newer nexus-db?)`);
  if (head.length < size) throw new ArchiveError(`${file} is cut short (no complete header)`);
  const o = MAGIC.length + 4;
  const kdf = { log2N: head[MAGIC.length + 1], r: head[MAGIC.length + 2], p: head[MAGIC.length + 3], salt: Buffer.from(head.subarray(o, o + 16)) };
  const generated = generatedKeyBytes(passphrase);
  let master: Buffer;
  if (id === KDF_GENERATED_KEY) {
    if (!generated) throw new ArchiveError(`${file} was sealed with a generated key (${GENERATED_KEY_PREFIX}…), and the key given is a passphrase: give the key the archive was written with (nothing was restored)`);
    master = generated;
  } else {
    checkKdf(kdf);
    master = await cachedMaster(passphrase, kdf);
  }
  const hkdfSalt = id === KDF_SCRYPT ? kdf.salt : Buffer.from(head.subarray(o + 16, o + 32));
  const stored = head.subarray(size - 16, size);
  const { key, check } = expand(master, hkdfSalt, id);
  if (!timingSafeEqual(stored, check)) {
    throw new ArchiveError(`${file}: wrong key — this ${generated ? "key" : "passphrase"} does not open the archive (nothing was restored)`);
  }
  return { header: Buffer.from(head.subarray(0, size)), key };
}

function checkPassphrase(passphrase: string | Buffer): void {
  if (passphrase.length < 16) throw new ArchiveError("the backup key must be at least 16 characters (use a generated secret)");
}

function nonceOf(index: bigint): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(index, 4);
  return n;
}

function aadOf(header: Buffer, index: bigint, final: boolean): Buffer {
  const a = Buffer.alloc(header.length + 9);
  header.copy(a, 0);
  a.writeBigUInt64BE(index, header.length);
  a[header.length + 8] = final ? 1 : 0;
  return a;
}

/** Plaintext in, the sealed archive out (header first). Memory: one chunk; the plaintext is encrypted from the pieces it came in, never joined first. */
export class EncryptStream extends Transform {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private index = 0n;

  constructor(private readonly k: ArchiveKey) {
    super();
    this.push(k.header);
  }

  override _transform(data: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.pending.push(data);
    this.pendingBytes += data.length;
    // A full chunk is sealed once more data follows it: the last one is sealed as final in _flush.
    while (this.pendingBytes > CHUNK_BYTES) this.seal(CHUNK_BYTES, false);
    done();
  }

  override _flush(done: TransformCallback): void {
    this.seal(this.pendingBytes, true);
    done();
  }

  /** Seals the first `n` pending bytes as one chunk: length, ciphertext (GCM keeps the length), tag. */
  private seal(n: number, final: boolean): void {
    const c = createCipheriv("aes-256-gcm", this.k.key, nonceOf(this.index));
    c.setAAD(aadOf(this.k.header, this.index, final));
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(n);
    this.push(len);
    for (let left = n; left > 0; ) {
      const p = this.pending[0];
      const piece = p.length <= left ? p : p.subarray(0, left);
      if (piece === p) this.pending.shift();
      else this.pending[0] = p.subarray(left);
      left -= piece.length;
      const out = c.update(piece);
      if (out.length) this.push(out);
    }
    this.pendingBytes -= n;
    const rest = c.final();
    if (rest.length) this.push(rest);
    this.push(c.getAuthTag());
    this.index++;
  }
}

/**
 * The sealed archive in (starting right after the header), plaintext out, chunk by chunk: nothing
 * leaves before its chunk authenticated. Ends with ArchiveError on any damage or a missing end.
 */
export class DecryptStream extends Transform {
  private queue = new ByteQueue();
  private index = 0n;
  private sawFinal = false;

  constructor(
    private readonly k: ArchiveKey,
    private readonly file = "the archive",
  ) {
    super();
  }

  override _transform(data: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.queue.push(data);
    try {
      this.drain();
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.drain();
      if (!this.sawFinal) throw new ArchiveError(`${this.file} is truncated: it ends after chunk ${this.index} without the final chunk`);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  private drain(): void {
    for (;;) {
      if (this.queue.length === 0) return;
      if (this.sawFinal) throw new ArchiveError(`${this.file} has ${this.queue.length} unexpected bytes after its final chunk (tampered)`);
      if (this.queue.length < 4) return;
      const len = this.queue.peek(4).readUInt32BE(0);
      if (len > CHUNK_BYTES) throw new ArchiveError(`${this.file} is damaged: chunk ${this.index} claims ${len} bytes (at most ${CHUNK_BYTES})`);
      const whole = 4 + len + TAG_BYTES;
      if (this.queue.length < whole) return;
      const chunk = this.queue.take(whole);
      const body = chunk.subarray(4, 4 + len);
      const tag = chunk.subarray(4 + len);
      // The final flag is not stored: try "not final" first, then "final" — the tag tells which is true.
      const plain = this.open(body, tag, false) ?? this.open(body, tag, true);
      if (!plain) throw new ArchiveError(`${this.file} is damaged or was tampered with: chunk ${this.index} fails authentication`);
      if (plain.final) this.sawFinal = true;
      this.index++;
      if (plain.data.length) this.push(plain.data);
    }
  }

  private open(body: Buffer, tag: Buffer, final: boolean): { data: Buffer; final: boolean } | undefined {
    const d = createDecipheriv("aes-256-gcm", this.k.key, nonceOf(this.index));
    d.setAAD(aadOf(this.k.header, this.index, final));
    d.setAuthTag(tag);
    try {
      const data = d.update(body);
      // GCM's final() authenticates and returns nothing: no second copy of the chunk to join it.
      const rest = d.final();
      return { data: rest.length ? Buffer.concat([data, rest]) : data, final };
    } catch {
      return undefined;
    }
  }
}

/** Buffers received in pieces, taken out in whole records without copying more than once. */
export class ByteQueue {
  private parts: Buffer[] = [];
  length = 0;

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.parts.push(b);
    this.length += b.length;
  }

  /** The first n bytes, left in the queue (n <= length). */
  peek(n: number): Buffer {
    if (this.parts[0].length >= n) return this.parts[0].subarray(0, n);
    const joined = Buffer.concat(this.parts);
    this.parts = [joined];
    return joined.subarray(0, n);
  }

  /** Removes and returns the first n bytes (n <= length). */
  take(n: number): Buffer {
    this.length -= n;
    const first = this.parts[0];
    if (first.length >= n) {
      if (first.length === n) this.parts.shift();
      else this.parts[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const p = this.parts[0];
      const k = Math.min(p.length, n - off);
      p.copy(out, off, 0, k);
      off += k;
      if (k === p.length) this.parts.shift();
      else this.parts[0] = p.subarray(k);
    }
    return out;
  }
}
