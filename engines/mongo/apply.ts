// Sending a plan: refuse up front when the server lacks a declared feature the stack does not allow
// missing, or when a conflict needs a decision; otherwise one command per step, in order, stopping
// at the first failure with a result that says what ran, what failed and what did not run.
import type { Db } from "mongodb";
import type { Plan, PlanStep } from "./plan";
import type { MongoFeature } from "./settings";

export interface ApplyOptions {
  /** Features the stack allows the server to lack. */
  allowMissingFeatures?: readonly MongoFeature[];
  /** A protected stack allows nothing missing, whatever allowMissingFeatures says. */
  protected?: boolean;
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

/** Checks that the plan may be applied; throws MongoApplyError listing every reason it may not. */
export function assertApplicable(plan: Plan, opts: ApplyOptions): void {
  const blocking = blockingUnsupported(plan, opts);
  const reasons: string[] = [];
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
  };
  for (const [i, s] of plan.steps.entries()) {
    try {
      await db.command(s.command);
      result.applied.push(...s.actions);
    } catch (err) {
      result.failed = { actions: s.actions, command: commandSummary(s), error: (err as Error).message };
      result.notRun = plan.steps.slice(i + 1).flatMap((x) => x.actions);
      break;
    }
  }
  return result;
}

/** The command's name and target, without its body (a user step's body holds a password). */
export function commandSummary(s: PlanStep): string {
  const [name, target] = Object.entries(s.command)[0] ?? ["?", "?"];
  return `${name} ${String(target)}`;
}
