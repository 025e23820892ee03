// PostgreSQL is restored in the first pass over the archive: pg_restore runs while the rest of the
// archive is still being authenticated and the other targets checked, and commits only after. These
// tests damage an archive after the point where pg_restore has been fed (a later chunk, the end, the
// manifest's agreement with the part's header), or refuse another target then, and check that the
// refusal leaves the PostgreSQL target as it was — and that an archive whose part header predates
// this still restores, in two passes.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArchiveError, createBackup, MANIFEST_FORMAT, MANIFEST_VERSION, PostgresBackupError, RedisBackupError, redisClient, restoreBackup, type BackupManifest, type StoreTargets } from "../../../engines/backup";
import { ArchiveWriter, openArchive, readArchive, type PartHeader } from "../../../engines/backup/container";
import { ARCHIVE_HEADER_BYTES, CHUNK_BYTES, newArchiveKey } from "../../../engines/backup/crypto";
import { backupPostgres } from "../../../engines/backup/postgres";
import { freshDatabase, withClient, type FreshDatabase } from "../../helpers/pg";
import { startPrivateRedis, type PrivateRedis } from "../../helpers/redis-server";
import { generateKeys, generateRows, pgSnapshot, platformSchema } from "./data";

const KEY = "single pass test key, long enough";
/** Bytes of one sealed chunk in the file: length, ciphertext, tag. */
const SEALED_CHUNK = 4 + CHUNK_BYTES + 16;

/** Writes an archive of the PostgreSQL database alone whose part header is changed by `edit`. */
class EditedHeaderWriter extends ArchiveWriter {
  constructor(
    file: string,
    private readonly edit: (meta: Record<string, unknown>) => Record<string, unknown>,
  ) {
    super(file, newArchiveKey(KEY));
  }
  override beginPart(header: PartHeader): Promise<void> {
    return super.beginPart({ ...header, meta: this.edit({ ...(header.meta as Record<string, unknown>) }) });
  }
}

async function archiveWithEditedHeader(file: string, url: string, edit: (meta: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
  const writer = new EditedHeaderWriter(file, edit);
  const startedAt = new Date().toISOString();
  const postgres = await backupPostgres(writer, { url });
  const manifest: BackupManifest = { format: MANIFEST_FORMAT, formatVersion: MANIFEST_VERSION, tool: "test", startedAt, finishedAt: new Date().toISOString(), postgres, parts: writer.parts };
  await writer.finish(manifest);
}

describe("PostgreSQL restored in the first pass over the archive", () => {
  let source: FreshDatabase;
  let target: FreshDatabase;
  let redis: PrivateRedis;
  let dir: string;
  let archive: string;
  let pgBytes: number;

  const tablesOf = async (url: string) => Object.keys(await pgSnapshot(url)).filter((k) => !k.startsWith("indexes"));
  /** Restores (PostgreSQL alone by default); the error, and how many dump bytes pg_restore had been fed by then. */
  const restoreAlone = async (file: string, targets: StoreTargets = { postgres: { url: target.url } }): Promise<{ err: unknown; fed: number }> => {
    let fed = 0;
    const err = await restoreBackup({
      file,
      passphrase: KEY,
      targets,
      noOwner: true,
      onProgress: (e) => {
        if (e.store === "postgres") fed = e.bytes;
      },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { err, fed };
  };
  const damaged = (name: string, change: (b: Buffer) => Buffer): string => {
    const file = path.join(dir, name);
    writeFileSync(file, change(Buffer.from(readFileSync(archive))));
    return file;
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "nexus-backup-1pass-"));
    [source, target] = await Promise.all([freshDatabase("bk_1p_src"), freshDatabase("bk_1p_dst")]);
    redis = await startPrivateRedis();
    await platformSchema(source.url, { seeds: false });
    await generateRows(source.url, 30000);
    // A Redis part after the PostgreSQL one: chunks that pg_restore never needs, still to be read.
    await generateKeys((db) => redisClient({ url: redis.url }, db), 20_000);
    archive = path.join(dir, "pg-and-redis.nxdb");
    const r = await createBackup({ file: archive, passphrase: KEY, targets: { postgres: { url: source.url }, redis: { url: redis.url } } });
    pgBytes = r.manifest.parts.find((p) => p.kind === "postgres")!.bytes;
  }, 300_000);

  afterAll(async () => {
    await Promise.all([source, target].map((d) => d?.drop().catch(() => undefined)));
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the archive is large enough for these tests: its PostgreSQL part spans several chunks, and more chunks follow", () => {
    expect(pgBytes).toBeGreaterThan(CHUNK_BYTES * 3);
    expect(readFileSync(archive).length).toBeGreaterThan(ARCHIVE_HEADER_BYTES + 3 * SEALED_CHUNK);
  });

  it("damage in the last chunk, found after pg_restore was fed the whole dump but its last piece: refused, nothing stays", async () => {
    const file = damaged("end.nxdb", (b) => ((b[b.length - 40] ^= 0x01), b));
    const { err, fed } = await restoreAlone(file);
    expect(err).toBeInstanceOf(ArchiveError);
    expect((err as Error).message).toMatch(/fails authentication/);
    expect(fed).toBeGreaterThan(CHUNK_BYTES);
    expect(await tablesOf(target.url)).toEqual([]);
  });

  it("a cut-off archive: refused as truncated after pg_restore was fed, nothing stays", async () => {
    const file = damaged("cut.nxdb", (b) => b.subarray(0, b.length - SEALED_CHUNK / 2));
    const { err, fed } = await restoreAlone(file);
    expect(err).toBeInstanceOf(ArchiveError);
    expect((err as Error).message).toMatch(/truncated/);
    expect(fed).toBeGreaterThan(0);
    expect(await tablesOf(target.url)).toEqual([]);
  });

  it("damage inside the PostgreSQL part, in its last whole chunk: pg_restore is stopped, nothing stays", async () => {
    // The last chunk that holds nothing but the dump (the decryption runs a chunk or two ahead of pg_restore).
    const chunk = Math.floor(pgBytes / CHUNK_BYTES) - 1;
    expect(chunk).toBeGreaterThanOrEqual(2);
    const file = damaged("middle.nxdb", (b) => ((b[ARCHIVE_HEADER_BYTES + chunk * SEALED_CHUNK + 1000] ^= 0x01), b));
    const { err, fed } = await restoreAlone(file);
    expect(err).toBeInstanceOf(ArchiveError);
    expect(fed).toBeGreaterThan(0);
    expect(fed).toBeLessThan(pgBytes);
    expect(await tablesOf(target.url)).toEqual([]);
  });

  it("a part header that disagrees with the manifest: refused at the end, nothing stays", async () => {
    const file = path.join(dir, "disagree.nxdb");
    await archiveWithEditedHeader(file, source.url, (m) => ({ ...m, schemaVersion: Number(m.schemaVersion) - 1 }));
    const { err, fed } = await restoreAlone(file);
    expect(err).toBeInstanceOf(ArchiveError);
    expect((err as Error).message).toMatch(/header of its PostgreSQL part and its manifest disagree/);
    expect(fed).toBeGreaterThan(0);
    expect(await tablesOf(target.url)).toEqual([]);
  });

  it("another target refused after pg_restore was fed (a non-empty Redis): nothing stays in PostgreSQL either", async () => {
    const { err, fed } = await restoreAlone(archive, { postgres: { url: target.url }, redis: { url: redis.url } });
    expect(err).toBeInstanceOf(RedisBackupError);
    expect((err as Error).message).toMatch(/is not empty/);
    expect(fed).toBeGreaterThan(CHUNK_BYTES);
    expect(await tablesOf(target.url)).toEqual([]);
  });

  it("after those refusals the same target takes the good archive, identical to the source", async () => {
    const r = await restoreBackup({ file: archive, passphrase: KEY, targets: { postgres: { url: target.url } }, noOwner: true });
    expect(r.restored).toEqual({ postgres: true });
    expect(r.mismatches).toEqual([]);
    expect(r.skipped).toEqual(["redis: in the archive, but no target was given"]);
    expect(await pgSnapshot(target.url)).toEqual(await pgSnapshot(source.url));
    // Onto a now non-empty target: refused from the part's header, before pg_restore starts.
    let fed = 0;
    const again = await restoreBackup({ file: archive, passphrase: KEY, targets: { postgres: { url: target.url } }, onProgress: (e) => void (e.store === "postgres" && (fed = e.bytes)) }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(PostgresBackupError);
    expect((again as Error).message).toMatch(/is not empty/);
    expect(fed).toBe(0);
  });

  it("an archive whose part header predates the single pass restores in two passes, and its checks still hold", async () => {
    const file = path.join(dir, "older.nxdb");
    await archiveWithEditedHeader(file, source.url, ({ format, pgDump }) => ({ format, pgDump }));
    const key = await openArchive(file, KEY);
    let meta: unknown;
    await readArchive(file, key, async (p) => void (meta = p.meta));
    expect(Object.keys(meta as object).sort()).toEqual(["format", "pgDump"]);
    const fresh = await freshDatabase("bk_1p_old");
    try {
      const r = await restoreBackup({ file, passphrase: KEY, targets: { postgres: { url: fresh.url } }, noOwner: true });
      expect(r.mismatches).toEqual([]);
      expect(await pgSnapshot(fresh.url)).toEqual(await pgSnapshot(source.url));
      // A newer schema on the target is refused from the manifest, as before.
      await withClient(fresh.url, (c) => c.query("INSERT INTO schema_migrations (version, name, checksum, execution_ms) SELECT max(version) + 1, 'later', 'x', 0 FROM schema_migrations"));
      await expect(restoreBackup({ file, passphrase: KEY, targets: { postgres: { url: fresh.url } }, replace: true })).rejects.toThrow(/newer than the archive's/);
    } finally {
      await fresh.drop();
    }
  });
});
