// The stack's MongoDB settings (the `mongo` part of the stack config) that the reconciler itself
// understands. Settings of the declarations (the platform's TTL periods) are added by
// config/mongo-settings.ts, which spreads `mongoSettingsShape` into the stack's schema. Passwords
// and the URL are secrets, not settings.
import { z } from "zod";

/** Features a MongoDB-compatible server may lack (FerretDB, DocumentDB, Cosmos DB). */
export const MONGO_FEATURES = [
  "validators",
  "collMod",
  "ttlIndexes",
  "partialIndexes",
  "textIndexes",
  "sparseIndexes",
  "users",
] as const;
export type MongoFeature = (typeof MONGO_FEATURES)[number];

export const mongoTlsSchema = z.object({
  enabled: z.boolean().default(false).meta({ description: "Connect with TLS. Default false (a `tls=true` in the URL also turns it on)." }),
  caFile: z.string().min(1).optional().meta({ description: "PEM file of the CA that signed the server certificate. Default: the system's CAs." }),
  certificateKeyFile: z.string().min(1).optional().meta({ description: "PEM file holding the client certificate and its key, for servers that require one. Default: none." }),
  allowInvalidHostnames: z.boolean().default(false).meta({ description: "Accept a server certificate whose name does not match the host (test servers only). Default false." }),
});

export const mongoUserSchema = (defaultName: string) =>
  z.object({
    name: z.string().min(1).default(defaultName).meta({ description: "User name, created in the platform database." }),
  });

export const mongoUsersSchema = z.object({
  manage: z.boolean().default(true).meta({ description: "Create and update the users below (their passwords are secrets of the stack). Default true." }),
  app: mongoUserSchema("nexus_app").prefault({}).meta({ description: "The application's user, readWrite on the platform database. Default name \"nexus_app\"." }),
  analytics: mongoUserSchema("nexus_analytics").prefault({}).meta({ description: "The analytics user, read on the platform database. Default name \"nexus_analytics\"." }),
});

/** The reconciler's settings, as a shape that a declarations' schema spreads into its own. */
export const mongoSettingsShape = {
  database: z.string().min(1).regex(/^[^/\\. "$*<>:|?]+$/, "not a valid MongoDB database name").default("nexus_security").meta({ description: "Database holding the platform's collections and users. Default \"nexus_security\"." }),
  allowMissingFeatures: z.array(z.enum(MONGO_FEATURES)).default([]).meta({ description: "Declared features the server may lack; apply then skips them and says so instead of failing. Default [] (every declared feature is required). Not allowed in a protected stack." }),
  dropCollectionsOnDelete: z.boolean().default(false).meta({ description: "Drop a collection the reconciler created once it is no longer declared, data and all. Default false (it is kept and reported). Dev stacks only; refused in a protected stack." }),
  allowUnenforcedRules: z.array(z.string().min(1)).default([]).meta({ description: "Declared validator rules and user roles the server cannot enforce, allowed by name (the plan names each, e.g. \"consensus_results.vote_distribution.additionalProperties\" or \"users.nexus_analytics.roles\"); apply refuses any other. Allowed in a protected stack too: it is a decision about one rule, not about a missing feature. Default []." }),
  protected: z.boolean().default(false).meta({ description: "A protected stack (staging, production): nothing may be missing, nothing is dropped. Default false." }),
  tls: mongoTlsSchema.prefault({}).meta({ description: "TLS to the server. Default: off." }),
  users: mongoUsersSchema.prefault({}).meta({ description: "Users the reconciler keeps (SCRAM-SHA-256). Default: both, with default names." }),
};

type BaseSettings = z.output<z.ZodObject<typeof mongoSettingsShape>>;

/** The checks across settings (protected stacks, user names, TLS); use with `.superRefine`. */
export function refineMongoSettings(s: BaseSettings, ctx: z.RefinementCtx): void {
  if (s.protected && s.allowMissingFeatures.length > 0) {
    ctx.addIssue({
      code: "custom",
      path: ["allowMissingFeatures"],
      message: `a protected stack must have every feature; remove ${s.allowMissingFeatures.join(", ")} or point it at a full MongoDB`,
    });
  }
  if (s.protected && s.dropCollectionsOnDelete) {
    ctx.addIssue({
      code: "custom",
      path: ["dropCollectionsOnDelete"],
      message: "a protected stack never drops collections; set it to false",
    });
  }
  if (s.users.app.name === s.users.analytics.name) {
    ctx.addIssue({ code: "custom", path: ["users", "analytics", "name"], message: "the analytics user needs a name of its own" });
  }
  if (s.tls.certificateKeyFile && !s.tls.enabled) {
    ctx.addIssue({ code: "custom", path: ["tls", "enabled"], message: "a client certificate is set but TLS is off" });
  }
}

/** The reconciler's settings alone (no declarations' settings). */
export const mongoSettingsSchema = z.object(mongoSettingsShape).superRefine(refineMongoSettings);

export type MongoSettings = z.output<typeof mongoSettingsSchema>;
export type MongoSettingsInput = z.input<typeof mongoSettingsSchema>;

/** Parses settings with `schema` (default: the reconciler's own), listing every problem by its path (e.g. `mongo.ttl.engineStatsSeconds`). */
export function parseMongoSettings<S extends z.ZodType = typeof mongoSettingsSchema>(input: unknown, pathPrefix = "mongo", schema?: S): z.output<S> {
  const r = (schema ?? mongoSettingsSchema).safeParse(input ?? {});
  if (r.success) return r.data as z.output<S>;
  const lines = r.error.issues.map((i) => `  ${[pathPrefix, ...i.path.map(String)].join(".")}: ${i.message}`);
  throw new Error(`invalid MongoDB settings:\n${lines.join("\n")}`);
}
