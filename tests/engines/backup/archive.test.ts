// The archive format on its own (no servers): parts round-trip through the encrypted container,
// and every kind of damage — a flipped bit anywhere, a cut, chunks swapped, bytes appended, a
// wrong key — is refused by the reading pass with a clear error.
import { hkdfSync, randomBytes, scryptSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArchiveWriter, openArchive, readArchive } from "../../../engines/backup/container";
import { ARCHIVE_HEADER_BYTES, ArchiveError, CHUNK_BYTES, forgetDerivedKeys, generateArchiveKey, newArchiveKey } from "../../../engines/backup/crypto";

const PASS = "archive test passphrase 0123456789";
let dir: string;
let file: string;
let original: Buffer;
const big = randomBytes(3 * CHUNK_BYTES + 12345);
const small = Buffer.from("a small part");

async function readAll(f: string, pass = PASS): Promise<{ parts: Record<string, Buffer>; manifest: { parts: unknown[]; note: string } }> {
  const key = await openArchive(f, pass);
  const parts: Record<string, Buffer> = {};
  const { manifest } = await readArchive<{ parts: never[]; note: string }>(f, key, async (p) => {
    const bufs: Buffer[] = [];
    for await (const c of p.chunks()) bufs.push(c);
    parts[p.name] = Buffer.concat(bufs);
  });
  return { parts, manifest };
}

function variant(name: string, bytes: Buffer): string {
  const f = path.join(dir, name);
  writeFileSync(f, bytes);
  return f;
}

describe("archive container and encryption", () => {
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "nexus-archive-"));
    file = path.join(dir, "a.nxdb");
    const key = await newArchiveKey(PASS, { scryptLog2N: 12 });
    const w = new ArchiveWriter(file, key);
    await w.beginPart({ name: "big", kind: "test" });
    for (let off = 0; off < big.length; off += 70_000) await w.write(big.subarray(off, off + 70_000));
    await w.endPart();
    await w.beginPart({ name: "small", kind: "test", meta: { x: 1 } });
    await w.write(small);
    await w.endPart();
    await w.finish({ parts: w.parts, note: "manifest" });
    original = readFileSync(file);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("round-trips parts and the manifest; the content is not in the file in clear", async () => {
    const { parts, manifest } = await readAll(file);
    expect(parts.big.equals(big)).toBe(true);
    expect(parts.small.toString()).toBe("a small part");
    expect(manifest.note).toBe("manifest");
    expect(manifest.parts).toHaveLength(2);
    expect(original.includes(Buffer.from("a small part"))).toBe(false);
    expect(original.includes(Buffer.from("manifest"))).toBe(false);
    expect(original.includes(big.subarray(1000, 1032))).toBe(false);
  });

  it("a long part under backpressure leaves no listener behind (no MaxListenersExceededWarning)", async () => {
    const f = path.join(dir, "long.nxdb");
    const w = new ArchiveWriter(f, await newArchiveKey(PASS, { scryptLog2N: 12 }));
    const out = (w as unknown as { out: NodeJS.EventEmitter }).out;
    const warnings: string[] = [];
    const onWarning = (e: Error) => warnings.push(e.name);
    process.on("warning", onWarning);
    try {
      await w.beginPart({ name: "long", kind: "test" });
      const before = out.listenerCount("error"); // the writer's own and the pipe's
      const piece = randomBytes(CHUNK_BYTES);
      for (let i = 0; i < 24; i++) await w.write(piece); // each write fills the buffers: a wait for drain
      expect(out.listenerCount("error")).toBe(before);
      await w.endPart();
      await w.finish({ parts: w.parts });
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings).not.toContain("MaxListenersExceededWarning");
    expect((await readAll(f)).parts.long.length).toBe(24 * CHUNK_BYTES);
  });

  it("a wrong key is told apart from damage", async () => {
    await expect(readAll(file, "another passphrase 0123456789")).rejects.toThrow(/wrong key/);
  });

  it("a flipped bit anywhere — header, a middle chunk, a tag, the last chunk — is refused", async () => {
    for (const at of [ARCHIVE_HEADER_BYTES - 20, 12, ARCHIVE_HEADER_BYTES + 2, ARCHIVE_HEADER_BYTES + 100, Math.floor(original.length / 2), original.length - 5]) {
      const b = Buffer.from(original);
      b[at] ^= 0x04;
      const err = await readAll(variant(`flip-${at}`, b)).catch((e: unknown) => e);
      expect(err, `bit flipped at ${at}`).toBeInstanceOf(ArchiveError);
      expect((err as Error).message).toMatch(/damaged|tampered|wrong key|not a nexus-db backup|unsupported/);
    }
  });

  it("a cut-off archive is refused as truncated, at a chunk boundary or inside one", async () => {
    const chunk = 4 + CHUNK_BYTES + 16;
    for (const len of [ARCHIVE_HEADER_BYTES + chunk, ARCHIVE_HEADER_BYTES + 2 * chunk, original.length - 1, original.length - 100]) {
      const err = await readAll(variant(`cut-${len}`, original.subarray(0, len))).catch((e: unknown) => e);
      expect(err, `cut at ${len}`).toBeInstanceOf(ArchiveError);
      expect((err as Error).message).toMatch(/truncated/);
    }
  });

  it("swapped chunks and appended bytes are refused", async () => {
    const chunk = 4 + CHUNK_BYTES + 16;
    const h = ARCHIVE_HEADER_BYTES;
    const swapped = Buffer.concat([original.subarray(0, h), original.subarray(h + chunk, h + 2 * chunk), original.subarray(h, h + chunk), original.subarray(h + 2 * chunk)]);
    await expect(readAll(variant("swapped", swapped))).rejects.toThrow(/chunk 0 fails authentication/);
    await expect(readAll(variant("appended", Buffer.concat([original, Buffer.from("extra")])))).rejects.toThrow(/after its final chunk/);
    // A whole final chunk of another archive with the same key would still carry the wrong index.
    const dropped = Buffer.concat([original.subarray(0, h + chunk), original.subarray(h + 2 * chunk)]);
    await expect(readAll(variant("dropped", dropped))).rejects.toThrow(/fails authentication/);
  });

  it("archives sealed in one process share the scrypt salt, each under a key of its own; the header's salts are authenticated", async () => {
    const [a, b] = [await newArchiveKey(PASS, { scryptLog2N: 12 }), await newArchiveKey(PASS, { scryptLog2N: 12 })];
    expect(a.header[8]).toBe(2); // kdf 2: scrypt master, HKDF with the archive's salt
    expect(a.header.subarray(12, 28).equals(b.header.subarray(12, 28))).toBe(true); // the scrypt salt
    expect(a.header.subarray(28, 44).equals(b.header.subarray(28, 44))).toBe(false); // the archive salt
    expect(a.key.equals(b.key)).toBe(false);
    // Another archive salt in the header (a header of one archive spliced onto another) does not open.
    const spliced = Buffer.from(original);
    a.header.copy(spliced, 28, 28, 44);
    await expect(readAll(variant("spliced", spliced))).rejects.toThrow(/wrong key|damaged|tampered/);
  });

  it("an archive of the first format (kdf 1: the scrypt salt for HKDF too) still opens", async () => {
    const salt = randomBytes(16);
    const master = scryptSync(PASS, salt, 32, { N: 2 ** 12, r: 8, p: 1 });
    const hk = (info: string, n: number) => Buffer.from(hkdfSync("sha256", master, salt, info, n));
    const header = Buffer.concat([Buffer.from("NXDBENC1"), Buffer.from([1, 12, 8, 1]), salt, hk("nexus-db backup v1 key check", 16)]);
    const v1 = path.join(dir, "v1.nxdb");
    const w = new ArchiveWriter(v1, { header, key: hk("nexus-db backup v1 aes-256-gcm", 32) });
    await w.beginPart({ name: "small", kind: "test" });
    await w.write(small);
    await w.endPart();
    await w.finish({ parts: w.parts, note: "v1" });
    expect(readFileSync(v1).subarray(0, 44).equals(header)).toBe(true);
    const { parts, manifest } = await readAll(v1);
    expect(parts.small.toString()).toBe("a small part");
    expect(manifest.note).toBe("v1");
    await expect(readAll(v1, "another passphrase 0123456789")).rejects.toThrow(/wrong key/);
  });

  it("a generated key (nexus-db backup-key) seals without scrypt, and opens only with itself", async () => {
    const k = generateArchiveKey();
    expect(k).toMatch(/^nxdbk1-[A-Za-z0-9_-]{43}$/);
    expect(generateArchiveKey()).not.toBe(k);
    const f = path.join(dir, "generated.nxdb");
    forgetDerivedKeys();
    // A scrypt cost that fails at once if it is used (2^30 · 128 · r bytes): the generated key never goes through scrypt.
    const sealed = await newArchiveKey(k, { scryptLog2N: 30 });
    expect(sealed.header[8]).toBe(3);
    expect([...sealed.header.subarray(9, 12)]).toEqual([0, 0, 0]);
    const w = new ArchiveWriter(f, sealed);
    await w.beginPart({ name: "big", kind: "test" });
    await w.write(big);
    await w.endPart();
    await w.finish({ parts: w.parts, note: "generated" });
    const { parts, manifest } = await readAll(f, k);
    expect(parts.big.equals(big)).toBe(true);
    expect(manifest.note).toBe("generated");
    // Another generated key, a passphrase, a mistyped key, and the header's kdf byte turned into a passphrase archive's.
    await expect(readAll(f, generateArchiveKey())).rejects.toThrow(/wrong key — this key does not open/);
    await expect(readAll(f, PASS)).rejects.toThrow(/sealed with a generated key .* the key given is a passphrase/);
    await expect(readAll(f, k.slice(0, -1))).rejects.toThrow(/not a whole generated key/);
    await expect(newArchiveKey(`${k}x`)).rejects.toThrow(/not a whole generated key/);
    const asScrypt = readFileSync(f);
    asScrypt[8] = 2;
    asScrypt[9] = 12;
    asScrypt[10] = 8;
    asScrypt[11] = 1;
    await expect(readAll(variant("generated-as-scrypt", asScrypt), k)).rejects.toThrow(/wrong key/);
    // A passphrase archive does not open with a generated key either.
    await expect(readAll(file, k)).rejects.toThrow(/wrong key/);
  });

  it("a file that is not an archive is named as such", async () => {
    await expect(readAll(variant("plain.dump", Buffer.from("PGDMP not an archive at all, just some bytes to read")))).rejects.toThrow(/not a nexus-db backup archive/);
  });
});
