// `npx tsx scripts/config-reference.ts [--check]`: the stack config reference, generated from the
// config schema so it cannot drift. Every key of `stackConfigSchema(env)` by its config path, its
// type, its default in each environment, and its description: the `/** … */` comment on the
// property in the schema's source, read with the TypeScript compiler API. A comment that cannot be
// mapped to a key leaves the description empty rather than guessed.
//
// Writes docs/config-reference.md, and the block between the config-reference markers in README.md
// when the README has them. With --check, writes nothing and exits 1 if either file is out of date.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import { z } from "zod";
import { ENVIRONMENTS, NAMESPACE, SECRET_KEYS, stackConfigSchema, type Environment } from "../config/schema";

export const ROOT = path.resolve(__dirname, "..");
export const REFERENCE_FILE = "docs/config-reference.md";
export const README_FILE = "README.md";
export const README_START = "<!-- config-reference:start -->";
export const README_END = "<!-- config-reference:end -->";
const SCHEMA_SOURCE = "config/schema.ts";
const SCHEMA_FUNCTION = "stackConfigSchema";
const SECRET_KEYS_NAME = "SECRET_KEYS";

// ---------------------------------------------------------------------------------------------
// Doc comments: the schema source, evaluated symbolically (z.object literals, method chains,
// helper functions, imported consts, spreads) into a tree of property → comment.

interface DocProperty {
  doc: string;
  node?: DocObject;
}

interface DocObject {
  props: Map<string, DocProperty>;
  /** The comment on the const or function the object came from (e.g. `tlsSchema`). */
  declarationDoc: string;
}

/** What the schema source documents: the schema's tree of comments, and the comment on SECRET_KEYS. */
export interface SchemaDocs {
  schema?: DocObject;
  secretKeys: string;
}

function jsDocText(node: ts.Node): string {
  const texts = ts
    .getJSDocCommentsAndTags(node)
    .filter(ts.isJSDoc)
    .map((d) => ts.getTextOfJSDocComment(d.comment) ?? "");
  // The comment nearest the node is the one that documents it.
  return (texts.at(-1) ?? "").replace(/\s+/g, " ").trim();
}

/** The comments of the schema source, as a tree that mirrors the schema's objects. */
export function readSchemaDocs(root = ROOT): SchemaDocs {
  const file = path.join(root, SCHEMA_SOURCE);
  const program = ts.createProgram([file], {
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  if (!source) throw new Error(`${SCHEMA_SOURCE}: not found`);
  const fn = source.statements.find((s): s is ts.FunctionDeclaration => ts.isFunctionDeclaration(s) && s.name?.text === SCHEMA_FUNCTION);
  const body = fn && returnedExpression(fn);
  if (!body) throw new Error(`${SCHEMA_SOURCE}: no function ${SCHEMA_FUNCTION} returning the schema`);
  const secrets = source.statements
    .filter(ts.isVariableStatement)
    .flatMap((st) => [...st.declarationList.declarations])
    .find((d) => ts.isIdentifier(d.name) && d.name.text === SECRET_KEYS_NAME);
  return { schema: new DocResolver(checker).schema(body, 0), secretKeys: secrets ? jsDocText(secrets) : "" };
}

/** The expression of a function's own `return` (or an arrow function's expression body). */
function returnedExpression(fn: ts.SignatureDeclaration): ts.Expression | undefined {
  if (!("body" in fn) || !fn.body) return undefined;
  const body = fn.body as ts.Node;
  if (!ts.isBlock(body)) return ts.isExpression(body) ? body : undefined;
  const ret = body.statements.find(ts.isReturnStatement);
  return ret?.expression;
}

const ZOD_OBJECT_FACTORIES = new Set(["object", "strictObject", "looseObject"]);
const MAX_DEPTH = 40;

class DocResolver {
  constructor(private readonly checker: ts.TypeChecker) {}

  /** The declaration an identifier stands for, through imports. */
  private declarationOf(id: ts.Node): ts.Declaration | undefined {
    let symbol = this.checker.getSymbolAtLocation(id);
    if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = this.checker.getAliasedSymbol(symbol);
    return symbol?.valueDeclaration ?? symbol?.declarations?.[0];
  }

  private unwrap(e: ts.Expression): ts.Expression {
    while (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isSatisfiesExpression(e) || ts.isNonNullExpression(e)) e = e.expression;
    return e;
  }

  /** A zod schema expression → its object's properties, or undefined when it is no object. */
  schema(expr: ts.Expression, depth: number): DocObject | undefined {
    if (depth > MAX_DEPTH) return undefined;
    const e = this.unwrap(expr);
    if (ts.isIdentifier(e)) {
      const decl = this.declarationOf(e);
      if (decl && ts.isVariableDeclaration(decl) && decl.initializer) return this.withDeclarationDoc(this.schema(decl.initializer, depth + 1), decl);
      return undefined;
    }
    if (!ts.isCallExpression(e)) return undefined;
    const callee = this.unwrap(e.expression);
    if (ts.isPropertyAccessExpression(callee)) {
      const receiver = this.unwrap(callee.expression);
      if (ts.isIdentifier(receiver) && receiver.text === "z") {
        const arg = e.arguments[0];
        return ZOD_OBJECT_FACTORIES.has(callee.name.text) && arg ? this.objectLiteral(arg, depth + 1) : undefined;
      }
      // A method of a schema (.default, .prefault, .strict, .superRefine, .describe, …): the object is its receiver's.
      return this.schema(receiver, depth + 1);
    }
    if (ts.isIdentifier(callee)) {
      // A helper that builds the schema: containerSchema(…), postgresSchema(env), user(…), imported ones too.
      const decl = this.declarationOf(callee);
      let fn: ts.SignatureDeclaration | undefined;
      if (decl && ts.isFunctionDeclaration(decl)) fn = decl;
      else if (decl && ts.isVariableDeclaration(decl) && decl.initializer) {
        const init = this.unwrap(decl.initializer);
        if (ts.isArrowFunction(init) || ts.isFunctionExpression(init)) fn = init;
      }
      const returned = fn && returnedExpression(fn);
      return returned && decl ? this.withDeclarationDoc(this.schema(returned, depth + 1), decl) : undefined;
    }
    return undefined;
  }

  private withDeclarationDoc(obj: DocObject | undefined, decl: ts.Declaration): DocObject | undefined {
    if (obj && !obj.declarationDoc) obj.declarationDoc = jsDocText(decl);
    return obj;
  }

  /** `{ key: schema, …spread }` → the properties with their comments. */
  private objectLiteral(expr: ts.Expression, depth: number): DocObject | undefined {
    let e = this.unwrap(expr);
    if (ts.isIdentifier(e)) {
      const decl = this.declarationOf(e);
      if (!decl || !ts.isVariableDeclaration(decl) || !decl.initializer) return undefined;
      e = this.unwrap(decl.initializer);
    }
    if (!ts.isObjectLiteralExpression(e)) return undefined;
    const props = new Map<string, DocProperty>();
    for (const p of e.properties) {
      if (ts.isSpreadAssignment(p)) {
        for (const [k, v] of this.objectLiteral(p.expression, depth + 1)?.props ?? []) props.set(k, v);
        continue;
      }
      const name = p.name && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name) || ts.isNumericLiteral(p.name)) ? p.name.text : undefined;
      if (name === undefined) continue;
      let value: ts.Expression | undefined;
      if (ts.isPropertyAssignment(p)) value = p.initializer;
      else if (ts.isShorthandPropertyAssignment(p)) {
        const decl = this.checker.getShorthandAssignmentValueSymbol(p)?.valueDeclaration;
        if (decl && ts.isVariableDeclaration(decl)) value = decl.initializer;
      }
      props.set(name, { doc: jsDocText(p), node: value ? this.schema(value, depth + 1) : undefined });
    }
    return { props, declarationDoc: "" };
  }
}

// ---------------------------------------------------------------------------------------------
// The schema: every leaf key with its type and default, walked from the zod objects.

/** A key's default in one environment. */
export type KeyDefault = { kind: "value"; value: unknown } | { kind: "unset" } | { kind: "required" } | { kind: "absent" };

export interface ConfigKey {
  /** Path below the namespace, e.g. ["postgres", "external", "sslMode"]. */
  path: string[];
  type: string;
  defaults: Record<Environment, KeyDefault>;
  description: string;
}

export interface ConfigSection {
  /** Path of the object below the namespace; [] for the top level. */
  path: string[];
  description: string;
  keys: ConfigKey[];
}

export interface ConfigReference {
  sections: ConfigSection[];
  secretKeys: readonly string[];
  /** The comment on SECRET_KEYS. */
  secretKeysDescription: string;
}

interface ZodDefLike {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  defaultValue?: unknown;
}

const defOf = (s: z.ZodType): ZodDefLike => (s as unknown as { _zod: { def: ZodDefLike } })._zod.def;

/** The schema without its wrappers, with the default (outermost wins) and whether it may be left out. */
function unwrapSchema(schema: z.ZodType): { inner: z.ZodType; default?: { value: unknown }; optional: boolean } {
  let s = schema;
  let dflt: { value: unknown } | undefined;
  let optional = false;
  for (;;) {
    const def = defOf(s);
    if ((def.type === "default" || def.type === "prefault") && def.innerType) {
      dflt ??= { value: def.defaultValue };
      s = def.innerType;
    } else if (def.type === "optional" && def.innerType) {
      optional = true;
      s = def.innerType;
    } else if ((def.type === "nullable" || def.type === "readonly" || def.type === "catch" || def.type === "nonoptional") && def.innerType) {
      s = def.innerType;
    } else if (def.type === "pipe" && def.in) {
      s = def.in; // what is written in the config is the pipe's input
    } else return { inner: s, default: dflt, optional };
  }
}

type JsonSchema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  items?: JsonSchema | false;
  prefixItems?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
};

const literal = (v: unknown) => "`" + (typeof v === "string" ? v : JSON.stringify(v)) + "`";

/** A JSON Schema (zod's, io "input") as a short type for a human: `integer 1–65535`, `one of …`. */
export function describeType(js: JsonSchema): string {
  const options = js.anyOf ?? js.oneOf;
  if (options) {
    if (options.every((o) => o.const !== undefined || o.enum)) return `one of ${options.flatMap((o) => (o.enum ? o.enum : [o.const])).map(literal).join(", ")}`;
    return options.map(describeType).join(" or ");
  }
  if (js.enum) return `one of ${js.enum.map(literal).join(", ")}`;
  if (js.const !== undefined) return literal(js.const);
  const type = js.type;
  if (Array.isArray(type)) return type.join(" or ");
  switch (type) {
    case "integer":
    case "number": {
      const big = (n: number) => Math.abs(n) >= Number.MAX_SAFE_INTEGER;
      const lo = js.minimum !== undefined && !big(js.minimum) ? js.minimum : undefined;
      const hi = js.maximum !== undefined && !big(js.maximum) ? js.maximum : undefined;
      if (lo !== undefined && hi !== undefined) return `${type} ${lo}–${hi}`;
      const bounds = [
        lo !== undefined ? `≥ ${lo}` : "",
        js.exclusiveMinimum !== undefined ? `> ${js.exclusiveMinimum}` : "",
        hi !== undefined ? `≤ ${hi}` : "",
        js.exclusiveMaximum !== undefined ? `< ${js.exclusiveMaximum}` : "",
      ].filter(Boolean);
      return bounds.length ? `${type} ${bounds.join(", ")}` : type;
    }
    case "array": {
      if (js.prefixItems) return `[${js.prefixItems.map(describeType).join(", ")}]`;
      if (js.items) {
        const item = describeType(js.items);
        return `array of ${/ or |, /.test(item) && !item.startsWith("{") && !item.startsWith("[") ? `(${item})` : item}`;
      }
      return "array";
    }
    case "object": {
      if (js.properties) {
        const required = new Set(js.required ?? []);
        return `{ ${Object.entries(js.properties).map(([k, v]) => `${k}${required.has(k) ? "" : "?"}: ${describeType(v)}`).join(", ")} }`;
      }
      if (js.additionalProperties && typeof js.additionalProperties === "object") return `map of string to ${describeType(js.additionalProperties)}`;
      return "object";
    }
    default:
      return type ?? "any";
  }
}

interface WalkedKey {
  path: string[];
  type: string;
  default: KeyDefault;
}

interface WalkedSection {
  path: string[];
}

function walk(schema: z.ZodType, at: string[], keys: WalkedKey[], sections: WalkedSection[]): void {
  const shape = defOf(schema).shape;
  if (!shape) return;
  sections.push({ path: at });
  for (const [name, child] of Object.entries(shape)) {
    const p = [...at, name];
    const u = unwrapSchema(child);
    if (defOf(u.inner).type === "object") {
      walk(u.inner, p, keys, sections);
      continue;
    }
    const js = z.toJSONSchema(u.inner, { io: "input", unrepresentable: "any" }) as JsonSchema;
    const dflt: KeyDefault = u.default ? { kind: "value", value: u.default.value } : u.optional ? { kind: "unset" } : { kind: "required" };
    keys.push({ path: p, type: describeType(js), default: dflt });
  }
}

function docAt(docs: DocObject | undefined, p: string[]): DocProperty | undefined {
  let node = docs;
  let prop: DocProperty | undefined;
  for (const k of p) {
    prop = node?.props.get(k);
    node = prop?.node;
  }
  return prop;
}

/** The reference model: every section and key, defaults per environment, comments mapped by path. */
export function buildReference(schemaDocs = readSchemaDocs()): ConfigReference {
  const docs = schemaDocs.schema;
  const order: string[] = [];
  const sectionOrder: string[] = [];
  const keys = new Map<string, { path: string[]; type: string; defaults: Partial<Record<Environment, KeyDefault>> }>();
  for (const env of ENVIRONMENTS) {
    const walkedKeys: WalkedKey[] = [];
    const walkedSections: WalkedSection[] = [];
    walk(stackConfigSchema(env), [], walkedKeys, walkedSections);
    for (const s of walkedSections) if (!sectionOrder.includes(s.path.join("."))) sectionOrder.push(s.path.join("."));
    for (const k of walkedKeys) {
      const id = k.path.join(".");
      let entry = keys.get(id);
      if (!entry) {
        entry = { path: k.path, type: k.type, defaults: {} };
        keys.set(id, entry);
        order.push(id);
      }
      entry.defaults[env] = k.default;
    }
  }
  const sections: ConfigSection[] = sectionOrder.map((id) => {
    const p = id === "" ? [] : id.split(".");
    const prop = docAt(docs, p);
    const node = p.length === 0 ? docs : prop?.node;
    return { path: p, description: prop?.doc || node?.declarationDoc || "", keys: [] };
  });
  const byId = new Map(sections.map((s) => [s.path.join("."), s]));
  for (const id of order) {
    const k = keys.get(id)!;
    const defaults = Object.fromEntries(ENVIRONMENTS.map((env) => [env, k.defaults[env] ?? { kind: "absent" }])) as Record<Environment, KeyDefault>;
    byId.get(k.path.slice(0, -1).join("."))!.keys.push({ path: k.path, type: k.type, defaults, description: docAt(docs, k.path)?.doc ?? "" });
  }
  return { sections, secretKeys: SECRET_KEYS, secretKeysDescription: schemaDocs.secretKeys };
}

// ---------------------------------------------------------------------------------------------
// Markdown.

export const configPath = (p: string[]) => (p.length ? `${NAMESPACE}:${p.join(".")}` : NAMESPACE);

export function formatDefault(d: KeyDefault): string {
  switch (d.kind) {
    case "value":
      return d.value === "" ? '`""`' : literal(d.value);
    case "unset":
      return "—";
    case "required":
      return "required";
    case "absent":
      return "(no such key)";
  }
}

/** The default cell: one value when every environment agrees, else the values by environment. */
export function defaultCell(defaults: Record<Environment, KeyDefault>): string {
  const groups = new Map<string, Environment[]>();
  for (const env of ENVIRONMENTS) {
    const v = formatDefault(defaults[env]);
    groups.set(v, [...(groups.get(v) ?? []), env]);
  }
  if (groups.size === 1) return [...groups.keys()][0];
  return [...groups].map(([v, envs]) => `${envs.join(", ")}: ${v}`).join("<br>");
}

const differs = (k: ConfigKey) => new Set(ENVIRONMENTS.map((env) => formatDefault(k.defaults[env]))).size > 1;

/** Prose for a table cell: `|` escaped, and `<`, `>`, `*` outside code spans so they show as written. */
function cellText(s: string): string {
  return s
    .split("`")
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\*/g, "\\*")))
    .join("`")
    .replace(/\|/g, "\\|");
}

const cell = (s: string) => s.replace(/\|/g, "\\|");

/** The reference as Markdown; `level` is the heading level of its sections (2 in docs/, 3 in the README). */
export function renderReference(ref: ConfigReference, level = 2): string {
  const h = "#".repeat(level);
  const out: string[] = [];
  out.push(
    "Set a key with `pulumi config set --path <key> <value>` (e.g. `pulumi config set --path nexus-db:postgres.external.sslMode require`; " +
      "a list item: `--path '<key>[0]' <value>`), or write it in `Pulumi.<stack>.yaml`. " +
      "A default of — means unset: what applies then is in the description. " +
      "An invalid stack config fails before any resource is registered, listing every problem by its key.",
    "",
  );

  const perEnv = ref.sections.flatMap((s) => s.keys).filter(differs);
  out.push(`${h} Defaults that differ by environment`, "");
  out.push(`| Key | ${ENVIRONMENTS.join(" | ")} |`, `| --- | ${ENVIRONMENTS.map(() => "---").join(" | ")} |`);
  for (const k of perEnv) out.push(`| \`${configPath(k.path)}\` | ${ENVIRONMENTS.map((env) => cell(formatDefault(k.defaults[env]))).join(" | ")} |`);
  out.push("");

  for (const s of ref.sections) {
    if (s.keys.length === 0 && !s.description) continue; // a container of the sections below, nothing to say
    out.push(`${h} ${s.path.length ? `\`${configPath(s.path)}\`` : "Top level"}`, "");
    if (s.description) out.push(cellText(s.description), "");
    if (s.keys.length === 0) continue;
    out.push("| Key | Type | Default | Description |", "| --- | --- | --- | --- |");
    for (const k of s.keys) out.push(`| \`${configPath(k.path)}\` | ${cell(k.type)} | ${cell(defaultCell(k.defaults))} | ${cellText(k.description)} |`);
    out.push("");
  }

  out.push(`${h} Secrets`, "");
  if (ref.secretKeysDescription) out.push(cellText(ref.secretKeysDescription), "");
  for (const k of ref.secretKeys) out.push(`- \`${NAMESPACE}:${k}\``);
  out.push("");
  return out.join("\n");
}

/** docs/config-reference.md in full. */
export function renderReferenceFile(ref: ConfigReference): string {
  return [
    "<!-- Generated by scripts/config-reference.ts from the config schema. Do not edit. -->",
    "# Stack config reference",
    "",
    "Every key of the stack config, generated from the config schema (`config/schema.ts`) by `npx tsx scripts/config-reference.ts`; " +
      "the descriptions are the schema's own doc comments. `npx tsx scripts/config-reference.ts --check` fails when this file is out of date.",
    "",
    renderReference(ref, 2),
  ].join("\n");
}

/** The README with its marked block replaced; undefined when the README has no markers. */
export function withReadmeBlock(readme: string, ref: ConfigReference): string | undefined {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 && end < 0) return undefined;
  if (start < 0 || end < start) throw new Error(`${README_FILE}: needs ${README_START} before ${README_END}, each once`);
  return `${readme.slice(0, start + README_START.length)}\n${renderReference(ref, 3)}${readme.slice(end)}`;
}

/** Each generated file with its current and wanted contents. */
export function generatedFiles(root = ROOT, ref = buildReference(readSchemaDocs(root))): { file: string; current: string | undefined; wanted: string }[] {
  const read = (f: string) => (existsSync(path.join(root, f)) ? readFileSync(path.join(root, f), "utf8") : undefined);
  const files = [{ file: REFERENCE_FILE, current: read(REFERENCE_FILE), wanted: renderReferenceFile(ref) }];
  const readme = read(README_FILE);
  const wanted = readme === undefined ? undefined : withReadmeBlock(readme, ref);
  if (readme !== undefined && wanted !== undefined) files.push({ file: README_FILE, current: readme, wanted });
  return files;
}

function main(argv: string[]): number {
  const check = argv.includes("--check");
  const files = generatedFiles();
  const stale = files.filter((f) => f.current !== f.wanted);
  if (check) {
    for (const f of stale) console.error(`${f.file} is out of date with the config schema: run \`npx tsx scripts/config-reference.ts\` and commit it`);
    if (stale.length === 0) console.log(`${files.map((f) => f.file).join(" and ")} up to date`);
    return stale.length ? 1 : 0;
  }
  for (const f of stale) writeFileSync(path.join(ROOT, f.file), f.wanted);
  console.log(stale.length ? `wrote ${stale.map((f) => f.file).join(", ")}` : `${files.map((f) => f.file).join(" and ")} already up to date`);
  return 0;
}

if (/config-reference\.ts$/.test(process.argv[1] ?? "")) process.exitCode = main(process.argv.slice(2));
