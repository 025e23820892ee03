// Speaking a server's dialect while keeping the declarations' meaning. DocumentDB (FerretDB v2,
// vCore-based Cosmos DB) refuses some `$jsonSchema` keywords; most of what they say can be said with
// query operators that it enforces beside `$jsonSchema` in an `$and`:
//   required: [f]                 → { f: { $exists: true } }
//   enum                          → { f: { $in: […], $not: { $type: "array" } } } when f is present
//   additionalProperties: false   → $expr: the document's field names ⊆ the declared ones
//   a rule inside array items       → { a: { $not: { $elemMatch: { $nor: [rule] } } } } (no element breaks it)
//   title, description             → dropped (annotations: nothing to enforce)
// What cannot be said that way is reported by name (`collection.path.keyword`) as not enforced.
// Pure: no I/O.
import type { Document } from "mongodb";
import type { ValidatorDialect } from "./capabilities";
import type { BsonSchema, CollectionValidator } from "./declarations";

/** A declared rule the server cannot enforce. */
export interface UnenforcedRule {
  /** Its name, e.g. "consensus_results.vote_distribution.additionalProperties": what a stack allows. */
  rule: string;
  /** Why, in words. */
  why: string;
}

export interface LoweredValidator {
  /** The validator to send (equal to the declaration when the server takes every keyword). */
  validator: Document;
  /** What was rewritten, e.g. ["required → $exists (6)", "enum → $in (1)"]. */
  lowered: string[];
  unenforced: UnenforcedRule[];
}

const ANNOTATIONS = new Set(["title", "description"]);

interface Loc {
  /** Rule name prefix: the collection, then property names, `[]` for array items. */
  rule: string;
  /** Dotted path of this node from the current query root ("" = the root itself); null = no query can reach it. */
  field: string | null;
  /** The document's root (where `$$ROOT` is this node). */
  root: boolean;
}

/** The validator for a server of this dialect, with what was rewritten and what is lost. */
export function lowerValidator(collection: string, validator: CollectionValidator, dialect: ValidatorDialect): LoweredValidator {
  const unsupported = new Set(dialect.unsupportedKeywords);
  if (unsupported.size === 0) return { validator, lowered: [], unenforced: [] };
  const counts = new Map<string, number>();
  const unenforced: UnenforcedRule[] = [];
  const ctx = { unsupported, dialect, counts, unenforced };
  const { schema, conds } = walk(validator.$jsonSchema, { rule: collection, field: "", root: true }, ctx);
  return {
    validator: conds.length === 0 ? { $jsonSchema: schema } : { $and: [{ $jsonSchema: schema }, ...conds] },
    lowered: [...counts].map(([what, n]) => `${what} (${n})`),
    unenforced,
  };
}

interface Ctx {
  unsupported: Set<string>;
  dialect: ValidatorDialect;
  counts: Map<string, number>;
  unenforced: UnenforcedRule[];
}

const join = (field: string, name: string) => (field === "" ? name : `${field}.${name}`);
const and = (conds: Document[]): Document => (conds.length === 1 ? conds[0] : { $and: conds });

function types(node: BsonSchema): string[] | undefined {
  const t = node.bsonType ?? node.type;
  if (t === undefined) return undefined;
  return Array.isArray(t) ? t : [t];
}
const isObjectNode = (node: BsonSchema) => types(node)?.every((t) => t === "object") ?? false;
const isArrayNode = (node: BsonSchema) => types(node)?.every((t) => t === "array") ?? false;
const excludesArray = (node: BsonSchema) => types(node)?.every((t) => t !== "array") ?? false;

function walk(node: BsonSchema, at: Loc, ctx: Ctx): { schema: BsonSchema; conds: Document[] } {
  const schema: Record<string, unknown> = {};
  const conds: Document[] = [];
  const count = (what: string) => ctx.counts.set(what, (ctx.counts.get(what) ?? 0) + 1);
  const lose = (keyword: string, why: string) => ctx.unenforced.push({ rule: `${at.rule}.${keyword}`, why });
  // Where this node's own fields can be addressed by a query: an object at a reachable path.
  const fieldsAt = at.field !== null && (at.root || isObjectNode(node)) ? at.field : null;

  for (const [k, v] of Object.entries(node) as [keyof BsonSchema, unknown][]) {
    if (k === "properties" && v && typeof v === "object") {
      const props: Record<string, BsonSchema> = {};
      for (const [p, sub] of Object.entries(v as Record<string, BsonSchema>)) {
        const inner = walk(sub, { rule: `${at.rule}.${p}`, field: fieldsAt === null ? null : join(fieldsAt, p), root: false }, ctx);
        props[p] = inner.schema;
        // A property's rules hold when it is present.
        if (inner.conds.length > 0) conds.push({ $or: [{ [join(fieldsAt!, p)]: { $exists: false } }, and(inner.conds)] });
      }
      if (!ctx.unsupported.has("properties")) schema.properties = props;
      else lose("properties", "the server refuses the properties keyword");
      continue;
    }
    if (k === "items" && v && typeof v === "object" && !Array.isArray(v)) {
      const reach = at.field !== null && at.field !== "" && isArrayNode(node);
      const inner = walk(v as BsonSchema, { rule: `${at.rule}[]`, field: reach ? "" : null, root: false }, ctx);
      if (!ctx.unsupported.has("items")) schema.items = inner.schema;
      else lose("items", "the server refuses the items keyword");
      // No element may break the element's rules.
      if (inner.conds.length > 0) conds.push({ [at.field!]: { $not: { $elemMatch: { $nor: [and(inner.conds)] } } } });
      continue;
    }
    if (!ctx.unsupported.has(k)) {
      schema[k] = mapSubschemas(k, v, at, ctx);
      continue;
    }
    // A keyword the server refuses: lowered when its meaning can be kept, else reported.
    if (ANNOTATIONS.has(k)) continue;
    if (k === "required" && Array.isArray(v)) {
      if (fieldsAt === null || !ctx.dialect.queryOperators) lose(k, queryWhy(ctx, "required fields inside an array's items or under a field of unknown type"));
      else for (const f of v as string[]) {
        conds.push({ [join(fieldsAt, f)]: { $exists: true } });
        count("required → $exists");
      }
      continue;
    }
    if (k === "enum" && Array.isArray(v)) {
      // $in matches an array holding one of the values; an enum of non-arrays never takes an array.
      const arraysPossible = !excludesArray(node);
      if (at.field === null || at.field === "" || (arraysPossible && v.some(Array.isArray)) || !ctx.dialect.queryOperators) {
        lose(k, queryWhy(ctx, "an enum on an array element, on the document, or with array values"));
      } else {
        conds.push({ [at.field]: arraysPossible ? { $in: v, $not: { $type: "array" } } : { $in: v } });
        count("enum → $in");
      }
      continue;
    }
    if (k === "additionalProperties") {
      if (v === true) continue; // the default: nothing to enforce
      if (v !== false) {
        lose(k, "additionalProperties with a schema has no query equivalent");
        continue;
      }
      const reach = at.root ? "$$ROOT" : at.field && fieldsAt !== null && !at.rule.includes("[]") ? `$${at.field}` : null;
      if (reach === null || !ctx.dialect.expr || node.patternProperties) {
        lose(k, !ctx.dialect.expr ? "the server does not enforce $expr in validators" : node.patternProperties ? "with patternProperties" : "inside an array's items");
        continue;
      }
      const allowed = Object.keys(node.properties ?? {});
      conds.push({ $expr: { $setIsSubset: [{ $map: { input: { $objectToArray: reach === "$$ROOT" ? reach : { $ifNull: [reach, {}] } }, as: "f", in: "$$f.k" } }, allowed] } });
      count("additionalProperties: false → $expr");
      continue;
    }
    lose(k, `the server refuses the ${k} keyword and it has no query equivalent here`);
  }
  return { schema: schema as BsonSchema, conds };
}

function queryWhy(ctx: Ctx, where: string): string {
  return ctx.dialect.queryOperators ? `no query equivalent for ${where}` : "the server does not enforce query operators beside $jsonSchema";
}

/** Subschemas of a kept keyword, walked so their own refused keywords are handled; no query reaches them. */
function mapSubschemas(k: string, v: unknown, at: Loc, ctx: Ctx): unknown {
  const sub = (s: unknown, suffix: string) =>
    s && typeof s === "object" && !Array.isArray(s) ? walkUnreachable(s as BsonSchema, `${at.rule}${suffix}`, ctx) : s;
  switch (k) {
    case "patternProperties":
    case "dependencies":
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([p, s]) => [p, Array.isArray(s) ? s : sub(s, `.${k}.${p}`)]));
    case "additionalProperties":
    case "additionalItems":
    case "not":
      return typeof v === "boolean" ? v : sub(v, `.${k}`);
    case "items":
      return Array.isArray(v) ? v.map((s, i) => sub(s, `[${i}]`)) : sub(v, "[]");
    case "allOf":
    case "anyOf":
    case "oneOf":
      return (v as unknown[]).map((s, i) => sub(s, `.${k}[${i}]`));
    default:
      return v;
  }
}

function walkUnreachable(node: BsonSchema, rule: string, ctx: Ctx): BsonSchema {
  return walk(node, { rule, field: null, root: false }, ctx).schema;
}
