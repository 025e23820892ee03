// The Mongo reconciler: declarations in, a plan a reviewer can read, and an apply that converges
// any MongoDB (container, Atlas, existing server) to the declarations. Used by the CLI and by the
// MongoSchema dynamic provider alike; no Pulumi here.
import type { Db, MongoClient } from "mongodb";
import { applyPlan, assertApplicable, MongoApplyError, type ApplyOptions, type ApplyResult } from "./apply";
import { probeCapabilities, type Capabilities } from "./capabilities";
import { validateDeclarations, type CollectionDeclaration } from "./declarations";
import { observe } from "./observe";
import { enforcementLines, planChanges, type Plan } from "./plan";
import type { DesiredUser } from "./users";

export * from "./apply";
export * from "./capabilities";
export * from "./dialect";
export * from "./declarations";
export * from "./observe";
export * from "./plan";
export * from "./users";
export * from "./settings";
export { clientOptions, connectMongo, databaseFromUrl, redactUrl } from "./connection";

export interface MongoReconcilerOptions extends ApplyOptions {
  /** A connected client; the caller owns it and closes it. */
  client: MongoClient;
  /** The platform database. */
  database: string;
  collections: readonly CollectionDeclaration[];
  /** Users to keep; none when omitted. */
  users?: readonly DesiredUser[];
  /** Declared rules a protected stack accepts the server not enforcing, by the plan's names. Default []. */
  allowUnenforcedRules?: readonly string[];
  /** Drop collections nexus-db created once no longer declared (dev only). Default false. */
  dropCollectionsOnDelete?: boolean;
  /** Skip the probe and assume these capabilities (tests, planning offline). */
  capabilities?: Capabilities;
  /** A previous probe of this server, reused when the server's build is unchanged (no scratch writes). */
  previousCapabilities?: Capabilities;
}

export interface MongoStatus {
  database: string;
  server: string;
  capabilities: Capabilities;
  managed: Plan["managed"];
  /** Lines of the pending plan (empty when the server matches the declarations). */
  pending: string[];
  unmanaged: string[];
  unsupported: string[];
  /** What the server enforces of the declared validators and users, where it differs from the declarations. */
  enforcement: string[];
}

export class MongoReconciler {
  private readonly db: Db;
  private probed?: Promise<Capabilities>;

  constructor(private readonly opts: MongoReconcilerOptions) {
    // Bad declarations fail here, before any command is sent.
    validateDeclarations(opts.collections);
    this.db = opts.client.db(opts.database);
    if (opts.capabilities) this.probed = Promise.resolve(opts.capabilities);
  }

  /** The server's capabilities, probed once per reconciler. */
  capabilities(): Promise<Capabilities> {
    this.probed ??= probeCapabilities(this.db, { previous: this.opts.previousCapabilities });
    return this.probed;
  }

  /** The dry run: what apply would send, in words. */
  async plan(): Promise<Plan> {
    const capabilities = await this.capabilities();
    const observed = await observe(this.db, { users: capabilities.has.users ? this.opts.users : undefined });
    return planChanges({
      database: this.opts.database,
      collections: this.opts.collections,
      users: this.opts.users,
      observed,
      capabilities,
      dropCollectionsOnDelete: this.opts.dropCollectionsOnDelete,
      protected: this.opts.protected,
    });
  }

  /** Plans and applies; throws MongoApplyError (with the result) when a step fails. */
  async apply(): Promise<{ plan: Plan; result: ApplyResult }> {
    const plan = await this.plan();
    const result = await applyPlan(this.db, plan, this.opts);
    if (result.failed) {
      throw new MongoApplyError(
        `apply to ${plan.database} stopped at ${result.failed.command}: ${result.failed.error}\n` +
          `  applied: ${result.applied.length ? result.applied.join("; ") : "nothing"}\n` +
          `  failed: ${result.failed.actions.join("; ") || "(bookkeeping)"}\n` +
          `  not run: ${result.notRun.length ? result.notRun.join("; ") : "nothing"}`,
        result,
      );
    }
    return { plan, result };
  }

  /** Throws when apply would refuse this plan (unsupported features, conflicts). */
  check(plan: Plan): void {
    assertApplicable(plan, this.opts);
  }

  async status(): Promise<MongoStatus> {
    const plan = await this.plan();
    const capabilities = await this.capabilities();
    return {
      database: plan.database,
      server: plan.server,
      capabilities,
      managed: plan.managed,
      pending: [...plan.actions, ...plan.conflicts],
      unmanaged: plan.unmanaged,
      unsupported: plan.unsupported.map((u) => u.text),
      enforcement: enforcementLines(plan),
    };
  }
}

