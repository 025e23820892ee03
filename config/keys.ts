// Unknown keys at any depth of the config, each named with the nearest key the schema knows.
// zod's strict objects report unknown keys of their own level; the engines' settings schemas are
// plain objects (they strip what they do not know), so the config walks the schema itself.
import type { z } from "zod";

/** The schema's definition, as zod 4 keeps it (the fields this walker reads). */
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  getter?: () => z.ZodType;
}
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The object shapes a value at this schema may have (several for a union); [] when any key goes. */
function shapesOf(schema: z.ZodType): Record<string, z.ZodType>[] | "any" | "none" {
  const d = defOf(schema);
  switch (d.type) {
    case "object":
      // A catch-all other than `never` (strict) accepts every key.
      return d.catchall && defOf(d.catchall).type !== "never" ? "any" : [d.shape ?? {}];
    case "default":
    case "prefault":
    case "optional":
    case "nullable":
    case "readonly":
    case "catch":
    case "nonoptional":
      return shapesOf(d.innerType!);
    case "pipe":
      return shapesOf(d.in!);
    case "lazy":
      return shapesOf(d.getter!());
    case "union": {
      const all = d.options!.map(shapesOf);
      if (all.includes("any")) return "any";
      const objects = all.filter((x): x is Record<string, z.ZodType>[] => Array.isArray(x)).flat();
      return objects.length > 0 ? objects : "none";
    }
    case "record":
      return "any";
    default:
      return "none";
  }
}

/** The element schema of an array schema, through wrappers; undefined for anything else. */
function elementOf(schema: z.ZodType): z.ZodType | undefined {
  const d = defOf(schema);
  if (d.type === "array") return d.element;
  if (["default", "prefault", "optional", "nullable", "readonly", "catch", "nonoptional"].includes(d.type)) return elementOf(d.innerType!);
  if (d.type === "pipe") return elementOf(d.in!);
  if (d.type === "lazy") return elementOf(d.getter!());
  return undefined;
}

export interface UnknownKey {
  path: (string | number)[];
  key: string;
  /** The known key nearest to it, when one is near enough to be the intended one. */
  suggestion?: string;
}

/** Every key of `value` that `schema` does not know, at every depth. */
export function unknownKeys(schema: z.ZodType, value: unknown, path: (string | number)[] = []): UnknownKey[] {
  if (Array.isArray(value)) {
    const element = elementOf(schema);
    return element ? value.flatMap((v, i) => unknownKeys(element, v, [...path, i])) : [];
  }
  if (value === null || typeof value !== "object") return [];
  const shapes = shapesOf(schema);
  if (shapes === "any" || shapes === "none") return [];
  const known = [...new Set(shapes.flatMap((s) => Object.keys(s)))];
  const out: UnknownKey[] = [];
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const field = shapes.find((s) => k in s)?.[k];
    if (field) out.push(...unknownKeys(field, v, [...path, k]));
    else out.push({ path, key: k, suggestion: nearestKey(k, known) });
  }
  return out;
}

/** The candidate nearest to `key` by edit distance (case-insensitive), if near enough to be a typo of it. */
export function nearestKey(key: string, candidates: readonly string[]): string | undefined {
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = c.toLowerCase().startsWith(key.toLowerCase()) || key.toLowerCase().startsWith(c.toLowerCase()) ? Math.abs(c.length - key.length) / 2 : levenshtein(key.toLowerCase(), c.toLowerCase());
    if (!best || d < best.d) best = { c, d };
  }
  // A third of the key's length, at least 2 edits: "engineStats" → "engineStatsSeconds", "nodeTyp" → "nodeType".
  return best && best.d <= Math.max(2, Math.ceil(key.length / 3)) ? best.c : undefined;
}

/** Edits (insert, delete, substitute) that turn a into b. */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
