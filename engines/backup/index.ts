// Backups and restores of the three stores into one encrypted archive: no Pulumi here, so the CLI,
// the tests and the benchmark call the same functions.
//
// A backup writes one part per store unit (the PostgreSQL dump, each Mongo collection, each Redis
// database), then a manifest with versions, schema version, migration checksums, counts, sizes and
// each part's SHA-256. A restore reads the whole archive once to authenticate it (a wrong key, a
// flipped bit or a cut-off file stops it there), checks every target (empty, not at a newer schema
// version, client tools new enough), and only then writes — and counts what it wrote afterwards.
// PostgreSQL is restored during that first pass: `pg_restore` runs in one transaction that can
// only commit once the whole archive has been authenticated and every target checked.
import { statSync } from "node:fs";
import type { MongoClient } from "mongodb";
import type { Client } from "pg";
import { connectMongo, type MongoTlsSettings } from "../mongo/connection";
import { connect } from "../postgres";
import { openArchive, readArchive, ArchiveWriter, type PartSummary } from "./container";
import { ArchiveError, newArchiveKey } from "./crypto";
import { backupMongo, checkMongoTarget, inspectMongoTarget, restoreMongoCollection, verifyMongoRestore, type MongoManifest } from "./mongo";
import {
  backupPostgres,
  checkPostgresTarget,
  DEFAULT_HISTORY_TABLE,
  inspectPostgresTarget,
  postgresPartFacts,
  restorePostgres,
  startPostgresRestore,
  verifyPostgresRestore,
  type PostgresPartFacts,
  type PostgresRestoreInFlight,
  type PgTool,
  type PostgresManifest,
} from "./postgres";
import { backupRedis, checkRedisTarget, inspectRedisTarget, restoreRedisDatabase, type RedisManifest, type RedisTarget } from "./redis";

export { ArchiveError } from "./crypto";
export { PostgresBackupError, findPgTool, libpqTarget, userTables, type PostgresManifest } from "./postgres";
export { MongoBackupError, type MongoManifest } from "./mongo";
export { RedisBackupError, redisClient, redisInfo, databasesWithKeys, redactRedisUrl, type RedisManifest } from "./redis";

export const MANIFEST_FORMAT = "nexus-db-backup";
export const MANIFEST_VERSION = 1;

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  formatVersion: number;
  tool: string;
  startedAt: string;
  finishedAt: string;
  postgres?: PostgresManifest;
  mongo?: MongoManifest;
  redis?: RedisManifest;
  /** The warmup version the cache held (from the markers), when every marker agrees. */
  warmupVersion?: string;
  parts: PartSummary[];
}

/** Where the stores are. Each is optional: an archive holds the stores it was given. */
export interface StoreTargets {
  postgres?: { url: string; historyTable?: string };
  mongo?: { url: string; database: string; tls?: Partial<MongoTlsSettings> };
  redis?: RedisTarget & { markers?: { db: number; key: string }[] };
}

export type ProgressEvent = { store: "postgres"; bytes: number } | { store: "mongo"; collection: string; documents: number } | { store: "redis"; db: number; keys: number };

export interface BackupOptions {
  file: string;
  passphrase: string | Buffer;
  targets: StoreTargets;
  tool?: string;
  /** Lower scrypt cost (tests only). */
  scryptLog2N?: number;
  onProgress?: (e: ProgressEvent) => void;
}

export interface BackupResult {
  file: string;
  bytes: number;
  manifest: BackupManifest;
}

async function withMongo<T>(t: NonNullable<StoreTargets["mongo"]>, fn: (c: MongoClient) => Promise<T>): Promise<T> {
  const client = await connectMongo(t.url, t.tls);
  try {
    return await fn(client);
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Writes one archive of every store given. On failure no archive is left (only a removed `.partial`). */
export async function createBackup(opts: BackupOptions): Promise<BackupResult> {
  const { targets } = opts;
  if (!targets.postgres && !targets.mongo && !targets.redis) throw new Error("nothing to back up: give at least one of the PostgreSQL, MongoDB or Redis URLs");
  // The key is derived (scrypt, on the thread pool) while the first store is connected to and its dump starts.
  const key = newArchiveKey(opts.passphrase, { scryptLog2N: opts.scryptLog2N });
  const startedAt = new Date().toISOString();
  const writer = new ArchiveWriter(opts.file, key);
  try {
    await Promise.race([key, new Promise((r) => setTimeout(r, 0))]); // a bad passphrase fails here, before any store is touched
    const manifest: BackupManifest = { format: MANIFEST_FORMAT, formatVersion: MANIFEST_VERSION, tool: opts.tool ?? "nexus-db", startedAt, finishedAt: "", parts: [] };
    if (targets.postgres) {
      manifest.postgres = await backupPostgres(writer, { ...targets.postgres, onProgress: (bytes) => opts.onProgress?.({ store: "postgres", bytes }) });
    }
    if (targets.mongo) {
      const t = targets.mongo;
      manifest.mongo = await withMongo(t, (client) =>
        backupMongo(writer, { client, database: t.database, onProgress: (documents) => opts.onProgress?.({ store: "mongo", collection: "", documents }) }),
      );
    }
    if (targets.redis) {
      manifest.redis = await backupRedis(writer, { ...targets.redis, onProgress: (keys) => opts.onProgress?.({ store: "redis", db: -1, keys }) });
      manifest.warmupVersion = warmupVersionOf(manifest.redis);
    }
    manifest.finishedAt = new Date().toISOString();
    manifest.parts = writer.parts;
    await writer.finish(manifest);
    return { file: opts.file, bytes: statSync(opts.file).size, manifest };
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

function warmupVersionOf(r: RedisManifest): string | undefined {
  const versions = new Set<string>();
  for (const m of r.markers) {
    try {
      versions.add(String((JSON.parse(m.value) as { version?: string }).version));
    } catch {
      versions.add("unreadable");
    }
  }
  return versions.size === 1 ? [...versions][0] : undefined;
}

/** Authenticates the whole archive and returns its manifest; throws ArchiveError when it cannot be trusted. */
export async function verifyBackup(file: string, passphrase: string | Buffer): Promise<BackupManifest> {
  const key = await openArchive(file, passphrase);
  const { manifest } = await readArchive<BackupManifest>(file, key);
  checkFormat(file, manifest);
  return manifest;
}

function checkFormat(file: string, m: BackupManifest): void {
  if (m.format !== MANIFEST_FORMAT) throw new ArchiveError(`${file}: not a nexus-db backup manifest`);
  if (m.formatVersion > MANIFEST_VERSION) throw new ArchiveError(`${file} was written by a newer nexus-db (manifest version ${m.formatVersion}); update nexus-db to restore it`);
}

export interface RestoreOptions {
  file: string;
  passphrase: string | Buffer;
  targets: StoreTargets;
  /** Overwrite what the archive holds in a non-empty target (never a newer schema). */
  replace?: boolean;
  /** PostgreSQL: leave out ownership and grants. */
  noOwner?: boolean;
  onProgress?: (e: ProgressEvent) => void;
}

export interface RestoreResult {
  manifest: BackupManifest;
  restored: { postgres?: boolean; mongoDocuments?: number; redisKeys?: number };
  /** Stores the archive holds that were not restored (no target given), and targets with nothing in the archive. */
  skipped: string[];
  /** Differences between the restored stores and the manifest's counts (empty when all match). */
  mismatches: string[];
}

/**
 * Verifies the archive, checks every target, then restores. Throws before any write when a check
 * fails. PostgreSQL is restored in the first pass over the archive: its target is checked from the
 * part's header, `pg_restore` runs while the rest of the archive is authenticated and the other
 * targets are checked, and it commits only after all of that (startPostgresRestore); a damaged
 * archive or a refused target rolls it back. The other stores are written in a second pass.
 */
export async function restoreBackup(opts: RestoreOptions): Promise<RestoreResult> {
  // Reading the PostgreSQL target (no writes) overlaps the key derivation and the authentication pass.
  const pgHistory = opts.targets.postgres?.historyTable ?? DEFAULT_HISTORY_TABLE;
  const pgEarly = opts.targets.postgres ? inspectPostgresTarget(opts.targets.postgres.url, pgHistory) : undefined;
  pgEarly?.catch(() => undefined);
  const inspectPg = (url: string, history: string) => (history === pgHistory && pgEarly ? pgEarly : inspectPostgresTarget(url, history));
  const key = await openArchive(opts.file, opts.passphrase);
  const t = opts.targets;
  let verifying: Promise<Client> | undefined;
  const openVerifier = (url: string) => {
    verifying = connect(url, "restore verify");
    verifying.catch(() => undefined);
  };
  const pgTarget = t.postgres;
  const pgRestoreOptions = (url: string) => ({ url, replace: opts.replace, noOwner: opts.noOwner, onProgress: (bytes: number) => opts.onProgress?.({ store: "postgres", bytes }) });
  let inFlight: { restore: PostgresRestoreInFlight; facts: PostgresPartFacts } | undefined;
  let mongoClient: MongoClient | undefined;
  try {
    // Pass 1: authenticate everything. A damaged or tampered archive stops here, before anything
    // is written — PostgreSQL's restore, which starts in this pass, before its transaction commits.
    const { manifest } = await readArchive<BackupManifest>(
      opts.file,
      key,
      pgTarget &&
        (async (part) => {
          const facts = part.kind === "postgres" && !inFlight ? postgresPartFacts(part.meta) : undefined;
          if (!facts) return; // an archive from before the part's header carried them: restored in pass 3
          const tool = checkPostgresTarget(pgTarget.url, facts, await inspectPg(pgTarget.url, facts.historyTable), opts);
          openVerifier(pgTarget.url);
          inFlight = { restore: await startPostgresRestore(part, tool, pgRestoreOptions(pgTarget.url)), facts };
        }),
    );
    checkFormat(opts.file, manifest);
    const skipped: string[] = [];
    for (const store of ["postgres", "mongo", "redis"] as const) {
      if (manifest[store] && !t[store]) skipped.push(`${store}: in the archive, but no target was given`);
      if (!manifest[store] && t[store]) skipped.push(`${store}: a target was given, but the archive holds no ${store} part`);
    }
    const pg = manifest.postgres && t.postgres ? t.postgres : undefined;
    const mg = manifest.mongo && t.mongo ? t.mongo : undefined;
    const rd = manifest.redis && t.redis ? t.redis : undefined;
    const restored: RestoreResult["restored"] = {};
    if (inFlight) {
      const m = manifest.postgres;
      const f = inFlight.facts;
      if (!m || m.schemaVersion !== f.schemaVersion || m.historyTable !== f.historyTable || m.pgDump.major !== f.pgDump.major) {
        throw new ArchiveError(`${opts.file} is damaged: the header of its PostgreSQL part and its manifest disagree`);
      }
    }

    // Pass 2: every target is checked before anything is written to any of them (a PostgreSQL
    // restore under way since pass 1 has not committed yet: a refusal here rolls it back).
    let pgRestore: PgTool | undefined;
    if (pg && !inFlight) {
      const history = manifest.postgres!.historyTable ?? DEFAULT_HISTORY_TABLE;
      pgRestore = checkPostgresTarget(pg.url, manifest.postgres!, await inspectPg(pg.url, history), opts);
    }
    mongoClient = mg ? await connectMongo(mg.url, mg.tls) : undefined;
    if (mg) checkMongoTarget(mg.database, await inspectMongoTarget(mongoClient!, mg.database, manifest.mongo!), opts);
    if (rd) checkRedisTarget(rd.url, manifest.redis!, await inspectRedisTarget(rd), opts);
    if (inFlight) {
      await inFlight.restore.commit();
      restored.postgres = true;
    }

    // Pass 3: write what is not written yet. The connection that counts afterwards is opened meanwhile.
    if (pgRestore) openVerifier(pg!.url);
    let documents = 0;
    let keys = 0;
    if (pgRestore || mg || rd) {
      await readArchive<BackupManifest>(opts.file, key, async (part) => {
        if (part.kind === "postgres" && pgRestore) {
          await restorePostgres(part, pgRestore, pgRestoreOptions(pg!.url));
          restored.postgres = true;
        } else if (part.kind === "mongo" && mg) {
          const name = (part.meta as { name: string }).name;
          documents += await restoreMongoCollection(part, {
            client: mongoClient!,
            database: mg.database,
            replace: opts.replace,
            onProgress: (n) => opts.onProgress?.({ store: "mongo", collection: name, documents: documents + n }),
          });
          restored.mongoDocuments = documents;
        } else if (part.kind === "redis" && rd) {
          const db = (part.meta as { db: number }).db;
          keys += await restoreRedisDatabase(part, { ...rd, onProgress: (n) => opts.onProgress?.({ store: "redis", db, keys: keys + n }) });
          restored.redisKeys = keys;
        }
      });
    }

    // Pass 4: count what landed.
    const mismatches: string[] = [];
    if (pg) {
      const early = verifying;
      verifying = undefined; // closed by the verification
      mismatches.push(...(await verifyPostgresRestore(pg.url, manifest.postgres!, early)));
    }
    if (mg) mismatches.push(...(await verifyMongoRestore(mongoClient!, mg.database, manifest.mongo!)));
    if (rd) {
      const expected = manifest.redis!.databases.reduce((n, d) => n + d.keys, 0);
      if (keys !== expected) mismatches.push(`redis: restored ${keys} keys, the archive has ${expected}`);
    }
    return { manifest, restored, skipped, mismatches };
  } finally {
    // A PostgreSQL restore started in the first pass that never committed: killed, so rolled back.
    await inFlight?.restore.abort();
    await mongoClient?.close().catch(() => undefined);
    // A restore that failed before its verification: the connection opened for it is closed.
    await verifying?.then((c) => c.end()).catch(() => undefined);
  }
}
