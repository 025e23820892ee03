// The checks of the nexus-db policy pack as plain functions over one resource as the engine shows
// it to a policy (type, name, URN, inputs, `protect`). policy/index.ts wraps them in a PolicyPack;
// tests call them directly too. No @pulumi/* import: the pack stays small to compile.
//
// What a policy sees: the resource's inputs after the provider's `check`, secrets unpacked to plain
// values (never echoed here), and, during `preview`, unknown values where an input depends on a
// resource not created yet (e.g. a generated password). Unknown values are skipped: the same
// check runs again with the value known before the step executes in `pulumi up`.
//
// The rules themselves are the program's (config/rules.ts): the config refuses the same passwords
// and addresses before anything is registered; this pack checks what reaches the engine.
import { LOOPBACK_HOSTS, MIN_PASSWORD_LENGTH, WEAK_PASSWORDS, isLoopback, weakPassword } from "../config/rules";

/** Stacks the rules apply to when the policy config names none: exact names or `prefix*` globs. */
export const DEFAULT_PROTECTED_STACKS = ["staging", "staging-*", "prod", "prod-*"];

export { MIN_PASSWORD_LENGTH, WEAK_PASSWORDS };
/** Addresses a published port may bind to on a protected stack. */
export const LOOPBACK = LOOPBACK_HOSTS;

/** The policy config of every rule (`pulumi preview --policy-pack-config FILE`). */
export interface ProtectionConfig {
  /** Stack names or `prefix*` globs whose stacks are protected. Default DEFAULT_PROTECTED_STACKS. */
  protectedStacks?: string[];
}

/** One resource as a policy sees it. */
export interface ResourceView {
  type: string;
  name: string;
  urn: string;
  props: Record<string, unknown>;
  /** The `protect` resource option. */
  protect: boolean;
}

/** The resources the rules know, by what they are rather than by their provider's type token. */
export type Kind =
  | "PostgresRoles"
  | "PostgresSchema"
  | "PostgresGrants"
  | "PostgresSeedData"
  | "MongoSchema"
  | "RedisServerSettings"
  | "DockerContainer"
  | "DockerVolume"
  | "RandomPassword";

const DYNAMIC_KINDS: Kind[] = ["PostgresRoles", "PostgresSchema", "PostgresGrants", "PostgresSeedData", "MongoSchema", "RedisServerSettings"];

/** What a resource is, by its type token alone (dynamic ones: `pulumi-nodejs:dynamic/nexus:db:<Kind>`). */
export function resourceKind(type: string): Kind | undefined {
  if (type === "docker:index/container:Container") return "DockerContainer";
  if (type === "docker:index/volume:Volume") return "DockerVolume";
  if (type === "random:index/randomPassword:RandomPassword") return "RandomPassword";
  return DYNAMIC_KINDS.find((k) => type === `pulumi-nodejs:dynamic/nexus:db:${k}`);
}

/** `urn:pulumi:<stack>::<project>::<type>::<name>` → `<stack>`. */
export function stackOfUrn(urn: string): string {
  return urn.replace(/^urn:pulumi:/, "").split("::")[0];
}

/** Whether the stack is one the rules protect, per the policy config (default: staging and prod). */
export function isProtectedStack(stack: string, config: ProtectionConfig = {}): boolean {
  const patterns = config.protectedStacks ?? DEFAULT_PROTECTED_STACKS;
  return patterns.some((p) => (p.endsWith("*") ? stack.startsWith(p.slice(0, -1)) : stack === p));
}

const UNKNOWN = Symbol("unknown");
type Read = unknown | typeof UNKNOWN;

/** props[path…], or UNKNOWN when a value on the way is not known yet (preview). */
export function read(props: unknown, ...path: (string | number)[]): Read {
  let v: unknown = props;
  try {
    for (const k of path) {
      if (v === null || typeof v !== "object") return undefined;
      v = (v as Record<string | number, unknown>)[k];
    }
    // Touch the value itself: a proxy reports an unknown leaf on access of its fields.
    if (v !== null && typeof v === "object") void Object.keys(v);
    return v;
  } catch (e) {
    if (e instanceof Error && e.constructor.name === "UnknownValueError") return UNKNOWN;
    throw e;
  }
}

const isUnknown = (v: Read): v is typeof UNKNOWN => v === UNKNOWN;

// --- TLS on every store -------------------------------------------------------------------------

/** sslMode of a PostgreSQL connection (an object with sslMode, or a URL with ?sslmode=). */
function pgSslMode(conn: Read): string | typeof UNKNOWN | undefined {
  if (isUnknown(conn)) return UNKNOWN;
  if (typeof conn === "string") {
    try {
      return new URL(conn).searchParams.get("sslmode") ?? "prefer";
    } catch {
      return undefined;
    }
  }
  const mode = read(conn, "sslMode");
  if (isUnknown(mode)) return UNKNOWN;
  // The engines' default when a connection names none.
  return typeof mode === "string" ? mode : conn && typeof conn === "object" ? "verify-full" : undefined;
}

export function tlsFindings(r: ResourceView): string[] {
  const kind = resourceKind(r.type);
  const out: string[] = [];
  if (kind === "PostgresRoles" || kind === "PostgresSchema" || kind === "PostgresGrants" || kind === "PostgresSeedData") {
    const field = kind === "PostgresRoles" || kind === "PostgresGrants" ? "admin" : "connection";
    const mode = pgSslMode(read(r.props, field));
    if (!isUnknown(mode) && mode !== undefined && !["require", "verify-ca", "verify-full"].includes(mode)) {
      out.push(`${r.name}: its PostgreSQL connection uses sslMode "${mode}"; a protected stack needs TLS on every store (nexus-db:postgres.external.sslMode verify-full)`);
    }
  } else if (kind === "MongoSchema") {
    const enabled = read(r.props, "connection", "tls", "enabled");
    const url = read(r.props, "connection", "url");
    const urlTls = typeof url === "string" && /[?&](tls|ssl)=true\b/.test(url);
    if (!isUnknown(enabled) && !isUnknown(url) && enabled !== true && !urlTls) {
      out.push(`${r.name}: its MongoDB connection has TLS off; a protected stack needs TLS on every store (nexus-db:mongo.settings.tls.enabled true)`);
    }
  } else if (kind === "RedisServerSettings") {
    const useTls = read(r.props, "admin", "useTls");
    if (!isUnknown(useTls) && useTls !== true) {
      out.push(`${r.name}: its Redis connection has TLS off; a protected stack needs TLS on every store (nexus-db:redis.external.tls true)`);
    }
  }
  return out;
}

// --- no port beyond loopback --------------------------------------------------------------------

export function loopbackFindings(r: ResourceView): string[] {
  if (resourceKind(r.type) !== "DockerContainer") return [];
  const ports = read(r.props, "ports");
  if (isUnknown(ports) || !Array.isArray(ports)) return [];
  const out: string[] = [];
  // By index: iterating the proxy itself would touch unknown elements outside `read`.
  for (let i = 0; i < ports.length; i++) {
    const ip = read(ports, i, "ip");
    const external = read(ports, i, "external");
    if (isUnknown(ip)) continue;
    const addr = typeof ip === "string" && ip !== "" ? ip : "0.0.0.0";
    if (!isLoopback(addr)) {
      const port = isUnknown(external) || external === undefined ? `port ${String(read(ports, i, "internal"))}` : `host port ${String(external)}`;
      out.push(`${r.name}: ${port} is published on ${addr}; a protected stack publishes no port beyond loopback (nexus-db:docker.bindAddress 127.0.0.1)`);
    }
  }
  return out;
}

// --- deletion protection --------------------------------------------------------------------------

const DATA_BEARING: Kind[] = ["PostgresRoles", "PostgresSchema", "MongoSchema", "DockerVolume", "DockerContainer"];

export function deletionProtectionFindings(r: ResourceView): string[] {
  const kind = resourceKind(r.type);
  if (!kind || !DATA_BEARING.includes(kind)) return [];
  const out: string[] = [];
  if (!r.protect) out.push(`${r.name}: holds data but is not protected; a protected stack sets \`protect\` on every data-bearing resource`);
  const drops: [Read, string][] = [
    [kind === "PostgresRoles" ? read(r.props, "dropOnDelete") : false, "dropOnDelete"],
    [kind === "PostgresSchema" ? read(r.props, "settings", "dropOnDelete") : false, "settings.dropOnDelete"],
    [kind === "MongoSchema" ? read(r.props, "dropCollectionsOnDelete") : false, "dropCollectionsOnDelete"],
  ];
  for (const [v, field] of drops) {
    if (v === true) out.push(`${r.name}: ${field} is true; a protected stack never drops data on delete`);
  }
  return out;
}

// --- no default or short passwords ---------------------------------------------------------------

/** Where each kind carries passwords: paths to plain values, or to URLs with a password. */
const PASSWORD_FIELDS: Partial<Record<Kind, string[][]>> = {
  PostgresRoles: [["passwords", "owner"], ["passwords", "app"], ["passwords", "readonly"], ["admin", "password"]],
  PostgresSchema: [["connection", "password"]],
  PostgresGrants: [["admin", "password"]],
  PostgresSeedData: [["connection", "password"]],
  RedisServerSettings: [["passwords", "admin"], ["passwords", "app"], ["passwords", "readonly"], ["passwords", "warmup"], ["admin", "password"]],
  MongoSchema: [["users", "app", "password"], ["users", "analytics", "password"]],
};

/** What is wrong with a password, without ever quoting it; undefined when it is acceptable. */
export function passwordProblem(value: string): string | undefined {
  const weak = weakPassword(value);
  if (weak === "default") return "is a default password";
  if (weak === "short") return `has ${value.length} characters (at least ${MIN_PASSWORD_LENGTH})`;
  return undefined;
}

export function passwordFindings(r: ResourceView): string[] {
  const kind = resourceKind(r.type);
  if (!kind) return [];
  const suffix = "; a protected stack refuses default and short passwords";
  const out: string[] = [];
  if (kind === "RandomPassword") {
    const length = read(r.props, "length");
    if (typeof length === "number" && length < MIN_PASSWORD_LENGTH) out.push(`${r.name}: generates ${length}-character passwords (at least ${MIN_PASSWORD_LENGTH})${suffix}`);
    return out;
  }
  const values: [string, unknown][] = (PASSWORD_FIELDS[kind] ?? []).map((p) => [p.join("."), read(r.props, ...p)]);
  for (const urlPath of [["connection", "url"], ["connection"], ["admin"]]) {
    const url = read(r.props, ...urlPath);
    if (typeof url === "string" && /^[a-z+]+:\/\//.test(url)) {
      try {
        const pw = decodeURIComponent(new URL(url).password);
        if (pw) values.push([`${urlPath.join(".")} (URL)`, pw]);
      } catch {
        // not a URL: nothing to check
      }
    }
  }
  if (kind === "DockerContainer") {
    const envs = read(r.props, "envs");
    if (Array.isArray(envs)) {
      for (let i = 0; i < envs.length; i++) {
        const e = read(envs, i);
        const m = typeof e === "string" ? /^([A-Z0-9_]*PASSWORD)=(.*)$/s.exec(e) : null;
        if (m) values.push([`envs ${m[1]}`, m[2]]);
      }
    }
  }
  for (const [field, v] of values) {
    if (typeof v !== "string" || v === "") continue; // absent, unknown or secret-less: nothing to judge
    const problem = passwordProblem(v);
    if (problem) out.push(`${r.name}: ${field} ${problem}${suffix}`);
  }
  return out;
}

// --- no seed data ---------------------------------------------------------------------------------

export function seedDataFindings(r: ResourceView): string[] {
  if (resourceKind(r.type) !== "PostgresSeedData") return [];
  return [`${r.name}: loads sql/seeds into the database; a protected stack never loads seed data (nexus-db:postgres.seedData false)`];
}
