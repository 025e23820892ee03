// Sending a plan: refuse up front when the server lacks a declared feature the stack does not allow
// missing, when a protected stack's server cannot enforce a declared rule the stack does not allow
// by name, or when a conflict needs a decision; otherwise one command per step, in order, each read
// back (a server may answer ok and keep nothing), stopping at the first failure with a result that
// says what ran, what failed and what did not run.
import type { Db } from "mongodb";
import { indexName, isTextIndex, type IndexDeclaration } from "./declarations";
import { observeCollection, type ObservedIndex } from "./observe";
import { canonical, indexDifferences, type Plan, type PlanStep, type StepExpectation } from "./plan";
import type { MongoFeature } from "./settings";

export interface ApplyOptions {
  /** Features the stack allows the server to lack. */
  allowMissingFeatures?: readonly MongoFeature[];
  /** A protected stack allows nothing missing, whatever allowMissingFeatures says. */
  protected?: boolean;
  /** Declared rules a protected stack accepts the server not enforcing, by the plan's names. */
  allowUnenforcedRules?: readonly string[];
}

export interface ApplyResult {
  /** Reviewer lines of the steps that ran (bookkeeping steps show as nothing). */
  applied: string[];
  /** The step that failed and the server's message. */
  failed?: { actions: string[]; command: string; error: string };
  /** Reviewer lines of the steps that did not run after a failure. */
  notRun: string[];
  /** Missing features that were allowed and skipped. */
  skipped: string[];
  /** What the server did not keep after a step that it answered ok, where the stack allows the feature missing. */
  notKept: string[];
}

export class MongoApplyError extends Error {
  constructor(message: string, readonly result?: ApplyResult) {
    super(message);
    this.name = "MongoApplyError";
  }
}

/** The unsupported features that block apply under these options (all of them in a protected stack). */
export function blockingUnsupported(plan: Plan, opts: ApplyOptions): string[] {
  const allowed = new Set(opts.protected ? [] : (opts.allowMissingFeatures ?? []));
  return plan.unsupported.filter((u) => !allowed.has(u.feature)).map((u) => u.text);
}

/** The rules the server cannot enforce that block apply: in a protected stack, those not allowed by name. */
export function blockingUnenforced(plan: Plan, opts: ApplyOptions): string[] {
  if (!opts.protected) return [];
  const allowed = new Set(opts.allowUnenforcedRules ?? []);
  return plan.unenforced.filter((u) => !allowed.has(u.rule)).map((u) => `${u.rule}: ${u.why}`);
}

/** Checks that the plan may be applied; throws MongoApplyError listing every reason it may not. */
export function assertApplicable(plan: Plan, opts: ApplyOptions): void {
  const blocking = blockingUnsupported(plan, opts);
  const reasons: string[] = [];
  const unenforced = blockingUnenforced(plan, opts);
  if (unenforced.length > 0) {
    reasons.push(
      `the server (${plan.server}) cannot enforce declared rules:\n    ${unenforced.join("\n    ")}\n  ` +
        `a protected stack refuses that unless the stack allows each rule by name (mongo.settings.allowUnenforcedRules, CLI --allow-unenforced): ` +
        `[${plan.unenforced.filter((u) => !(opts.allowUnenforcedRules ?? []).includes(u.rule)).map((u) => u.rule).join(", ")}]`,
    );
  }
  if (blocking.length > 0) {
    const features = [...new Set(plan.unsupported.filter((u) => blocking.includes(u.text)).map((u) => u.feature))];
    reasons.push(
      `the server (${plan.server}) lacks declared features:\n    ${blocking.join("\n    ")}\n  ` +
        (opts.protected
          ? "a protected stack needs them all: point it at a MongoDB that has them"
          : `allow them missing (stack setting mongo.allowMissingFeatures, CLI --allow-missing): [${features.join(", ")}] — never in a protected stack — or use a full MongoDB`),
    );
  }
  if (plan.conflicts.length > 0) reasons.push(plan.conflicts.join("\n  "));
  if (reasons.length > 0) throw new MongoApplyError(`nothing applied to ${plan.database}:\n  ${reasons.join("\n  ")}`);
}

/** Runs the plan's steps against `db` (the platform database). Refuses before sending anything if not applicable. */
export async function applyPlan(db: Db, plan: Plan, opts: ApplyOptions = {}): Promise<ApplyResult> {
  assertApplicable(plan, opts);
  const result: ApplyResult = {
    applied: [],
    notRun: [],
    skipped: plan.unsupported.map((u) => u.text.replace(/^unsupported by server: /, "skipped, unsupported by server: ")),
    notKept: [],
  };
  const allowed = new Set(opts.protected ? [] : (opts.allowMissingFeatures ?? []));
  for (const [i, s] of plan.steps.entries()) {
    let error: string | undefined;
    try {
      await db.command(s.command);
      // Read back: what the server answered ok to must be there.
      const lost = s.expect && s.collection ? await notKept(db, s.collection, s.expect) : [];
      const isAllowed = (l: { feature?: MongoFeature }) => l.feature !== undefined && allowed.has(l.feature);
      const blocking = lost.filter((l) => !isAllowed(l));
      result.notKept.push(...lost.filter(isAllowed).map((l) => `not kept by server (${l.feature} allowed missing): ${l.text}`));
      if (blocking.length > 0) error = `the server answered ok but did not keep: ${blocking.map((l) => l.text).join("; ")}`;
    } catch (err) {
      error = (err as Error).message;
    }
    if (error !== undefined) {
      result.failed = { actions: s.actions, command: commandSummary(s), error };
      result.notRun = plan.steps.slice(i + 1).flatMap((x) => x.actions);
      break;
    }
    result.applied.push(...s.actions);
  }
  return result;
}

/** What a step should have left on `collection` but the server does not show, by feature. */
export async function notKept(db: Db, collection: string, expect: StepExpectation): Promise<{ feature?: MongoFeature; text: string }[]> {
  const live = await observeCollection(db, collection);
  const out: { feature?: MongoFeature; text: string }[] = [];
  if ("validator" in expect) {
    if (!live) return [{ feature: "validators", text: `collection ${collection} is not there` }];
    if (canonical(live.validator ?? {}) !== canonical(expect.validator)) {
      out.push({ feature: "validators", text: `validator of ${collection} (listCollections shows ${live.validator ? "another one" : "none"})` });
    } else if ((live.validationLevel ?? "strict") !== expect.validationLevel || (live.validationAction ?? "error") !== expect.validationAction) {
      out.push({ feature: "validators", text: `validation of ${collection} is ${live.validationLevel ?? "strict"}/${live.validationAction ?? "error"}, not ${expect.validationLevel}/${expect.validationAction}` });
    }
    return out;
  }
  const byName = new Map<string, ObservedIndex>((live?.indexes ?? []).map((i) => [i.name, i]));
  if ("indexes" in expect) {
    for (const ix of expect.indexes) {
      const have = byName.get(indexName(ix));
      if (!have) {
        out.push({ feature: featureOf(ix), text: `index ${collection}.${indexName(ix)} is not there` });
        continue;
      }
      const d = indexDifferences(ix, have);
      if (d.rebuild.length > 0 || d.ttl) out.push({ feature: featureOf(ix, d), text: `index ${collection}.${indexName(ix)}: ${[...d.rebuild, ...(d.ttl ? [`TTL ${d.ttl.from}s, not ${d.ttl.to}s`] : [])].join("; ")}` });
    }
  } else if ("ttl" in expect) {
    const have = byName.get(expect.ttl.index)?.expireAfterSeconds;
    if (have !== expect.ttl.seconds) out.push({ feature: "ttlIndexes", text: `TTL of ${collection}.${expect.ttl.index} is ${have ?? "gone"}, not ${expect.ttl.seconds}s` });
  } else if ("dropped" in expect) {
    for (const n of expect.dropped) if (byName.has(n)) out.push({ text: `index ${collection}.${n} is still there` });
  }
  return out;
}

/** The feature an index option that was not kept belongs to (what a stack may allow missing); none for a plain index. */
function featureOf(ix: IndexDeclaration, d?: { rebuild: string[]; ttl?: unknown }): MongoFeature | undefined {
  const why = d ? [...d.rebuild, d.ttl ? "TTL" : ""].join(" ") : "";
  if (ix.expireAfterSeconds !== undefined && (!d || /TTL/.test(why))) return "ttlIndexes";
  if (ix.partialFilterExpression && (!d || /partial/.test(why))) return "partialIndexes";
  if (isTextIndex(ix)) return "textIndexes";
  if (ix.sparse && (!d || /sparse/.test(why))) return "sparseIndexes";
  return undefined;
}


/** The command's name and target, without its body (a user step's body holds a password). */
export function commandSummary(s: PlanStep): string {
  const [name, target] = Object.entries(s.command)[0] ?? ["?", "?"];
  return `${name} ${String(target)}`;
}
