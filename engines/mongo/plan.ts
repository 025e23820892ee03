// From declarations, what the server has and what it can do, to the list of commands that converge
// it, each carrying the lines a reviewer reads. Pure: no I/O, so every decision is testable offline.
import type { Document } from "mongodb";
import type { Capabilities } from "./capabilities";
import { lowerValidator, type UnenforcedRule } from "./dialect";
import {
  MANAGED_RECORD_COLLECTION,
  PROBE_COLLECTION_PREFIX,
  indexName,
  isTextIndex,
  type CollectionDeclaration,
  type IndexDeclaration,
} from "./declarations";
import type { ManagedRecord, ObservedCollection, ObservedIndex, ObservedState } from "./observe";
import type { MongoFeature } from "./settings";
import { rolesText, sameRoles, type DesiredUser, type RoleRef } from "./users";

export type StepKind =
  | "createCollection"
  | "updateValidation"
  | "dropIndexes"
  | "changeTtl"
  | "createIndexes"
  | "dropCollection"
  | "createUser"
  | "updateUser"
  | "record";

export interface PlanStep {
  kind: StepKind;
  collection?: string;
  /** What a reviewer reads: one line per action this command carries (empty for bookkeeping). */
  actions: string[];
  /** The command sent to the platform database. User steps hold a password: never print it. */
  command: Document;
  /** What the server must show afterwards; apply reads it back (see apply.ts). */
  expect?: StepExpectation;
}

/** The state a step leaves, as listCollections and listIndexes must show it. */
export type StepExpectation =
  | { validator: Document; validationLevel: string; validationAction: string }
  | { indexes: IndexDeclaration[] }
  | { ttl: { index: string; seconds: number } }
  | { dropped: string[] };

/** Per collection: how its declared validator reaches this server. */
export interface ValidatorEnforcement {
  collection: string;
  /** Keywords rewritten into query operators the server enforces, e.g. "required → $exists (6)". */
  lowered: string[];
  /** Declared rules the server cannot enforce. */
  unenforced: UnenforcedRule[];
}

export interface UnsupportedFeature {
  feature: MongoFeature;
  /** e.g. "unsupported by server: TTL on engine_stats.ts_1". */
  text: string;
}

export interface Plan {
  database: string;
  /** The server as probed, e.g. "FerretDB (reports MongoDB 7.0.42)". */
  server: string;
  steps: PlanStep[];
  /** Every step's reviewer lines, in order. */
  actions: string[];
  /** Declared features the server lacks; apply refuses unless the stack allows them missing. */
  unsupported: UnsupportedFeature[];
  /** Declared rules (validator keywords, user roles) this server will not enforce, by name. */
  unenforced: UnenforcedRule[];
  /** Per collection with a validator: enforced as declared, lowered, or partly not enforced. */
  enforcement: ValidatorEnforcement[];
  /** Things that block apply until someone decides (e.g. an unmanaged index in the way). */
  conflicts: string[];
  /** Indexes and collections nexus-db did not create and leaves alone. */
  unmanaged: string[];
  /** Other things worth knowing (a collection no longer declared but kept). */
  notes: string[];
  /** What nexus-db manages once the plan is applied: collection names and `collection.index` names. */
  managed: { collections: string[]; indexes: string[] };
}

export interface PlanInput {
  database: string;
  collections: readonly CollectionDeclaration[];
  users?: readonly DesiredUser[];
  observed: ObservedState;
  capabilities: Capabilities;
  /** Drop collections nexus-db created once they are no longer declared. Default false. */
  dropCollectionsOnDelete?: boolean;
  /** A protected stack never drops a collection, whatever the other settings say. */
  protected?: boolean;
}

/** Every line of the plan: actions, unsupported features, enforcement, conflicts, unmanaged objects, notes. */
export function planLines(plan: Plan): string[] {
  return [...plan.actions, ...plan.unsupported.map((u) => u.text), ...enforcementLines(plan), ...plan.conflicts, ...plan.unmanaged, ...plan.notes];
}

/** What the server enforces of each declared validator and user, in words (nothing on a server that takes them as declared). */
export function enforcementLines(plan: Pick<Plan, "enforcement" | "unenforced">): string[] {
  const lines: string[] = [];
  for (const e of plan.enforcement) {
    if (e.lowered.length > 0) lines.push(`validator ${e.collection}: enforced as $jsonSchema plus query operators (${e.lowered.join(", ")})`);
  }
  for (const u of plan.unenforced) lines.push(`not enforced by server: ${u.rule} (${u.why})`);
  return lines;
}

/** Whether applying would send anything. */
export function hasChanges(plan: Plan): boolean {
  return plan.steps.length > 0;
}

export function planChanges(input: PlanInput): Plan {
  const { database, capabilities: caps, observed } = input;
  const plan: Plan = {
    database,
    server: caps.server,
    steps: [],
    actions: [],
    unsupported: [],
    unenforced: [],
    enforcement: [],
    conflicts: [],
    unmanaged: [],
    notes: [],
    managed: { collections: [], indexes: [] },
  };
  const step = (s: PlanStep) => plan.steps.push(s);
  const unsupported = (feature: MongoFeature, what: string) =>
    plan.unsupported.push({ feature, text: `unsupported by server: ${what}` });

  const declaredNames = new Set(input.collections.map((c) => c.name));
  for (const decl of input.collections) {
    planCollection(decl, observed.collections.get(decl.name), observed.managed.get(decl.name), caps, plan, step, unsupported);
  }

  // Collections that are not (or no longer) declared.
  const dropAllowed = !!input.dropCollectionsOnDelete && !input.protected;
  for (const [name, rec] of observed.managed) {
    if (declaredNames.has(name)) continue;
    const live = observed.collections.get(name);
    if (!live) {
      step({ kind: "record", collection: name, actions: [`forget collection ${name}: no longer declared and gone from the server`], command: recordDelete(name) });
    } else if (dropAllowed && rec.created) {
      step({ kind: "dropCollection", collection: name, actions: [`drop collection ${name}: no longer declared (dropCollectionsOnDelete), its data is deleted`], command: { drop: name } });
      step({ kind: "record", collection: name, actions: [], command: recordDelete(name) });
    } else {
      const why = input.protected
        ? "a protected stack never drops collections"
        : !rec.created
          ? "nexus-db did not create it"
          : "dropCollectionsOnDelete is off";
      plan.notes.push(`keep collection ${name}: no longer declared, kept with its data (${why})`);
    }
  }
  for (const c of observed.collections.values()) {
    if (declaredNames.has(c.name) || observed.managed.has(c.name)) continue;
    if (c.name === MANAGED_RECORD_COLLECTION || c.name.startsWith("system.") || c.name.startsWith(PROBE_COLLECTION_PREFIX)) continue;
    plan.unmanaged.push(`unmanaged ${c.type === "view" ? "view" : "collection"} ${c.name}: left alone`);
  }

  planUsers(input, plan, step, unsupported);
  plan.actions = plan.steps.flatMap((s) => s.actions);
  return plan;
}

function planCollection(
  decl: CollectionDeclaration,
  live: ObservedCollection | undefined,
  rec: ManagedRecord | undefined,
  caps: Capabilities,
  plan: Plan,
  step: (s: PlanStep) => void,
  unsupported: (f: MongoFeature, what: string) => void,
): void {
  const c = decl.name;
  plan.managed.collections.push(c);
  const level = decl.validationLevel ?? "strict";
  const action = decl.validationAction ?? "error";

  if (decl.validator && !caps.has.validators) unsupported("validators", `validator on ${c}`);
  const withValidator = !!decl.validator && caps.has.validators;
  // The validator in this server's dialect (the declaration itself on MongoDB).
  const lowered = withValidator ? lowerValidator(c, decl.validator!, caps.validation) : undefined;
  if (lowered && (lowered.lowered.length > 0 || lowered.unenforced.length > 0)) {
    plan.enforcement.push({ collection: c, lowered: lowered.lowered, unenforced: lowered.unenforced });
    plan.unenforced.push(...lowered.unenforced);
  }
  const want = lowered?.validator ?? {};
  const validation = { validator: want, validationLevel: level, validationAction: action };

  if (!live) {
    const cmd: Document = { create: c };
    const onCreate = withValidator && caps.validation.onCreate;
    if (onCreate) Object.assign(cmd, validation);
    const what = withValidator
      ? `validator ${level}/${action}${onCreate ? "" : ", set with collMod after create: the server drops a validator given to create"}`
      : decl.validator
        ? "no validator: server lacks validators"
        : "no validator";
    step({ kind: "createCollection", collection: c, actions: [`create collection ${c} (${what})`], command: cmd, ...(onCreate ? { expect: validation } : {}) });
    if (withValidator && !onCreate) step({ kind: "updateValidation", collection: c, actions: [], command: { collMod: c, ...validation }, expect: validation });
  } else if (caps.has.validators) {
    const lines: string[] = [];
    if (canonical(live.validator ?? {}) !== canonical(want)) {
      lines.push(
        decl.validator
          ? `update validator ${c}: ${live.validator ? "$jsonSchema changed" : "added"}, in place`
          : `remove validator ${c}: no longer declared, in place`,
      );
    }
    const liveLevel = live.validationLevel ?? "strict";
    const liveAction = live.validationAction ?? "error";
    if (withValidator && liveLevel !== level) lines.push(`validation ${c}: level ${liveLevel} → ${level}`);
    if (withValidator && liveAction !== action) lines.push(`validation ${c}: action ${liveAction} → ${action}`);
    if (lines.length > 0) {
      if (!caps.has.collMod) unsupported("collMod", `in-place validator change (collMod) on ${c}`);
      else {
        const cmd: Document = { collMod: c, validator: want };
        if (withValidator) Object.assign(cmd, { validationLevel: level, validationAction: action });
        step({ kind: "updateValidation", collection: c, actions: lines, command: cmd, ...(withValidator ? { expect: validation } : {}) });
      }
    }
  }

  // Indexes: what the server can hold of each declaration.
  const effective: IndexDeclaration[] = [];
  const withoutTtl = new Set<string>();
  for (const ix of decl.indexes) {
    const n = `${c}.${indexName(ix)}`;
    if (ix.partialFilterExpression && !caps.has.partialIndexes) unsupported("partialIndexes", `partial index ${n}`);
    else if (isTextIndex(ix) && !caps.has.textIndexes) unsupported("textIndexes", `text index ${n}`);
    else if (ix.sparse && !caps.has.sparseIndexes) unsupported("sparseIndexes", `sparse index ${n}`);
    else if (ix.expireAfterSeconds !== undefined && !caps.has.ttlIndexes) {
      // The index still serves its time-range queries; only the expiry is missing.
      unsupported("ttlIndexes", `TTL on ${n}`);
      const { expireAfterSeconds: _dropped, ...rest } = ix;
      withoutTtl.add(indexName(ix));
      effective.push(rest);
    } else effective.push(ix);
  }

  const liveIndexes = new Map((live?.indexes ?? []).map((i) => [i.name, i]));
  const recorded = new Set(rec?.indexes ?? []);
  const declaredIndexNames = new Set(decl.indexes.map(indexName));
  const toDrop: string[] = [];
  const dropLines: string[] = [];
  const ttlSteps: PlanStep[] = [];
  const toCreate: Document[] = [];
  const createdDecls: IndexDeclaration[] = [];
  const createLines: string[] = [];

  for (const ix of effective) {
    const name = indexName(ix);
    const n = `${c}.${name}`;
    const have = liveIndexes.get(name);
    if (have) {
      const d = indexDifferences(ix, have);
      if (d.rebuild.length === 0 && d.ttl && caps.has.collMod && caps.ttlInPlace) {
        ttlSteps.push({
          kind: "changeTtl",
          collection: c,
          actions: [`TTL ${n}: ${d.ttl.from}s → ${d.ttl.to}s, in place`],
          command: { collMod: c, index: { name, expireAfterSeconds: d.ttl.to } },
          expect: { ttl: { index: name, seconds: d.ttl.to } },
        });
        continue;
      }
      if (d.ttl) d.rebuild.push(`TTL ${d.ttl.from}s → ${d.ttl.to}s and the server cannot change it in place`);
      if (d.rebuild.length === 0) continue;
      toDrop.push(name);
      dropLines.push(`rebuild index ${n}: ${d.rebuild.join("; ")}`);
      toCreate.push(indexSpec(ix));
      createdDecls.push(ix);
      continue;
    }
    // A second index on the same keys is refused by the server; someone must decide which stays.
    const twin = [...liveIndexes.values()].find(
      (o) => o.name !== "_id_" && keyShape(o.key) === keyShape(ix.key) && canonical(o.partialFilterExpression ?? null) === canonical(ix.partialFilterExpression ?? null),
    );
    const twinLeaves = twin && recorded.has(twin.name) && !declaredIndexNames.has(twin.name);
    if (twin && !twinLeaves) {
      plan.conflicts.push(
        `conflict: index ${n} has the same keys as existing index ${c}.${twin.name}; drop ${c}.${twin.name} by hand or declare it under that name`,
      );
      continue;
    }
    toCreate.push(indexSpec(ix));
    createdDecls.push(ix);
    createLines.push(`create index ${n}${describeIndex(ix)}${withoutTtl.has(name) ? " without TTL (unsupported by server)" : ""}`);
  }

  for (const o of liveIndexes.values()) {
    if (o.name === "_id_" || declaredIndexNames.has(o.name)) continue;
    if (recorded.has(o.name)) {
      toDrop.push(o.name);
      dropLines.push(`drop index ${c}.${o.name}: no longer declared`);
    } else plan.unmanaged.push(`unmanaged index ${c}.${o.name}: left alone`);
  }

  const created = (rec?.created ?? false) || !live;
  const finalIndexes = effective.map(indexName).filter((n) => !plan.conflicts.some((x) => x.startsWith(`conflict: index ${c}.${n} `))).sort();
  const before = rec ? [...rec.indexes].sort() : undefined;
  // Record new names before creating them and forget dropped ones after dropping them, so a run cut
  // short never leaves an index nexus-db created looking unmanaged.
  const union = [...new Set([...(before ?? []), ...finalIndexes])].sort();
  if (!before || !sameList(before, union) || rec?.created !== created) {
    const driftOnly = !!live && toCreate.length === 0 && toDrop.length === 0 && ttlSteps.length === 0;
    step({
      kind: "record",
      collection: c,
      actions: driftOnly ? [`record ${c} as managed by nexus-db (${union.length} indexes)`] : [],
      command: recordUpsert({ _id: c, indexes: union, created }),
    });
  }
  if (toDrop.length > 0) {
    // A rebuilt index is dropped and created again under its name: only the others must be gone.
    const gone = toDrop.filter((n) => !createdDecls.some((ix) => indexName(ix) === n));
    step({ kind: "dropIndexes", collection: c, actions: dropLines, command: { dropIndexes: c, index: toDrop }, expect: { dropped: gone } });
  }
  for (const s of ttlSteps) step(s);
  if (toCreate.length > 0) {
    step({ kind: "createIndexes", collection: c, actions: createLines, command: { createIndexes: c, indexes: toCreate }, expect: { indexes: createdDecls } });
  }
  if (!sameList(union, finalIndexes)) {
    const gone = union.filter((n) => !finalIndexes.includes(n) && !liveIndexes.has(n));
    step({
      kind: "record",
      collection: c,
      actions: gone.map((n) => `forget index ${c}.${n}: no longer declared and gone from the server`),
      command: recordUpsert({ _id: c, indexes: finalIndexes, created }),
    });
  }
  plan.managed.indexes.push(...finalIndexes.map((n) => `${c}.${n}`));
}

function planUsers(
  input: PlanInput,
  plan: Plan,
  step: (s: PlanStep) => void,
  unsupported: (f: MongoFeature, what: string) => void,
): void {
  const users = input.users ?? [];
  if (users.length === 0) return;
  if (!input.capabilities.has.users) {
    for (const u of users) unsupported("users", `user ${u.name} (${rolesText(u.roles)})`);
    return;
  }
  const dialect = input.capabilities.userRoles;
  const live = input.observed.users ?? new Map();
  for (const declared of users) {
    // On a server with cluster-wide roles only, the nearest roles that still allow what is declared;
    // on one that keeps no roles, the declared ones are sent and what it stores is what to expect.
    const roles = dialect.roles === "cluster" ? clusterRoles(declared.roles) : declared.roles;
    const expected = dialect.roles === "ignored" ? (dialect.storedAs ?? []) : roles;
    const u = { ...declared, roles };
    const mapped =
      dialect.roles === "cluster"
        ? ` → ${rolesText(roles)}: the server has cluster-wide roles only`
        : dialect.roles === "ignored"
          ? `; the server keeps no roles: stored as ${rolesText(expected)}`
          : "";
    const readOnly = declared.roles.every((r) => r.role === "read");
    const rule = `users.${u.name}.roles`;
    if (dialect.roles === "ignored") {
      plan.unenforced.push({ rule, why: `${rolesText(declared.roles)} is stored as ${rolesText(expected)}: this server keeps no roles (${dialect.why ?? ""})` });
    } else if (dialect.roles === "cluster" && !readOnly) {
      plan.unenforced.push({ rule, why: `${rolesText(declared.roles)} becomes ${rolesText(roles)} (every database)` });
    } else if (dialect.enforced === false && readOnly) {
      plan.unenforced.push({ rule, why: `read only is not enforced through this endpoint: ${dialect.why ?? "a read-only user could write"}` });
    } else if (dialect.roles === "cluster" && readOnly) {
      plan.unenforced.push({ rule, why: `${rolesText(declared.roles)} becomes readAnyDatabase: it can read every database` });
    }
    const have = live.get(u.name);
    if (!have) {
      step({
        kind: "createUser",
        actions: [`create user ${u.name} (${rolesText(declared.roles)}${mapped}, SCRAM-SHA-256)`],
        command: { createUser: u.name, pwd: u.password, roles: u.roles, mechanisms: ["SCRAM-SHA-256"] },
      });
      continue;
    }
    const why: string[] = [];
    const cmd: Document = { updateUser: u.name };
    if (have.passwordMatches !== true) {
      why.push(have.passwordMatches === false ? "password changed" : "password cannot be verified (credentials not visible), set again");
      // DocumentDB refuses `mechanisms` in updateUser (SCRAM-SHA-256 is all it has).
      Object.assign(cmd, { pwd: u.password, ...(dialect.roles === "database" ? { mechanisms: ["SCRAM-SHA-256"] } : {}) });
    }
    if (!sameRoles(have.roles, expected)) {
      why.push(`roles ${rolesText(have.roles)} → ${rolesText(u.roles)}`);
      cmd.roles = u.roles;
    }
    if (why.length > 0) step({ kind: "updateUser", actions: [`update user ${u.name}: ${why.join("; ")}`], command: cmd });
  }
}

/** DocumentDB's roles for declared per-database roles: read → readAnyDatabase; anything more → clusterAdmin + readWriteAnyDatabase. */
export function clusterRoles(roles: readonly RoleRef[]): RoleRef[] {
  return roles.every((r) => r.role === "read")
    ? [{ role: "readAnyDatabase", db: "admin" }]
    : [
        { role: "clusterAdmin", db: "admin" },
        { role: "readWriteAnyDatabase", db: "admin" },
      ];
}

/** The createIndexes entry for a declaration. */
export function indexSpec(ix: IndexDeclaration): Document {
  const s: Document = { key: ix.key, name: indexName(ix) };
  if (ix.unique) s.unique = true;
  if (ix.sparse) s.sparse = true;
  if (ix.partialFilterExpression) s.partialFilterExpression = ix.partialFilterExpression;
  if (ix.expireAfterSeconds !== undefined) s.expireAfterSeconds = ix.expireAfterSeconds;
  if (ix.weights) s.weights = ix.weights;
  if (ix.defaultLanguage) s.default_language = ix.defaultLanguage;
  return s;
}

function describeIndex(ix: IndexDeclaration): string {
  const opts: string[] = [];
  if (ix.unique) opts.push("unique");
  if (Object.keys(ix.key).length > 1 && !isTextIndex(ix)) opts.push("compound");
  if (isTextIndex(ix)) opts.push("text");
  if (ix.partialFilterExpression) opts.push(`partial: ${canonical(ix.partialFilterExpression)}`);
  if (ix.sparse) opts.push("sparse");
  if (ix.expireAfterSeconds !== undefined) opts.push(`TTL ${ix.expireAfterSeconds}s`);
  const on = ix.name ? ` on ${keyText(ix.key)}` : "";
  return `${on}${opts.length ? ` (${opts.join(", ")})` : ""}`;
}

/** Why an existing index differs from its declaration: options needing a rebuild, or a TTL change. */
export function indexDifferences(ix: IndexDeclaration, have: ObservedIndex): { rebuild: string[]; ttl?: { from: number; to: number } } {
  const rebuild: string[] = [];
  if (keyShape(ix.key) !== keyShape(have.key) || (isTextIndex(ix) && textFields(ix) !== Object.keys(have.weights ?? {}).sort().join(","))) {
    rebuild.push(`keys changed (${liveKeyText(have)} → ${keyText(ix.key)})`);
  } else if (isTextIndex(ix)) {
    if (canonical(textWeights(ix)) !== canonical(have.weights ?? {})) rebuild.push("text weights changed");
    if ((ix.defaultLanguage ?? "english") !== (have.default_language ?? "english")) rebuild.push("text language changed");
  }
  if (!!ix.unique !== !!have.unique) rebuild.push(ix.unique ? "now unique" : "no longer unique");
  if (!!ix.sparse !== !!have.sparse) rebuild.push(ix.sparse ? "now sparse" : "no longer sparse");
  if (canonical(ix.partialFilterExpression ?? null) !== canonical(have.partialFilterExpression ?? null)) {
    rebuild.push(ix.partialFilterExpression ? (have.partialFilterExpression ? "partial filter changed" : "now partial") : "no longer partial");
  }
  const want = ix.expireAfterSeconds;
  const got = have.expireAfterSeconds;
  if (want !== undefined && got !== undefined && want !== got) return { rebuild, ttl: { from: got, to: want } };
  if (want !== undefined && got === undefined) rebuild.push(`TTL ${want}s added`);
  if (want === undefined && got !== undefined) rebuild.push("TTL removed");
  return { rebuild };
}

/** Key order and directions, with a text index's fields folded into one `$text` slot. */
export function keyShape(key: Record<string, unknown>): string {
  const out: string[] = [];
  let text = false;
  for (const [f, d] of Object.entries(key)) {
    if (d === "text" || f === "_fts") {
      if (!text) out.push("$text");
      text = true;
    } else if (f !== "_ftsx") out.push(`${f}:${String(d)}`);
  }
  return out.join(",");
}

function textFields(ix: IndexDeclaration): string {
  return Object.entries(ix.key).filter(([, d]) => d === "text").map(([f]) => f).sort().join(",");
}

function textWeights(ix: IndexDeclaration): Record<string, number> {
  const w: Record<string, number> = {};
  for (const [f, d] of Object.entries(ix.key)) if (d === "text") w[f] = ix.weights?.[f] ?? 1;
  return w;
}

function keyText(key: Record<string, unknown>): string {
  return `{ ${Object.entries(key).map(([f, d]) => `${f}: ${typeof d === "string" ? JSON.stringify(d) : String(d)}`).join(", ")} }`;
}

function liveKeyText(have: ObservedIndex): string {
  if (have.key._fts !== "text") return keyText(have.key);
  const k: Record<string, unknown> = {};
  for (const [f, d] of Object.entries(have.key)) {
    if (f === "_fts") for (const t of Object.keys(have.weights ?? {}).sort()) k[t] = "text";
    else if (f !== "_ftsx") k[f] = d;
  }
  return keyText(k);
}

function recordUpsert(r: ManagedRecord): Document {
  return { update: MANAGED_RECORD_COLLECTION, updates: [{ q: { _id: r._id }, u: { _id: r._id, indexes: r.indexes, created: r.created }, upsert: true }] };
}

function recordDelete(collection: string): Document {
  return { delete: MANAGED_RECORD_COLLECTION, deletes: [{ q: { _id: collection }, limit: 1 }] };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A stable text form of a document (object keys sorted, arrays in order) for comparisons. */
export function canonical(v: unknown): string {
  return JSON.stringify(sortKeys(v));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v instanceof Date) return { $date: v.toISOString() };
  if (v && typeof v === "object") {
    const bson = v as { _bsontype?: string; toString(): string };
    if (bson._bsontype) return { [`$${bson._bsontype}`]: bson.toString() };
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}
