// Offline checking of documents against a MongoDB `$jsonSchema` with ajv: `bsonType` becomes a
// custom keyword that decides the BSON type a value would be stored as by the Node driver (a JS
// integer within int32 range is an "int", any other JS number a "double"), so the checks catch
// what the server's validator would catch.
import Ajv, { type ValidateFunction } from "ajv";
import { BSON_TYPES } from "../../../engines/mongo/declarations";

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

const BSONTYPE_BY_CLASS: Record<string, string> = {
  ObjectId: "objectId",
  Int32: "int",
  Double: "double",
  Long: "long",
  Decimal128: "decimal",
  Binary: "binData",
  Timestamp: "timestamp",
  BSONRegExp: "regex",
  MinKey: "minKey",
  MaxKey: "maxKey",
  Code: "javascript",
  BSONSymbol: "symbol",
  DBRef: "object",
};

/** The BSON type the Node driver stores `v` as (its `$type` alias). */
export function bsonTypeOf(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "bigint") return "long";
  if (typeof v === "number") return Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX ? "int" : "double";
  if (v instanceof Date) return "date";
  if (v instanceof RegExp) return "regex";
  if (Array.isArray(v)) return "array";
  const tag = (v as { _bsontype?: string })._bsontype;
  if (tag) return BSONTYPE_BY_CLASS[tag] ?? tag;
  return "object";
}

function matches(alias: string, actual: string): boolean {
  if (alias === "number") return ["int", "long", "double", "decimal"].includes(actual);
  return alias === actual;
}

export function bsonAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strictSchema: true, strictTypes: false, strictTuples: false });
  ajv.addKeyword({
    keyword: "bsonType",
    schemaType: ["string", "array"],
    errors: true,
    metaSchema: {
      anyOf: [
        { type: "string", enum: [...BSON_TYPES] },
        { type: "array", items: { type: "string", enum: [...BSON_TYPES] }, minItems: 1 },
      ],
    },
    validate: function bsonType(schema: string | string[], data: unknown) {
      const actual = bsonTypeOf(data);
      const ok = (Array.isArray(schema) ? schema : [schema]).some((s) => matches(s, actual));
      if (!ok) {
        (bsonType as unknown as { errors: object[] }).errors = [
          { keyword: "bsonType", message: `must be bsonType ${JSON.stringify(schema)}, is ${actual}`, params: { bsonType: schema } },
        ];
      }
      return ok;
    },
  });
  return ajv;
}

/** Compiles a `$jsonSchema` (its contents) to a validator of JS documents. */
export function compileBsonSchema(ajv: Ajv, jsonSchema: object): ValidateFunction {
  return ajv.compile(jsonSchema);
}
