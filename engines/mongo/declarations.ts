// The shape of what `mongo/` declares, and the checks that run on it before anything is sent to a
// server. Plain data: no driver, no Pulumi.

/** A `$jsonSchema` node as MongoDB accepts it (a subset of JSON Schema draft 4 plus `bsonType`). */
export interface BsonSchema {
  bsonType?: BsonType | BsonType[];
  type?: string | string[];
  description?: string;
  title?: string;
  enum?: unknown[];
  required?: string[];
  properties?: Record<string, BsonSchema>;
  patternProperties?: Record<string, BsonSchema>;
  additionalProperties?: boolean | BsonSchema;
  items?: BsonSchema | BsonSchema[];
  additionalItems?: boolean | BsonSchema;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minProperties?: number;
  maxProperties?: number;
  dependencies?: Record<string, string[] | BsonSchema>;
  allOf?: BsonSchema[];
  anyOf?: BsonSchema[];
  oneOf?: BsonSchema[];
  not?: BsonSchema;
}

/** The `bsonType` aliases MongoDB's `$jsonSchema` understands. */
export const BSON_TYPES = [
  "double", "string", "object", "array", "binData", "undefined", "objectId", "bool", "date", "null",
  "regex", "dbPointer", "javascript", "symbol", "javascriptWithScope", "int", "timestamp", "long",
  "decimal", "minKey", "maxKey", "number",
] as const;
export type BsonType = (typeof BSON_TYPES)[number];

/** JSON Schema keywords MongoDB's `$jsonSchema` accepts; anything else makes `create` fail. */
export const SCHEMA_KEYWORDS: ReadonlySet<string> = new Set([
  "bsonType", "type", "description", "title", "enum", "required", "properties", "patternProperties",
  "additionalProperties", "items", "additionalItems", "minimum", "maximum", "exclusiveMinimum",
  "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern", "minItems", "maxItems",
  "uniqueItems", "minProperties", "maxProperties", "dependencies", "allOf", "anyOf", "oneOf", "not",
]);
/** JSON types `$jsonSchema` accepts in `type` (no "integer": MongoDB refuses it, use bsonType "int"). */
const JSON_TYPES = new Set(["object", "array", "number", "boolean", "string", "null"]);

export type ValidationLevel = "off" | "strict" | "moderate";
export type ValidationAction = "error" | "warn";

/** A collection's validator: the `$jsonSchema` document as stored in `mongo/schemas/*.json`. */
export interface CollectionValidator {
  $jsonSchema: BsonSchema;
}

export type IndexKeyValue = 1 | -1 | "text" | "hashed" | "2dsphere";

export interface IndexDeclaration {
  /** The platform query this index serves, in words (kept next to the index for reviewers). */
  serves: string;
  /** Fields in order; 1 ascending, -1 descending, "text" for a text index. */
  key: Record<string, IndexKeyValue>;
  /** Defaults to MongoDB's own naming (`field_1_other_-1`, `field_text`). */
  name?: string;
  unique?: boolean;
  sparse?: boolean;
  /** Index only the documents that match (an equality/`$exists`/comparison filter). */
  partialFilterExpression?: Record<string, unknown>;
  /** Makes a single-field index on a date field a TTL index. */
  expireAfterSeconds?: number;
  /** Text indexes only: relative weight per text field (default 1 each). */
  weights?: Record<string, number>;
  /** Text indexes only: stemming language (MongoDB's default: "english"). */
  defaultLanguage?: string;
}

export interface CollectionDeclaration {
  name: string;
  validator?: CollectionValidator;
  /** Default "strict". */
  validationLevel?: ValidationLevel;
  /** Default "error". */
  validationAction?: ValidationAction;
  indexes: IndexDeclaration[];
}

/** The collection where the reconciler records which collections and indexes it manages. */
export const MANAGED_RECORD_COLLECTION = "nexus_db_managed";
/** Scratch collections of the capability probe start with this. */
export const PROBE_COLLECTION_PREFIX = "nexus_db_probe_";

export const TTL_MAX_SECONDS = 2_147_483_647;

/** MongoDB's default index name for a key pattern: `a_1_b_-1`, `title_text`. */
export function defaultIndexName(key: Record<string, IndexKeyValue>): string {
  return Object.entries(key)
    .map(([field, dir]) => `${field}_${dir}`)
    .join("_");
}

export function indexName(ix: IndexDeclaration): string {
  return ix.name ?? defaultIndexName(ix.key);
}

export function isTextIndex(ix: Pick<IndexDeclaration, "key">): boolean {
  return Object.values(ix.key).includes("text");
}

/** One thing wrong with the declarations, located by collection (and index). */
export interface DeclarationProblem {
  where: string;
  message: string;
}

export class DeclarationError extends Error {
  constructor(readonly problems: DeclarationProblem[]) {
    super(
      `invalid Mongo declarations (${problems.length} problem${problems.length === 1 ? "" : "s"}), nothing was sent:\n` +
        problems.map((p) => `  ${p.where}: ${p.message}`).join("\n"),
    );
    this.name = "DeclarationError";
  }
}

/** Every problem in the declarations; empty when they can be sent. */
export function checkDeclarations(collections: readonly CollectionDeclaration[]): DeclarationProblem[] {
  const problems: DeclarationProblem[] = [];
  const seenCollections = new Set<string>();
  for (const [ci, c] of collections.entries()) {
    const where = c?.name ? `collection ${c.name}` : `collection #${ci + 1}`;
    const add = (message: string, at = where) => problems.push({ where: at, message });
    if (typeof c?.name !== "string" || c.name.length === 0) {
      add("has no name");
      continue;
    }
    if (c.name.includes("$") || c.name.includes("\0") || c.name.startsWith("system.")) {
      add(`"${c.name}" is not a valid collection name (no "$", no NUL, no "system." prefix)`);
    }
    if (c.name === MANAGED_RECORD_COLLECTION || c.name.startsWith(PROBE_COLLECTION_PREFIX)) {
      add(`"${c.name}" is reserved for the reconciler's own bookkeeping`);
    }
    if (seenCollections.has(c.name)) add("is declared twice");
    seenCollections.add(c.name);

    if (c.validationLevel !== undefined && !["off", "strict", "moderate"].includes(c.validationLevel)) {
      add(`validationLevel "${String(c.validationLevel)}" is not one of off, strict, moderate`);
    }
    if (c.validationAction !== undefined && !["error", "warn"].includes(c.validationAction)) {
      add(`validationAction "${String(c.validationAction)}" is not one of error, warn`);
    }
    if (c.validator !== undefined) {
      const js = (c.validator as { $jsonSchema?: unknown }).$jsonSchema;
      const extra = Object.keys(c.validator).filter((k) => k !== "$jsonSchema");
      if (!isPlainObject(js)) add("validator has no $jsonSchema object");
      else checkSchema(js, "$jsonSchema", (m) => add(m, `${where} validator`));
      if (extra.length > 0) add(`validator has keys besides $jsonSchema: ${extra.join(", ")}`);
    }

    if (!Array.isArray(c.indexes)) {
      add("has no indexes array (use [] for none)");
      continue;
    }
    const names = new Map<string, number>();
    const specs = new Map<string, string>();
    let textIndexes = 0;
    for (const [ii, ix] of c.indexes.entries()) {
      const keyEntries = isPlainObject(ix?.key) ? Object.entries(ix.key) : [];
      const name = keyEntries.length > 0 || ix?.name ? indexName(ix) : `#${ii + 1}`;
      const at = `index ${c.name}.${name}`;
      const addI = (m: string) => add(m, at);
      if (keyEntries.length === 0) {
        addI(`has no field: its key is ${JSON.stringify(ix?.key)}; name at least one field, e.g. { sha256: 1 }`);
        continue;
      }
      if (typeof ix.serves !== "string" || ix.serves.trim() === "") {
        addI("does not say which query it serves (set `serves`)");
      }
      for (const [field, dir] of keyEntries) {
        if (field === "" || field.startsWith("$") || field.split(".").some((p) => p === "")) {
          addI(`field "${field}" is not a valid field path`);
        }
        if (![1, -1, "text", "hashed", "2dsphere"].includes(dir as never)) {
          addI(`field "${field}" has direction ${JSON.stringify(dir)}; use 1, -1, "text", "hashed" or "2dsphere"`);
        }
      }
      if (name === "_id_") addI('"_id_" is the server\'s own index; do not declare it');
      const previous = names.get(name);
      if (previous !== undefined) {
        addI(`two indexes named "${name}" (#${previous + 1} and #${ii + 1}); give one a distinct name`);
      } else names.set(name, ii);
      const spec = JSON.stringify([keyEntries, !!ix.unique, !!ix.sparse, ix.partialFilterExpression ?? null]);
      const sameSpec = specs.get(spec);
      if (sameSpec !== undefined && sameSpec !== name) {
        addI(`has the same key and options as ${c.name}.${sameSpec}; the server refuses duplicates`);
      } else specs.set(spec, name);

      const text = isTextIndex(ix);
      if (text) textIndexes++;
      if (ix.expireAfterSeconds !== undefined) {
        if (!Number.isInteger(ix.expireAfterSeconds) || ix.expireAfterSeconds < 0 || ix.expireAfterSeconds > TTL_MAX_SECONDS) {
          addI(`expireAfterSeconds ${ix.expireAfterSeconds} must be a whole number of seconds from 0 to ${TTL_MAX_SECONDS}`);
        }
        if (keyEntries.length > 1) {
          addI(`TTL (expireAfterSeconds) on a compound index of ${keyEntries.length} fields; TTL needs a single date field`);
        }
        if (keyEntries.some(([f]) => f === "_id")) addI("TTL on _id is not allowed");
        if (text || keyEntries.some(([, d]) => d !== 1 && d !== -1)) addI("TTL needs an ascending or descending key");
      }
      if (ix.partialFilterExpression !== undefined) {
        if (!isPlainObject(ix.partialFilterExpression) || Object.keys(ix.partialFilterExpression).length === 0) {
          addI("partialFilterExpression must be a non-empty filter document");
        }
        if (ix.sparse) addI("partialFilterExpression and sparse cannot be combined");
      }
      if ((ix.weights !== undefined || ix.defaultLanguage !== undefined) && !text) {
        addI("weights/defaultLanguage apply to text indexes only");
      }
      if (ix.weights !== undefined) {
        for (const [f, w] of Object.entries(ix.weights)) {
          if (ix.key[f] !== "text") addI(`weight for "${f}", which is not a text field of this index`);
          if (!Number.isInteger(w) || w < 1 || w > 99999) addI(`weight of "${f}" must be an integer from 1 to 99999`);
        }
      }
      if (text && ix.unique) addI("a text index cannot be unique");
    }
    if (textIndexes > 1) add(`declares ${textIndexes} text indexes; a collection can have only one`);
  }
  return problems;
}

/** Throws a DeclarationError listing every problem, or returns the declarations unchanged. */
export function validateDeclarations<T extends readonly CollectionDeclaration[]>(collections: T): T {
  const problems = checkDeclarations(collections);
  if (problems.length > 0) throw new DeclarationError(problems);
  return collections;
}

function checkSchema(node: Record<string, unknown>, path: string, add: (m: string) => void): void {
  for (const [k, v] of Object.entries(node)) {
    const at = `${path}.${k}`;
    if (!SCHEMA_KEYWORDS.has(k)) {
      add(`${path}: keyword "${k}" is not supported by MongoDB's $jsonSchema`);
      continue;
    }
    switch (k) {
      case "bsonType": {
        const types = Array.isArray(v) ? v : [v];
        for (const t of types) {
          if (!(BSON_TYPES as readonly unknown[]).includes(t)) {
            add(`${at}: unknown bsonType ${JSON.stringify(t)} (known: ${BSON_TYPES.join(", ")})`);
          }
        }
        break;
      }
      case "type": {
        const types = Array.isArray(v) ? v : [v];
        for (const t of types) {
          if (!JSON_TYPES.has(t as string)) {
            add(`${at}: type ${JSON.stringify(t)} is not accepted by MongoDB${t === "integer" ? ' (use bsonType "int" or "long")' : ""}`);
          }
        }
        break;
      }
      case "properties":
      case "patternProperties":
        if (!isPlainObject(v)) add(`${at} must be an object`);
        else for (const [p, s] of Object.entries(v)) sub(s, `${at}.${p}`, add);
        break;
      case "dependencies":
        if (!isPlainObject(v)) add(`${at} must be an object`);
        else for (const [p, s] of Object.entries(v)) if (!Array.isArray(s)) sub(s, `${at}.${p}`, add);
        break;
      case "additionalProperties":
      case "additionalItems":
        if (typeof v !== "boolean") sub(v, at, add);
        break;
      case "items":
        if (Array.isArray(v)) v.forEach((s, i) => sub(s, `${at}[${i}]`, add));
        else sub(v, at, add);
        break;
      case "allOf":
      case "anyOf":
      case "oneOf":
        if (!Array.isArray(v) || v.length === 0) add(`${at} must be a non-empty array`);
        else v.forEach((s, i) => sub(s, `${at}[${i}]`, add));
        break;
      case "not":
        sub(v, at, add);
        break;
      case "required":
        if (!Array.isArray(v) || v.length === 0 || v.some((r) => typeof r !== "string")) {
          add(`${at} must be a non-empty array of field names`);
        }
        break;
      case "enum":
        if (!Array.isArray(v) || v.length === 0) add(`${at} must be a non-empty array`);
        break;
    }
  }
}

function sub(v: unknown, path: string, add: (m: string) => void): void {
  if (!isPlainObject(v)) add(`${path} must be a schema object`);
  else checkSchema(v, path, add);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}
