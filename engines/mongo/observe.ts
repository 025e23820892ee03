// Reading what is on the server: collections with their validator options, their indexes, the
// reconciler's own record of what it manages, and the desired users. Read-only commands only.
import type { Db, Document } from "mongodb";
import { MANAGED_RECORD_COLLECTION } from "./declarations";
import { observeUsers, type DesiredUser, type ObservedUser } from "./users";

export interface ObservedIndex {
  name: string;
  key: Record<string, unknown>;
  unique?: boolean;
  sparse?: boolean;
  partialFilterExpression?: Document;
  expireAfterSeconds?: number;
  weights?: Record<string, number>;
  default_language?: string;
}

export interface ObservedCollection {
  name: string;
  type: string;
  validator?: Document;
  validationLevel?: string;
  validationAction?: string;
  indexes: ObservedIndex[];
}

/** One document per managed collection in `nexus_db_managed`. */
export interface ManagedRecord {
  _id: string;
  /** Index names the reconciler manages on this collection. */
  indexes: string[];
  /** The reconciler created the collection (only such collections may ever be dropped). */
  created: boolean;
}

export interface ObservedState {
  collections: Map<string, ObservedCollection>;
  managed: Map<string, ManagedRecord>;
  /** Desired users found on the server; undefined when users are not read (server lacks them). */
  users?: Map<string, ObservedUser>;
}

function toObservedIndex(i: Document): ObservedIndex {
  return {
    name: i.name,
    key: i.key,
    unique: i.unique,
    sparse: i.sparse,
    partialFilterExpression: i.partialFilterExpression,
    expireAfterSeconds: i.expireAfterSeconds === undefined ? undefined : Number(i.expireAfterSeconds),
    weights: i.weights,
    default_language: i.default_language,
  };
}

/** One collection's options and indexes as the server shows them now (undefined when absent). */
export async function observeCollection(db: Db, name: string): Promise<ObservedCollection | undefined> {
  const [c] = (await db.listCollections({ name }, { nameOnly: false }).toArray()) as Document[];
  if (!c) return undefined;
  const o = (c.options ?? {}) as Document;
  const listed = c.type === "view" ? [] : ((await db.collection(name).listIndexes().toArray()) as Document[]);
  return { name, type: c.type ?? "collection", validator: o.validator, validationLevel: o.validationLevel, validationAction: o.validationAction, indexes: listed.map(toObservedIndex) };
}

export async function observe(db: Db, opts: { users?: readonly DesiredUser[] } = {}): Promise<ObservedState> {
  // Cursors, not first batches: a database can hold more collections than one batch.
  const listed = (await db.listCollections({}, { nameOnly: false }).toArray()) as Document[];
  const collections = new Map<string, ObservedCollection>();
  for (const c of listed) {
    const o = (c.options ?? {}) as Document;
    collections.set(c.name, {
      name: c.name,
      type: c.type ?? "collection",
      validator: o.validator,
      validationLevel: o.validationLevel,
      validationAction: o.validationAction,
      indexes: [],
    });
  }
  for (const c of collections.values()) {
    if (c.type !== "collection" || c.name.startsWith("system.")) continue;
    const listedIndexes = (await db.collection(c.name).listIndexes().toArray()) as Document[];
    c.indexes = listedIndexes.map(toObservedIndex);
  }
  const managed = new Map<string, ManagedRecord>();
  if (collections.has(MANAGED_RECORD_COLLECTION)) {
    for (const d of await db.collection<Document>(MANAGED_RECORD_COLLECTION).find({}).toArray()) {
      managed.set(String(d._id), {
        _id: String(d._id),
        indexes: Array.isArray(d.indexes) ? d.indexes.map(String) : [],
        created: d.created === true,
      });
    }
  }
  const users = opts.users ? await observeUsers(db, opts.users) : undefined;
  return { collections, managed, users };
}
