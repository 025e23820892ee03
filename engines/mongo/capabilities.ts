// What the server can do, found out once by trying harmless commands on a scratch collection that
// is dropped afterwards. MongoDB-compatible servers answer `buildInfo` with a MongoDB version they
// do not fully implement, and some accept an option and silently drop it (FerretDB and `sparse`,
// FerretDB v2 and a validator given to `create`), so each feature is tried and read back, and a
// validator is tested with a document that violates it. The dialect found here (which `$jsonSchema`
// keywords the server refuses, where a validator must be set, the violation's error code, which
// roles exist and whether they bind) is what the planner adapts to (./dialect.ts).
import { randomBytes } from "node:crypto";
import { MongoClient, type Db, type Document } from "mongodb";
import { PROBE_COLLECTION_PREFIX, SCHEMA_KEYWORDS } from "./declarations";
import type { MongoFeature } from "./settings";
import { loginOptions, rolesText, sameRoles, usersInfo, type RoleRef } from "./users";

/** How the server takes and enforces validators. */
export interface ValidatorDialect {
  /** `create` keeps a validator given to it; when false it is set with `collMod` right after. */
  onCreate: boolean;
  /** `$jsonSchema` keywords the server refuses (they are lowered or reported, see dialect.ts). */
  unsupportedKeywords: string[];
  /** The server's answer to the first refused keyword, e.g. "BadValue (9): Unknown $jsonSchema keyword: required". */
  keywordAnswer?: string;
  /** Query operators beside `$jsonSchema` (in an `$and`) are enforced: what `required`/`enum` are lowered to. */
  queryOperators: boolean;
  /** `$expr` over `$objectToArray` is enforced: what `additionalProperties: false` is lowered to. */
  expr: boolean;
  /** The error code of a write that fails validation (MongoDB: 121 DocumentValidationFailure). */
  violationCode?: number;
}

/** How the server's users and roles work. */
export interface UserDialect {
  /**
   * "database": MongoDB's roles per database (read, readWrite); "cluster": only cluster-wide roles
   * (DocumentDB: readAnyDatabase, or clusterAdmin + readWriteAnyDatabase, all on admin); "ignored":
   * roles given to createUser are not kept, every user is stored with `storedAs` (FerretDB v2.7).
   */
  roles: "database" | "cluster" | "ignored";
  /** With "ignored": the roles the server gives every user. */
  storedAs?: RoleRef[];
  /** Whether a read-only user is refused a write through this endpoint; undefined when not measured. */
  enforced?: boolean;
  /** What the measurement saw, in words. */
  why?: string;
}

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
  /** Validators as this server takes them (meaningful when has.validators). */
  validation: ValidatorDialect;
  /** Users as this server keeps them (meaningful when has.users). */
  userRoles: UserDialect;
}

/** Bumped when the probe learns something new: a cached probe of an older kind is not reused. */
const PROBE_VERSION = 2;

/** A server with everything (for planning offline, and for tests of the commands sent). */
export function fullCapabilities(server = "assumed MongoDB 7"): Capabilities {
  return {
    server,
    has: { validators: true, collMod: true, ttlIndexes: true, partialIndexes: true, textIndexes: true, sparseIndexes: true, users: true },
    ttlInPlace: true,
    missing: {},
    validation: { onCreate: true, unsupportedKeywords: [], queryOperators: true, expr: true, violationCode: 121 },
    userRoles: { roles: "database", enforced: true },
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
  caps.build = JSON.stringify([info.version ?? null, info.gitVersion ?? null, info.ferretdbVersion ?? info.ferretdb ?? null, info.modules ?? null, PROBE_VERSION]);
  if (opts.previous?.build && opts.previous.build === caps.build && info.version !== undefined) return opts.previous;
  const ferretdb2 = (info.ferretdb as Document | undefined)?.version;
  caps.server =
    typeof ferretdb2 === "string"
      ? `FerretDB ${ferretdb2} on DocumentDB (reports MongoDB ${info.version})`
      : typeof info.ferretdbVersion === "string"
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

  const validator = { $jsonSchema: { bsonType: "object" } };
  let err = await tryCmd({ create: scratch, validator, validationLevel: "moderate", validationAction: "warn" });
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
    const options = async (): Promise<Document> => {
      const [c] = await db.listCollections({ name: scratch }, { nameOnly: false }).toArray();
      return ((c as Document | undefined)?.options ?? {}) as Document;
    };
    if (caps.has.validators) caps.validation.onCreate = (await options()).validator !== undefined;
    err = await tryCmd({ collMod: scratch, validationLevel: "strict" });
    if (err) fail("collMod", describe("collMod", err));
    if (caps.has.validators) await probeValidation(db, scratch, caps, options, tryCmd, fail);

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
  else await probeUsers(db, caps, tryCmd, fail);
  return caps;
}

type TryCmd = (cmd: Document) => Promise<unknown>;
type Fail = (f: MongoFeature, why: string) => void;

/** A `$jsonSchema` that uses one keyword harmlessly, per keyword the declarations may use. */
const KEYWORD_SAMPLES: Record<string, Document> = {
  bsonType: { bsonType: "object" },
  type: { bsonType: undefined, type: "object" },
  description: { description: "probe" },
  title: { title: "probe" },
  enum: { properties: { probe_e: { enum: [1, 2] } } },
  required: { required: ["_id"] },
  properties: { properties: { probe_p: { bsonType: "int" } } },
  patternProperties: { patternProperties: { "^probe_": { bsonType: "int" } } },
  additionalProperties: { additionalProperties: true },
  items: { properties: { probe_a: { items: { bsonType: "int" } } } },
  additionalItems: { properties: { probe_a: { items: [{ bsonType: "int" }], additionalItems: true } } },
  minimum: { properties: { probe_n: { minimum: 0 } } },
  maximum: { properties: { probe_n: { maximum: 10 } } },
  exclusiveMinimum: { properties: { probe_n: { minimum: 0, exclusiveMinimum: true } } },
  exclusiveMaximum: { properties: { probe_n: { maximum: 10, exclusiveMaximum: true } } },
  multipleOf: { properties: { probe_n: { multipleOf: 1 } } },
  minLength: { properties: { probe_s: { minLength: 1 } } },
  maxLength: { properties: { probe_s: { maxLength: 10 } } },
  pattern: { properties: { probe_s: { pattern: "^a" } } },
  minItems: { properties: { probe_a: { minItems: 0 } } },
  maxItems: { properties: { probe_a: { maxItems: 10 } } },
  uniqueItems: { properties: { probe_a: { uniqueItems: false } } },
  minProperties: { minProperties: 0 },
  maxProperties: { maxProperties: 1000 },
  dependencies: { dependencies: { probe_d: ["probe_e"] } },
  allOf: { allOf: [{ bsonType: "object" }] },
  anyOf: { anyOf: [{ bsonType: "object" }] },
  oneOf: { oneOf: [{ bsonType: "object" }] },
  not: { not: { bsonType: "array" } },
};

/**
 * Validators on the scratch collection (created just before): kept when set with collMod? a
 * violating insert refused, and with which code? which keywords refused? are the lowering targets
 * (query operators, $expr) enforced?
 */
async function probeValidation(db: Db, scratch: string, caps: Capabilities, options: () => Promise<Document>, tryCmd: TryCmd, fail: Fail): Promise<void> {
  const coll = db.collection(scratch);
  const setValidator = (validator: Document) => tryCmd({ collMod: scratch, validator, validationLevel: "strict", validationAction: "error" });
  const insertCode = async (doc: Document): Promise<number | undefined | "accepted"> => {
    try {
      await coll.insertOne({ ...doc }, { forceServerObjectId: true });
      return "accepted";
    } catch (e) {
      return (e as { code?: number }).code;
    }
  };
  const typed = { $jsonSchema: { bsonType: "object", properties: { probe_v: { bsonType: "int" } } } };
  let err = await setValidator(typed);
  if (err) return fail("validators", describe(caps.validation.onCreate ? "collMod with validator" : "create drops the validator, and collMod with validator", err));
  if ((await options()).validator === undefined) return fail("validators", "a validator set with create or collMod was accepted but not kept (listCollections shows none)");
  const code = await insertCode({ probe_v: "not an int" });
  if (code === "accepted") return fail("validators", "a validator was kept but a document violating it was accepted");
  caps.validation.violationCode = code;

  for (const [keyword, sample] of Object.entries(KEYWORD_SAMPLES)) {
    if (!SCHEMA_KEYWORDS.has(keyword)) continue;
    err = await setValidator({ $jsonSchema: JSON.parse(JSON.stringify({ bsonType: "object", ...sample })) });
    if (err) {
      caps.validation.unsupportedKeywords.push(keyword);
      caps.validation.keywordAnswer ??= describe(`collMod with $jsonSchema keyword ${keyword}`, err);
    }
  }
  // The lowering targets: accepted and enforced (a document without probe_r refused).
  err = await setValidator({ $and: [{ $jsonSchema: { bsonType: "object" } }, { probe_r: { $exists: true } }] });
  caps.validation.queryOperators = !err && (await insertCode({ probe_v: 1 })) !== "accepted" && (await insertCode({ probe_r: 1 })) === "accepted";
  err = await setValidator({ $expr: { $setIsSubset: [{ $map: { input: { $objectToArray: "$$ROOT" }, as: "f", in: "$$f.k" } }, ["_id", "probe_v"]] } });
  caps.validation.expr = !err && (await insertCode({ probe_x: 1 })) !== "accepted" && (await insertCode({ probe_v: 1 })) === "accepted";
  await tryCmd({ collMod: scratch, validator: {}, validationLevel: "off" });
}

/**
 * Which roles the server knows (a throwaway read-only user is created with MongoDB's per-database
 * `read`, else DocumentDB's `readAnyDatabase`), and whether that user is refused a write when it
 * logs in through the same endpoint. The user is dropped afterwards.
 */
async function probeUsers(db: Db, caps: Capabilities, tryCmd: TryCmd, fail: Fail): Promise<void> {
  const user = `${PROBE_COLLECTION_PREFIX}${randomBytes(4).toString("hex")}`;
  const pwd = randomBytes(18).toString("base64url");
  // A role the server accepts but does not store is as missing as one it refuses: read it back.
  const create = async (roles: RoleRef[]): Promise<{ refused?: string; stored: RoleRef[] }> => {
    const err = await tryCmd({ createUser: user, pwd, roles });
    if (err) return { refused: describe(`createUser with role ${roles[0].role}`, err), stored: [] };
    const info = await usersInfo(db, [user], false).catch(() => ({ users: [] }) as Document);
    return { stored: ((info.users as Document[] | undefined)?.[0]?.roles ?? []).map((r: Document) => ({ role: r.role, db: r.db })) };
  };
  const read = [{ role: "read", db: db.databaseName }];
  const anyRead = [{ role: "readAnyDatabase", db: "admin" }];
  const perDb = await create(read);
  if (perDb.refused || !sameRoles(perDb.stored, read)) {
    if (!perDb.refused) await tryCmd({ dropUser: user });
    const cluster = await create(anyRead);
    const said = (r: typeof perDb, asked: string) => r.refused ?? `createUser with role ${asked}: the server stored ${rolesText(r.stored)}`;
    if (cluster.refused) return fail("users", `${said(perDb, "read")}; ${said(cluster, "readAnyDatabase")}`);
    caps.userRoles = sameRoles(cluster.stored, anyRead)
      ? { roles: "cluster", why: said(perDb, "read") }
      : { roles: "ignored", storedAs: cluster.stored, why: `roles are not kept: ${said(perDb, "read")}; ${said(cluster, "readAnyDatabase")}` };
  }
  try {
    const { url, options } = loginOptions(db, user, pwd);
    const client = new MongoClient(url, options);
    try {
      await client.connect();
      await client.db(db.databaseName).collection(`${user}_write`).insertOne({ probe: 1 });
      caps.userRoles.enforced = false;
      caps.userRoles.why =
        caps.userRoles.roles === "ignored"
          ? caps.userRoles.why
          : `a user with only ${caps.userRoles.roles === "cluster" ? "readAnyDatabase" : "read"} could insert through this endpoint${caps.userRoles.why ? `; ${caps.userRoles.why}` : ""}`;
    } catch (e) {
      const code = (e as { code?: number }).code;
      if (code === 13 || /not authorized|permission denied|unauthorized/i.test((e as Error).message)) {
        caps.userRoles.enforced = true;
      } else {
        caps.userRoles.why = `roles not measured: ${describe("login and insert as a read-only user", e)}`;
      }
    } finally {
      await client.close().catch(() => undefined);
    }
    await tryCmd({ drop: `${user}_write` });
  } finally {
    await tryCmd({ dropUser: user });
  }
}
