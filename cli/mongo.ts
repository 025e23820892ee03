// `nexus-db mongo <plan|apply|status>`: the Mongo reconciler for operators and CI, the same engine
// as the MongoSchema resource. Exit status 1 on any error, 2 on bad usage.
import { parseCommand } from "./args";
import { nexusCollections } from "../mongo/collections";
import { nexusMongoSettingsSchema, type NexusMongoSettingsInput } from "../config/mongo-settings";
import {
  DeclarationError,
  MongoApplyError,
  MongoReconciler,
  blockingUnenforced,
  blockingUnsupported,
  enforcementLines,
  connectMongo,
  databaseFromUrl,
  parseMongoSettings,
  planLines,
  platformUsers,
  type MongoFeature,
  type Plan,
} from "../engines/mongo";
import { CA_OPTION, caFile } from "./tls";

const USAGE = `usage: nexus-db mongo <plan|apply|status> --url <MONGODB_URL> [options]
  plan      what apply would do, in words (probes the server's features on a scratch collection)
  apply     converge the server to the declarations under mongo/
  status    what nexus-db manages there, what it does not, and what is pending
options:
  --url URL                   the server (default: $MONGODB_URL)
  --database NAME             platform database (default: the URL's path, else nexus_security)
  --allow-missing FEATURE     a feature the server may lack (repeatable): validators, collMod,
                              ttlIndexes, partialIndexes, textIndexes, sparseIndexes, users
  --protected                 nothing may be missing, no collection is ever dropped, and every
                              declared rule must be enforced by the server unless allowed below
  --allow-unenforced RULE     a declared rule the server may not enforce, by the plan's name
                              (repeatable), e.g. consensus_results.vote_distribution.additionalProperties
  --drop-collections          drop collections nexus-db created once no longer declared (dev only)
  --ttl-engine-stats S        engine_stats retention in seconds (default 2592000)
  --ttl-sandbox-reports S     sandbox_reports retention in seconds (default 7776000)
  --ttl-threat-indicators S   seconds a threat indicator is kept past valid_until (default 0)
  --tls                       connect with TLS (default: when the URL says tls=true)
  --ca FILE, --tls-ca FILE    CA certificate (PEM) of the server (default: $NEXUS_DB_CA_FILE)
  --tls-cert FILE             client certificate and key (PEM)
  --json                      print the result as JSON
users: set NEXUS_MONGO_APP_PASSWORD and NEXUS_MONGO_ANALYTICS_PASSWORD to keep the application
(readWrite) and analytics (read) users; names via --app-user / --analytics-user.`;

class UsageError extends Error {}

/** TLS from the options, the URL (`tls=true`) and the CA every command trusts (the URL's own tlsCAFile wins). */
function tlsOptions(url: string, o: { tls?: boolean; "tls-ca"?: string; ca?: string; "tls-cert"?: string }): NexusMongoSettingsInput["tls"] {
  // A regex, not URL: a Mongo URL may list several hosts.
  const query = url.includes("?") ? url.slice(url.indexOf("?")) : "";
  const enabled = o.tls ?? /[?&](tls|ssl)=true(&|$)/i.test(query);
  const ca = /[?&]tlsCAFile=/i.test(query) ? (o["tls-ca"] ?? o.ca) : caFile(o["tls-ca"] ?? o.ca);
  return { enabled, caFile: enabled ? ca : undefined, certificateKeyFile: o["tls-cert"] };
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand(
    "mongo",
    args,
    {
      url: { type: "string" },
      database: { type: "string" },
      "allow-missing": { type: "string", multiple: true },
      "allow-unenforced": { type: "string", multiple: true },
      protected: { type: "boolean" },
      "drop-collections": { type: "boolean" },
      "ttl-engine-stats": { type: "string" },
      "ttl-sandbox-reports": { type: "string" },
      "ttl-threat-indicators": { type: "string" },
      tls: { type: "boolean" },
      "tls-ca": { type: "string" },
      ...CA_OPTION,
      "tls-cert": { type: "string" },
      "app-user": { type: "string" },
      "analytics-user": { type: "string" },
      json: { type: "boolean" },
    } as const,
    ["plan", "apply", "status"],
    USAGE,
  );
  if ("exit" in parsed) return parsed.exit;
  const { values: o, command } = parsed;
  const url = o.url ?? process.env.MONGODB_URL;
  if (!url) {
    console.error(`nexus-db mongo: no server: pass --url or set MONGODB_URL\n${USAGE}`);
    return 2;
  }

  let settings;
  try {
    const int = (name: string, v: string | undefined) => {
      if (v === undefined) return undefined;
      if (!/^\d+$/.test(v)) throw new UsageError(`--${name} takes a whole number of seconds, not "${v}"`);
      return Number(v);
    };
    const input: NexusMongoSettingsInput = {
      database: o.database ?? databaseFromUrl(url),
      ttl: {
        engineStatsSeconds: int("ttl-engine-stats", o["ttl-engine-stats"]),
        sandboxReportsSeconds: int("ttl-sandbox-reports", o["ttl-sandbox-reports"]),
        threatIndicatorsAfterValiditySeconds: int("ttl-threat-indicators", o["ttl-threat-indicators"]),
      },
      allowMissingFeatures: (o["allow-missing"] ?? []) as NexusMongoSettingsInput["allowMissingFeatures"],
      allowUnenforcedRules: o["allow-unenforced"] ?? [],
      protected: o.protected ?? false,
      dropCollectionsOnDelete: o["drop-collections"] ?? false,
      tls: tlsOptions(url, o),
      users: { app: { name: o["app-user"] }, analytics: { name: o["analytics-user"] } },
    };
    settings = parseMongoSettings(JSON.parse(JSON.stringify(input)), "option", nexusMongoSettingsSchema);
  } catch (err) {
    console.error(`nexus-db mongo: ${(err as Error).message}`);
    return 2;
  }

  const appPassword = process.env.NEXUS_MONGO_APP_PASSWORD;
  const analyticsPassword = process.env.NEXUS_MONGO_ANALYTICS_PASSWORD;
  const users =
    appPassword && analyticsPassword
      ? platformUsers(settings.database, { name: settings.users.app.name, password: appPassword }, { name: settings.users.analytics.name, password: analyticsPassword })
      : undefined;

  let client;
  try {
    client = await connectMongo(url, settings.tls);
  } catch (err) {
    console.error(`nexus-db mongo: ${(err as Error).message}`);
    return 1;
  }
  try {
    const r = new MongoReconciler({
      client,
      database: settings.database,
      collections: nexusCollections(settings.ttl),
      users,
      allowMissingFeatures: settings.allowMissingFeatures,
      allowUnenforcedRules: settings.allowUnenforcedRules,
      protected: settings.protected,
      dropCollectionsOnDelete: settings.dropCollectionsOnDelete,
    });
    if (command === "status") {
      const s = await r.status();
      if (o.json) console.log(JSON.stringify(s, null, 2));
      else {
        console.log(`${s.database} on ${s.server}`);
        const missing = Object.entries(s.capabilities.missing);
        console.log(missing.length ? `server lacks: ${missing.map(([f, why]) => `${f} (${why})`).join("\n              ")}` : "server has every feature");
        console.log(`managed: ${s.managed.collections.length} collections, ${s.managed.indexes.length} indexes`);
        for (const line of [...s.pending.map((p) => `pending: ${p}`), ...s.unsupported, ...s.enforcement, ...s.unmanaged]) console.log(`  ${line}`);
        if (!users) console.log("  users: not managed here (set NEXUS_MONGO_APP_PASSWORD and NEXUS_MONGO_ANALYTICS_PASSWORD)");
      }
      return 0;
    }
    if (command === "plan") {
      const plan = await r.plan();
      if (o.json) console.log(JSON.stringify(planJson(plan, settings), null, 2));
      else printPlan(plan, settings);
      return 0;
    }
    const { plan, result } = await r.apply();
    if (o.json) console.log(JSON.stringify({ ...planJson(plan, settings), result }, null, 2));
    else {
      console.log(`${plan.database} on ${plan.server}: ${result.applied.length ? "applied" : "nothing to do"}`);
      for (const line of result.applied) console.log(`  done: ${line}`);
      for (const line of [...result.skipped, ...result.notKept, ...enforcementLines(plan), ...plan.unmanaged, ...plan.notes]) console.log(`  ${line}`);
    }
    return 0;
  } catch (err) {
    if (err instanceof DeclarationError || err instanceof MongoApplyError) console.error(`nexus-db mongo: ${err.message}`);
    else console.error(`nexus-db mongo: ${(err as Error).message}`);
    return 1;
  } finally {
    await client.close();
  }
}

type PlanSettings = { allowMissingFeatures: readonly MongoFeature[]; allowUnenforcedRules: readonly string[]; protected: boolean };

function printPlan(plan: Plan, settings: PlanSettings): void {
  console.log(`${plan.database} on ${plan.server}: ${plan.actions.length ? `${plan.actions.length} actions` : "nothing to do"}`);
  for (const line of planLines(plan)) console.log(`  ${line}`);
  const blocking = blockingUnsupported(plan, { allowMissingFeatures: settings.allowMissingFeatures, protected: settings.protected });
  const unenforced = blockingUnenforced(plan, settings);
  if (blocking.length > 0 || unenforced.length > 0 || plan.conflicts.length > 0) {
    console.log(
      `apply would refuse: ${blocking.length} unsupported features not allowed missing, ${unenforced.length} unenforced rules not allowed (protected stack), ${plan.conflicts.length} conflicts`,
    );
  }
}

function planJson(plan: Plan, settings: PlanSettings) {
  return {
    database: plan.database,
    server: plan.server,
    actions: plan.actions,
    unsupported: plan.unsupported.map((u) => u.text),
    blocking: [...blockingUnsupported(plan, { allowMissingFeatures: settings.allowMissingFeatures, protected: settings.protected }), ...blockingUnenforced(plan, settings)],
    enforcement: plan.enforcement,
    unenforced: plan.unenforced,
    conflicts: plan.conflicts,
    unmanaged: plan.unmanaged,
    notes: plan.notes,
    managed: plan.managed,
  };
}
