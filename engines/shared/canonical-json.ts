// JSON with object keys sorted (arrays keep their order): Pulumi's state does not keep key order,
// so values read back from it are compared in this form. `undefined` is written as null.
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v ?? null, (_k, x: unknown) =>
    x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : x,
  );
}
