// The MongoDB part of a backup, through the driver (no mongodump needed): per collection, its
// options (validator included) and indexes, and its documents as a stream of raw BSON — the bytes
// the server sent, so every type (ObjectId, Date, Decimal128, Binary, Int32 vs Double) survives.
import { BSON, type Db, type Document, type MongoClient } from "mongodb";
import type { ArchiveWriter, PartReader } from "./container";

export interface MongoCollectionManifest {
  name: string;
  type: "collection" | "view";
  documents: number;
  indexes: number;
  /** Bytes of the collection's documents on the server (collStats size), when it says. */
  sizeBytes?: number;
  part: string;
}

export interface MongoManifest {
  server: string;
  database: string;
  collections: MongoCollectionManifest[];
}

export class MongoBackupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "MongoBackupError";
  }
}

interface CollectionMeta {
  name: string;
  type: "collection" | "view";
  /** Canonical Extended JSON of the create options (validator, capped, collation, viewOn, …). */
  options: Document;
  /** Canonical Extended JSON of the index specs, without `_id_`. */
  indexes: Document[];
}

const ejson = (v: Document) => BSON.EJSON.serialize(v, { relaxed: false }) as Document;
const fromEjson = (v: Document) => BSON.EJSON.deserialize(v, { relaxed: false }) as Document;
const FRAME_BYTES = 256 << 10;

async function collectionsOf(db: Db): Promise<{ name: string; type: "collection" | "view"; options: Document }[]> {
  const list = await db.listCollections({}, { nameOnly: false }).toArray();
  return list
    .filter((c) => !c.name.startsWith("system.") && (c.type === "collection" || c.type === "view" || c.type === undefined))
    .map((c) => ({ name: c.name, type: (c.type === "view" ? "view" : "collection") as "collection" | "view", options: (c as { options?: Document }).options ?? {} }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export interface MongoBackupOptions {
  client: MongoClient;
  database: string;
  onProgress?: (documents: number) => void;
}

/** Streams every collection of the database into the open archive, one part per collection. */
export async function backupMongo(writer: ArchiveWriter, opts: MongoBackupOptions): Promise<MongoManifest> {
  const db = opts.client.db(opts.database);
  const build = (await db.admin().command({ buildInfo: 1 })) as { version?: string; ferretdbVersion?: string };
  const collections: MongoCollectionManifest[] = [];
  let total = 0;
  for (const c of await collectionsOf(db)) {
    const coll = db.collection(c.name);
    const indexes = c.type === "view" ? [] : (await coll.listIndexes().toArray()).filter((i) => i.name !== "_id_").map(({ v: _v, ns: _ns, ...spec }) => spec);
    const meta: CollectionMeta = { name: c.name, type: c.type, options: ejson(c.options), indexes: indexes.map(ejson) };
    const part = `mongo/${c.name}.bson`;
    await writer.beginPart({ name: part, kind: "mongo", meta });
    let documents = 0;
    if (c.type === "collection") {
      let batch: Buffer[] = [];
      let batchBytes = 0;
      // raw: the driver hands over each document's BSON bytes untouched.
      for await (const raw of coll.find({}, { raw: true, batchSize: 2000, sort: { _id: 1 } }) as AsyncIterable<unknown>) {
        const b = raw as Buffer;
        batch.push(b);
        batchBytes += b.length;
        documents++;
        if (batchBytes >= FRAME_BYTES) {
          await writer.write(Buffer.concat(batch, batchBytes));
          batch = [];
          batchBytes = 0;
          opts.onProgress?.(total + documents);
        }
      }
      if (batchBytes) await writer.write(Buffer.concat(batch, batchBytes));
    }
    await writer.endPart();
    total += documents;
    let sizeBytes: number | undefined;
    if (c.type === "collection") {
      sizeBytes = await db
        .command({ collStats: c.name })
        .then((s) => Number((s as { size?: number }).size))
        .catch(() => undefined);
    }
    collections.push({ name: c.name, type: c.type, documents, indexes: indexes.length, sizeBytes: Number.isFinite(sizeBytes) ? sizeBytes : undefined, part });
  }
  return { server: build.ferretdbVersion ? `FerretDB ${build.ferretdbVersion} (MongoDB ${build.version})` : `MongoDB ${build.version}`, database: opts.database, collections };
}

export interface MongoTargetState {
  /** Collections of the target database that hold documents or that the archive would create. */
  collisions: { name: string; documents: number }[];
}

/** Reads the target database: what of it would collide with the archive's collections. */
export async function inspectMongoTarget(client: MongoClient, database: string, m: MongoManifest): Promise<MongoTargetState> {
  const db = client.db(database);
  const inArchive = new Set(m.collections.map((c) => c.name));
  const collisions: MongoTargetState["collisions"] = [];
  for (const c of await collectionsOf(db)) {
    const documents = c.type === "view" ? 0 : await db.collection(c.name).estimatedDocumentCount();
    if (inArchive.has(c.name) || documents > 0) collisions.push({ name: c.name, documents });
  }
  return { collisions };
}

export function checkMongoTarget(database: string, t: MongoTargetState, opts: { replace?: boolean }): void {
  if (t.collisions.length > 0 && !opts.replace) {
    const list = t.collisions.map((c) => `${c.name} (${c.documents} documents)`).join(", ");
    throw new MongoBackupError(`MongoDB database ${database} is not empty: ${list}. Restore into an empty database, or pass --replace to drop and reload the archive's collections`);
  }
}

export interface MongoRestoreOptions {
  client: MongoClient;
  database: string;
  replace?: boolean;
  batchSize?: number;
  onProgress?: (documents: number) => void;
}

/** Restores one collection part: create with its options, insert its documents, then build its indexes. */
export async function restoreMongoCollection(part: PartReader, opts: MongoRestoreOptions): Promise<number> {
  const meta = part.meta as CollectionMeta;
  const db = opts.client.db(opts.database);
  if (opts.replace) await db.collection(meta.name).drop().catch(() => false);
  const options = fromEjson(meta.options);
  try {
    await db.command({ create: meta.name, ...options });
  } catch (err) {
    throw new MongoBackupError(`cannot create collection ${opts.database}.${meta.name} with its archived options: ${(err as Error).message}`, { cause: err });
  }
  const coll = db.collection(meta.name);
  const batchSize = opts.batchSize ?? 1000;
  let docs: Document[] = [];
  let count = 0;
  const flush = async () => {
    if (docs.length === 0) return;
    // Documents go back as they were, even ones the current validator would refuse.
    await coll.insertMany(docs, { ordered: true, bypassDocumentValidation: true });
    count += docs.length;
    docs = [];
    opts.onProgress?.(count);
  };
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of part.chunks()) {
    let buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readInt32LE(off);
      if (len < 5) throw new MongoBackupError(`${part.name}: a document of ${len} bytes (damaged archive)`);
      if (buf.length - off < len) break;
      // promoteValues: false keeps Int32, Double and Long as they were instead of turning them into numbers.
      docs.push(BSON.deserialize(buf.subarray(off, off + len), { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true }));
      off += len;
      if (docs.length >= batchSize) await flush();
    }
    buf = buf.subarray(off);
    rest = Buffer.from(buf);
  }
  if (rest.length) throw new MongoBackupError(`${part.name}: ${rest.length} bytes after the last whole document (damaged archive)`);
  await flush();
  await keepValidator(db, meta.name, options, opts.database);
  if (meta.indexes.length > 0) {
    try {
      await db.command({ createIndexes: meta.name, indexes: meta.indexes.map(fromEjson) });
    } catch (err) {
      throw new MongoBackupError(`cannot build the indexes of ${opts.database}.${meta.name}: ${(err as Error).message}`, { cause: err });
    }
  }
  return count;
}

const VALIDATION_KEYS = ["validator", "validationLevel", "validationAction"] as const;

/**
 * Servers of DocumentDB's dialect (FerretDB v2, vCore-based Cosmos DB) drop a validator given to
 * `create` and keep one set with `collMod`: after the documents are in, a validator the archive has
 * and the server did not keep is set with `collMod`, then read back. A server that keeps neither
 * fails the restore by name rather than leave the collection unvalidated without a word.
 */
async function keepValidator(db: ReturnType<MongoClient["db"]>, name: string, options: Document, database: string): Promise<void> {
  if (!options.validator) return;
  const kept = async () => {
    const [info] = await db.listCollections({ name }).toArray();
    return (info as { options?: Document } | undefined)?.options?.validator !== undefined;
  };
  if (await kept()) return;
  const mod = Object.fromEntries(VALIDATION_KEYS.filter((k) => options[k] !== undefined).map((k) => [k, options[k]]));
  try {
    await db.command({ collMod: name, ...mod });
  } catch (err) {
    throw new MongoBackupError(`cannot set the archived validator of ${database}.${name} (collMod after create dropped it): ${(err as Error).message}`, { cause: err });
  }
  if (!(await kept())) throw new MongoBackupError(`the server keeps no validator on ${database}.${name}, neither from create nor from collMod: the archived validator cannot be restored there`);
}

/** Document counts of the target after a restore, against the manifest; the differences, in words. */
export async function verifyMongoRestore(client: MongoClient, database: string, m: MongoManifest): Promise<string[]> {
  const db = client.db(database);
  const problems: string[] = [];
  for (const c of m.collections) {
    if (c.type !== "collection") continue;
    const n = await db.collection(c.name).countDocuments();
    if (n !== c.documents) problems.push(`${database}.${c.name}: ${n} documents, the archive has ${c.documents}`);
  }
  return problems;
}
