// Restores that must be refused before anything is written — a damaged, truncated or wrongly keyed
// archive, a target at a newer schema version, a non-empty target — and targets that die half way
// through a restore (private servers, killed on purpose): a clear error, and a re-run completes.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MongoClient, type Db } from "mongodb";
import { ArchiveError, createBackup, PostgresBackupError, RedisBackupError, redisClient, restoreBackup, type StoreTargets } from "../../../engines/backup";
import { freshDatabase, withClient, type FreshDatabase } from "../../helpers/pg";
import { MONGODB_URL, pgUrlFor, uniqueSuffix } from "../../helpers/env";
import { generateKeys, generateRows, mongoSnapshot, pgSnapshot, platformSchema, redisSnapshot } from "./data";
import { startPrivatePostgres, type PrivatePostgres } from "../../helpers/private-pg";
import { startPrivateRedis, type PrivateRedis } from "../../helpers/redis-server";

const KEY = "fault test key, at least 16 characters";

describe("restores that are refused before anything is written", () => {
  let source: FreshDatabase;
  let emptyPg: FreshDatabase;
  let newerPg: FreshDatabase;
  let sourceRedis: PrivateRedis;
  let targetRedis: PrivateRedis;
  let mongo: MongoClient;
  let sourceMongo: Db;
  let targetMongo: Db;
  let dir: string;
  let archive: string;
  let keys: number;

  const targets = (pgUrl: string): StoreTargets => ({ postgres: { url: pgUrl }, mongo: { url: MONGODB_URL, database: targetMongo.databaseName }, redis: { url: targetRedis.url } });
  const untouched = async () => {
    expect(Object.keys(await pgSnapshot(emptyPg.url)).filter((k) => !k.startsWith("indexes"))).toEqual([]);
    expect(await mongoSnapshot(targetMongo)).toEqual({});
    expect((await redisSnapshot((db) => redisClient({ url: targetRedis.url }, db), [0, 1, 2, 3, 4, 5])).size).toBe(0);
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "nexus-backup-faults-"));
    [source, emptyPg, newerPg] = await Promise.all([freshDatabase("bk_src"), freshDatabase("bk_empty"), freshDatabase("bk_newer")]);
    [sourceRedis, targetRedis] = await Promise.all([startPrivateRedis(), startPrivateRedis()]);
    mongo = await new MongoClient(MONGODB_URL).connect();
    const suffix = uniqueSuffix();
    sourceMongo = mongo.db(`nexus_bk_src_${suffix}`);
    targetMongo = mongo.db(`nexus_bk_dst_${suffix}`);
    // The archive is of schema version 4; the "newer" target is at 5.
    await platformSchema(source.url, { targetVersion: 4, seeds: false });
    await platformSchema(newerPg.url);
    await sourceMongo.collection("reports").insertMany(Array.from({ length: 500 }, (_, i) => ({ n: i })));
    keys = await generateKeys((db) => redisClient({ url: sourceRedis.url }, db), 3000);
    archive = path.join(dir, "v4.nxdb");
    await createBackup({ file: archive, passphrase: KEY, targets: { postgres: { url: source.url }, mongo: { url: MONGODB_URL, database: sourceMongo.databaseName }, redis: { url: sourceRedis.url } } });
  }, 300_000);

  afterAll(async () => {
    await Promise.all([source, emptyPg, newerPg].map((d) => d?.drop().catch(() => undefined)));
    await sourceMongo?.dropDatabase().catch(() => undefined);
    await targetMongo?.dropDatabase().catch(() => undefined);
    await mongo?.close();
    await sourceRedis?.stop();
    await targetRedis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a corrupted archive is refused, nothing changed", async () => {
    const bytes = readFileSync(archive);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    const damaged = path.join(dir, "damaged.nxdb");
    writeFileSync(damaged, bytes);
    const err = await restoreBackup({ file: damaged, passphrase: KEY, targets: targets(emptyPg.url) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArchiveError);
    expect((err as Error).message).toMatch(/damaged or was tampered with: chunk \d+ fails authentication/);
    await untouched();
  });

  it("a truncated archive is refused, nothing changed", async () => {
    const bytes = readFileSync(archive);
    const cut = path.join(dir, "cut.nxdb");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 30));
    await expect(restoreBackup({ file: cut, passphrase: KEY, targets: targets(emptyPg.url) })).rejects.toThrow(/truncated/);
    await untouched();
  });

  it("a wrong key is refused, nothing changed", async () => {
    await expect(restoreBackup({ file: archive, passphrase: "not the key, but long enough", targets: targets(emptyPg.url) })).rejects.toThrow(/wrong key/);
    await untouched();
  });

  it("a restore onto a newer schema version is refused even with --replace, nothing changed", async () => {
    const before = await pgSnapshot(newerPg.url);
    const err = await restoreBackup({ file: archive, passphrase: KEY, targets: targets(newerPg.url), replace: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PostgresBackupError);
    expect((err as Error).message).toMatch(/is at schema version 5, newer than the archive's \(4\)/);
    expect(await pgSnapshot(newerPg.url)).toEqual(before);
    expect(await mongoSnapshot(targetMongo)).toEqual({});
    expect((await redisSnapshot((db) => redisClient({ url: targetRedis.url }, db), [0])).size).toBe(0);
  });

  it("a non-empty Redis target is refused without --replace, and the other stores are not written either", async () => {
    const r = await redisClient({ url: targetRedis.url }, 7);
    await r.set("someone:else", "1");
    try {
      const err = await restoreBackup({ file: archive, passphrase: KEY, targets: targets(emptyPg.url) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RedisBackupError);
      expect((err as Error).message).toMatch(/is not empty \(DB 7: 1 keys\).*--replace/);
      expect(Object.keys(await pgSnapshot(emptyPg.url)).filter((k) => !k.startsWith("indexes"))).toEqual([]);
      expect(await mongoSnapshot(targetMongo)).toEqual({});
    } finally {
      await r.del("someone:else");
      r.disconnect();
    }
  });

  it("the same archive restores into the empty targets (the refusals above were the checks, not the targets)", async () => {
    const r = await restoreBackup({ file: archive, passphrase: KEY, targets: targets(emptyPg.url) });
    expect(r.mismatches).toEqual([]);
    expect(r.restored.mongoDocuments).toBe(500);
    expect(r.restored.redisKeys).toBe(keys);
    expect(await pgSnapshot(emptyPg.url)).toEqual(await pgSnapshot(source.url));
    // A second restore onto the now non-empty targets is refused, then allowed with replace.
    await expect(restoreBackup({ file: archive, passphrase: KEY, targets: targets(emptyPg.url) })).rejects.toThrow(/not empty/);
    const again = await restoreBackup({ file: archive, passphrase: KEY, targets: targets(emptyPg.url), replace: true });
    expect(again.mismatches).toEqual([]);
  });
});

describe("a target that dies in the middle of a restore", () => {
  let source: FreshDatabase;
  let pg: PrivatePostgres;
  let redisSource: PrivateRedis;
  let redis: PrivateRedis;
  let dir: string;
  let archive: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "nexus-backup-kill-"));
    source = await freshDatabase("bk_kill");
    [pg, redisSource, redis] = await Promise.all([startPrivatePostgres(), startPrivateRedis(), startPrivateRedis()]);
    await platformSchema(source.url, { seeds: false });
    await generateRows(source.url, 6000);
    await generateKeys((db) => redisClient({ url: redisSource.url }, db), 30_000);
    archive = path.join(dir, "kill.nxdb");
    await createBackup({ file: archive, passphrase: KEY, targets: { postgres: { url: source.url }, redis: { url: redisSource.url } } });
    await withClient(pg.url, (c) => c.query("CREATE DATABASE nexus_restore"));
  }, 300_000);

  afterAll(async () => {
    await source?.drop().catch(() => undefined);
    await pg?.stop();
    await redisSource?.stop();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("PostgreSQL killed mid-restore: a clear error, nothing half-restored, and a re-run completes", async () => {
    const target = pgUrlFor("nexus_restore", pg.url);
    let killedAt = 0;
    const err = await restoreBackup({
      file: archive,
      passphrase: KEY,
      targets: { postgres: { url: target } },
      noOwner: true,
      onProgress: (e) => {
        if (e.store === "postgres" && !killedAt && e.bytes > 256 * 1024) {
          killedAt = e.bytes;
          pg.kill();
        }
      },
    }).catch((e: unknown) => e);
    expect(killedAt).toBeGreaterThan(0);
    expect(err).toBeInstanceOf(PostgresBackupError);
    expect((err as Error).message).toMatch(/pg_restore into .* failed[\s\S]*nothing of this restore stayed[\s\S]*run the same restore again/);
    await pg.start();
    // One transaction: the crash left no table behind, so the re-run finds an empty database.
    expect(Object.keys(await pgSnapshot(target)).filter((k) => !k.startsWith("indexes"))).toEqual([]);
    const r = await restoreBackup({ file: archive, passphrase: KEY, targets: { postgres: { url: target } }, noOwner: true });
    expect(r.mismatches).toEqual([]);
    const got = await pgSnapshot(target);
    const want = await pgSnapshot(source.url);
    for (const t of Object.keys(want).filter((k) => k.startsWith("public."))) expect(got[t], t).toEqual(want[t]);
  });

  it("Redis killed mid-restore: a clear error naming --replace, and a re-run with it completes", async () => {
    let killed = false;
    const err = await restoreBackup({
      file: archive,
      passphrase: KEY,
      targets: { redis: { url: redis.url } },
      onProgress: (e) => {
        if (e.store === "redis" && !killed && e.keys >= 5000) {
          killed = true;
          void redis.kill();
        }
      },
    }).catch((e: unknown) => e);
    expect(killed).toBe(true);
    expect(err).toBeInstanceOf(RedisBackupError);
    expect((err as Error).message).toMatch(/Run the restore again with --replace/);
    await redis.restart();
    const r = await restoreBackup({ file: archive, passphrase: KEY, targets: { redis: { url: redis.url } }, replace: true });
    expect(r.mismatches).toEqual([]);
    const connect = (u: string) => (db: number) => redisClient({ url: u }, db);
    const [want, got] = await Promise.all([redisSnapshot(connect(redisSource.url), [0, 1, 2, 3, 4, 5]), redisSnapshot(connect(redis.url), [0, 1, 2, 3, 4, 5])]);
    expect(got.size).toBe(want.size);
    expect([...got.entries()].sort()).toEqual([...want.entries()].sort());
  });
});
