// Generates the stack config reference — docs/config-reference.md and the README's block — from the
// config schema so it cannot drift. Every key of `stackConfigSchema(env)` by its config path, its
// type and default per environment, and its description: all of it from zod's own metadata —
// `z.toJSONSchema` of the schema (types, defaults, which keys are required) and the descriptions
// the schema carries in `.meta({ description })`.
//
//   npx tsx scripts/config-reference.ts          # writes the files
//   npx tsx scripts/config-reference.ts --check  # fails when they are out of date
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { SECRET_KEYS_DESCRIPTION } from "../config/names";
import { ENVIRONMENTS, NAMESPACE, SECRET_KEYS, stackConfigSchema, type Environment } from "../config/schema";

export const ROOT = path.resolve(__dirname, "..");
export const REFERENCE_FILE = "docs/config-reference.md";
export const README_FILE = "README.md";
export const README_START = "<!-- config-reference:start -->";
export const README_END = "<!-- config-reference:end -->";

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
  /** What the secret keys are. */
  secretKeysDescription: string;
}

type JsonSchema = {
  description?: string;
  default?: unknown;
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

/** The JSON Schema of one environment's stack config (what a config file may hold: io "input"). */
function stackJsonSchema(env: Environment): JsonSchema {
  return z.toJSONSchema(stackConfigSchema(env), {
    io: "input",
    unrepresentable: "any",
    // zod leaves out the default of a schema that transforms its input (e.g. "256mb" → bytes): the
    // reference shows the value the default resolves to.
    override: ({ zodSchema, jsonSchema }) => {
      const def = (zodSchema as unknown as { _zod: { def: { type: string; defaultValue?: unknown } } })._zod.def;
      if (def.type === "default" && jsonSchema.default === undefined) jsonSchema.default = JSON.parse(JSON.stringify(def.defaultValue)) as unknown;
    },
  }) as JsonSchema;
}

interface WalkedKey {
  path: string[];
  type: string;
  default: KeyDefault;
  description: string;
}

interface WalkedSection {
  path: string[];
  description: string;
}

/** Objects with properties are sections; everything else (maps included) is a key. */
function walk(js: JsonSchema, at: string[], keys: WalkedKey[], sections: WalkedSection[]): void {
  sections.push({ path: at, description: js.description ?? "" });
  const required = new Set(js.required ?? []);
  for (const [name, child] of Object.entries(js.properties ?? {})) {
    const p = [...at, name];
    if (child.properties) {
      walk(child, p, keys, sections);
      continue;
    }
    const { description, default: dflt, ...type } = child;
    const d: KeyDefault = "default" in child ? { kind: "value", value: dflt } : required.has(name) ? { kind: "required" } : { kind: "unset" };
    keys.push({ path: p, type: describeType(type), default: d, description: description ?? "" });
  }
}

/** The reference model: every section and key, defaults per environment, descriptions from the schema's metadata. */
export function buildReference(): ConfigReference {
  const order: string[] = [];
  const sectionOrder: string[] = [];
  const sectionDocs = new Map<string, string>();
  const keys = new Map<string, { path: string[]; type: string; description: string; defaults: Partial<Record<Environment, KeyDefault>> }>();
  for (const env of ENVIRONMENTS) {
    const walkedKeys: WalkedKey[] = [];
    const walkedSections: WalkedSection[] = [];
    walk(stackJsonSchema(env), [], walkedKeys, walkedSections);
    for (const s of walkedSections) {
      const id = s.path.join(".");
      if (!sectionOrder.includes(id)) sectionOrder.push(id);
      if (!sectionDocs.get(id)) sectionDocs.set(id, s.description);
    }
    for (const k of walkedKeys) {
      const id = k.path.join(".");
      let entry = keys.get(id);
      if (!entry) {
        entry = { path: k.path, type: k.type, description: k.description, defaults: {} };
        keys.set(id, entry);
        order.push(id);
      }
      entry.defaults[env] = k.default;
    }
  }
  const sections: ConfigSection[] = sectionOrder.map((id) => ({ path: id === "" ? [] : id.split("."), description: sectionDocs.get(id) ?? "", keys: [] }));
  const byId = new Map(sections.map((s) => [s.path.join("."), s]));
  for (const id of order) {
    const k = keys.get(id)!;
    const defaults = Object.fromEntries(ENVIRONMENTS.map((env) => [env, k.defaults[env] ?? { kind: "absent" }])) as Record<Environment, KeyDefault>;
    byId.get(k.path.slice(0, -1).join("."))!.keys.push({ path: k.path, type: k.type, defaults, description: k.description });
  }
  return { sections, secretKeys: SECRET_KEYS, secretKeysDescription: SECRET_KEYS_DESCRIPTION };
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
      "the descriptions are the schema's own metadata (`.meta({ description })`). `npx tsx scripts/config-reference.ts --check` fails when this file is out of date.",
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
export function generatedFiles(root = ROOT, ref = buildReference()): { file: string; current: string | undefined; wanted: string }[] {
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
