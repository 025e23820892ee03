// What the server can do, found out once by trying harmless commands on a scratch collection that
// is dropped afterwards. MongoDB-compatible servers answer `buildInfo` with a MongoDB version they
// do not fully implement, and some accept an option and silently drop it (FerretDB and `sparse`),
// so each feature is tried and the result read back with listIndexes.
import { randomBytes } from "node:crypto";
import type { Db, Document } from "mongodb";
import { PROBE_COLLECTION_PREFIX } from "./declarations";
import type { MongoFeature } from "./settings";

export interface Capabilities {
  /** What the server says it is, e.g. "MongoDB 7.0.14" or "FerretDB (reports MongoDB 7.0.42)". */
  server: string;
  /** The server build as buildInfo reports it; a cached probe is reused only for the same build. */
  build?: string;
  has: Record<MongoFeature, boolean>;
  /** collMod can change a TTL index's expireAfterSeconds in place. */
  ttlInPlace: boolean;
  /** Why each missing feature is considered missing (the server's answer). */
  missing: Partial<Record<MongoFeature, string>>;
}

/** A server with everything (for planning offline, and for tests of the commands sent). */
export function fullCapabilities(server = "assumed MongoDB 7"): Capabilities {
  return {
    server,
    has: { validators: true, collMod: true, ttlIndexes: true, partialIndexes: true, textIndexes: true, sparseIndexes: true, users: true },
    ttlInPlace: true,
    missing: {},
  };
}

export class ProbeError extends Error {}

function describe(command: string, err: unknown): string {
  const e = err as { code?: number; codeName?: string; message?: string };
  const code = e.codeName ? `${e.codeName}${e.code !== undefined ? ` (${e.code})` : ""}` : "error";
  // FerretDB quotes the offending value as a Go structure dump; it says nothing to a reader.
  const message = (e.message ?? String(err)).split("\n")[0].replace(/ with value .*? is not/, " is not").slice(0, 160);
  return `${command}: ${code}: ${message}`;
}

export interface ProbeOptions {
  /** A previous probe of this server: reused, without any write, when buildInfo reports the same build. */
  previous?: Capabilities;
}

/** Tries each feature on a scratch collection of `db` (created and dropped here) and on users. */
export async function probeCapabilities(db: Db, opts: ProbeOptions = {}): Promise<Capabilities> {
  const caps = fullCapabilities();
  const fail = (f: MongoFeature, why: string) => {
    caps.has[f] = false;
    caps.missing[f] = why;
  };
  const info = await db.admin().command({ buildInfo: 1 }).catch(() => ({}) as Document);
  caps.build = JSON.stringify([info.version ?? null, info.gitVersion ?? null, info.ferretdbVersion ?? null, info.modules ?? null]);
  if (opts.previous?.build && opts.previous.build === caps.build && info.version !== undefined) return opts.previous;
  caps.server =
    typeof info.ferretdbVersion === "string"
      ? `FerretDB ${info.ferretdbVersion === "unknown" ? "" : info.ferretdbVersion + " "}(reports MongoDB ${info.version})`.replace("  ", " ")
      : `MongoDB ${info.version ?? "(version unknown)"}`;

  const scratch = `${PROBE_COLLECTION_PREFIX}${randomBytes(4).toString("hex")}`;
  const tryCmd = async (cmd: Document): Promise<unknown> => {
    try {
      await db.command(cmd);
      return undefined;
    } catch (err) {
      return err;
    }
  };

  let err = await tryCmd({
    create: scratch,
    validator: { $jsonSchema: { bsonType: "object" } },
    validationLevel: "moderate",
    validationAction: "warn",
  });
  if (err) {
    fail("validators", describe("create with validator", err));
    const plain = await tryCmd({ create: scratch });
    if (plain) {
      throw new ProbeError(
        `cannot probe the server's features: ${describe("create", plain)}; the reconciler needs to create and drop collections in ${db.databaseName}`,
      );
    }
  }
  try {
    err = await tryCmd({ collMod: scratch, validationLevel: "strict" });
    if (err) fail("collMod", describe("collMod", err));

    const probes: [MongoFeature, Document][] = [
      ["ttlIndexes", { key: { probe_ts: 1 }, name: "probe_ttl", expireAfterSeconds: 3600 }],
      ["partialIndexes", { key: { probe_p: 1 }, name: "probe_partial", partialFilterExpression: { probe_p: { $exists: true } } }],
      ["textIndexes", { key: { probe_t: "text" }, name: "probe_text" }],
      ["sparseIndexes", { key: { probe_s: 1 }, name: "probe_sparse", sparse: true }],
    ];
    for (const [feature, spec] of probes) {
      err = await tryCmd({ createIndexes: scratch, indexes: [spec] });
      if (err) fail(feature, describe(`createIndexes with ${Object.keys(spec).filter((k) => k !== "key" && k !== "name")[0] ?? "text key"}`, err));
    }
    // Read back: an option accepted but not kept is as missing as one refused.
    const listed = await db.command({ listIndexes: scratch });
    const byName = new Map<string, Document>((listed.cursor?.firstBatch ?? []).map((i: Document) => [i.name as string, i]));
    const kept: [MongoFeature, string, (i: Document) => boolean][] = [
      ["ttlIndexes", "probe_ttl", (i) => i.expireAfterSeconds === 3600],
      ["partialIndexes", "probe_partial", (i) => i.partialFilterExpression !== undefined],
      ["textIndexes", "probe_text", (i) => i.key?._fts === "text"],
      ["sparseIndexes", "probe_sparse", (i) => i.sparse === true],
    ];
    for (const [feature, name, ok] of kept) {
      const ix = byName.get(name);
      if (caps.has[feature] && (!ix || !ok(ix))) fail(feature, `index accepted but the option was not kept (listIndexes shows ${JSON.stringify(ix ?? null)})`);
    }
    if (caps.has.ttlIndexes && caps.has.collMod) {
      err = await tryCmd({ collMod: scratch, index: { name: "probe_ttl", expireAfterSeconds: 7200 } });
      caps.ttlInPlace = !err;
    } else caps.ttlInPlace = false;
  } finally {
    await tryCmd({ drop: scratch });
  }

  err = await tryCmd({ usersInfo: 1 });
  if (err) fail("users", describe("usersInfo", err));
  else {
    try {
      const r = await db.command({ rolesInfo: { role: "readWrite", db: db.databaseName } });
      if (!Array.isArray(r.roles) || r.roles.length === 0) fail("users", "rolesInfo: the built-in role readWrite is unknown");
    } catch (e) {
      fail("users", describe("rolesInfo (user roles)", e));
    }
  }
  return caps;
}
