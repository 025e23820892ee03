// Each collection's $jsonSchema, checked offline against good and bad documents with ajv and a
// bsonType keyword that types values as the Node driver stores them.
import { describe, expect, it } from "vitest";
import { COLLECTION_NAMES, VALIDATORS } from "../../../mongo/collections";
import { checkDeclarations } from "../../../engines/mongo/declarations";
import { bsonAjv, bsonTypeOf, compileBsonSchema } from "./bson-schema";
import { BAD, GOOD } from "./samples";
import { Int32, Long, ObjectId } from "mongodb";

const ajv = bsonAjv();

describe("bsonType of driver values", () => {
  it("types JS values as the driver serializes them", () => {
    expect(bsonTypeOf(1)).toBe("int");
    expect(bsonTypeOf(0.5)).toBe("double");
    expect(bsonTypeOf(2 ** 31)).toBe("double");
    expect(bsonTypeOf(new Int32(3))).toBe("int");
    expect(bsonTypeOf(Long.fromNumber(2 ** 40))).toBe("long");
    expect(bsonTypeOf(new ObjectId())).toBe("objectId");
    expect(bsonTypeOf(new Date())).toBe("date");
    expect(bsonTypeOf({})).toBe("object");
    expect(bsonTypeOf([])).toBe("array");
  });

  it("refuses a schema with an unknown bsonType at compile time", () => {
    expect(() => ajv.compile({ bsonType: "object", properties: { a: { bsonType: "integer" } } })).toThrow(/bsonType/);
  });
});

describe.each(COLLECTION_NAMES.map((c) => [c]))("validator of %s", (collection) => {
  const schema = VALIDATORS[collection].$jsonSchema;
  const validate = compileBsonSchema(ajv, schema);

  it("is a $jsonSchema MongoDB accepts (known keywords and bsonTypes only)", () => {
    expect(checkDeclarations([{ name: collection, validator: VALIDATORS[collection], indexes: [] }])).toEqual([]);
    expect(schema.bsonType).toBe("object");
  });

  it.each(GOOD[collection].map((s) => [s.label, s]))("accepts a good document: %s", (_label, s) => {
    const ok = validate(s.doc);
    expect(ok, JSON.stringify(validate.errors)).toBe(true);
  });

  it.each(BAD[collection].map((s) => [s.label, s]))("rejects a bad document: %s", (_label, s) => {
    expect(validate(s.doc)).toBe(false);
  });

  it("has several samples each way", () => {
    expect(GOOD[collection].length).toBeGreaterThanOrEqual(3);
    expect(BAD[collection].length).toBeGreaterThanOrEqual(4);
  });
});
