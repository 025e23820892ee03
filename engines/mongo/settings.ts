// The stack's MongoDB settings (the `mongo` part of the stack config), as one zod schema that the
// stack config schema embeds. Passwords and the connection URL are secrets and are not settings.
import { z } from "zod";
import { DEFAULT_TTL_PERIODS } from "../../mongo/collections";

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

const seconds = z.number().int().min(0).max(2_147_483_647);

export const mongoTtlSchema = z.object({
  /** How long engine_stats samples are kept, in seconds. Default 2592000 (30 days). */
  engineStatsSeconds: seconds.default(DEFAULT_TTL_PERIODS.engineStatsSeconds),
  /** How long sandbox_reports are kept, in seconds. Default 7776000 (90 days). */
  sandboxReportsSeconds: seconds.default(DEFAULT_TTL_PERIODS.sandboxReportsSeconds),
  /** How long a threat indicator is kept past its `valid_until`, in seconds. Default 0. */
  threatIndicatorsAfterValiditySeconds: seconds.default(DEFAULT_TTL_PERIODS.threatIndicatorsAfterValiditySeconds),
});

export const mongoTlsSchema = z.object({
  /** Connect with TLS. Default false (a `tls=true` in the URL also turns it on). */
  enabled: z.boolean().default(false),
  /** PEM file of the CA that signed the server certificate. Default: the system's CAs. */
  caFile: z.string().min(1).optional(),
  /** PEM file holding the client certificate and its key, for servers that require one. Default: none. */
  certificateKeyFile: z.string().min(1).optional(),
  /** Accept a server certificate whose name does not match the host (test servers only). Default false. */
  allowInvalidHostnames: z.boolean().default(false),
});

export const mongoUserSchema = (defaultName: string) =>
  z.object({
    /** User name, created in the platform database. */
    name: z.string().min(1).default(defaultName),
  });

export const mongoUsersSchema = z.object({
  /** Create and update the users below (their passwords are secrets of the stack). Default true. */
  manage: z.boolean().default(true),
  /** The application's user, readWrite on the platform database. Default name "nexus_app". */
  app: mongoUserSchema("nexus_app").prefault({}),
  /** The analytics user, read on the platform database. Default name "nexus_analytics". */
  analytics: mongoUserSchema("nexus_analytics").prefault({}),
});

export const mongoSettingsSchema = z
  .object({
    /** Database holding the platform's collections and users. Default "nexus_security". */
    database: z.string().min(1).regex(/^[^/\\. "$*<>:|?]+$/, "not a valid MongoDB database name").default("nexus_security"),
    /** Expiry periods of the TTL indexes. Defaults: see each field. */
    ttl: mongoTtlSchema.prefault({}),
    /**
     * Declared features the server may lack; apply then skips them and says so instead of failing.
     * Default [] (every declared feature is required). Not allowed in a protected stack.
     */
    allowMissingFeatures: z.array(z.enum(MONGO_FEATURES)).default([]),
    /**
     * Drop a collection the reconciler created once it is no longer declared, data and all.
     * Default false (it is kept and reported). Dev stacks only; refused in a protected stack.
     */
    dropCollectionsOnDelete: z.boolean().default(false),
    /** A protected stack (staging, production): nothing may be missing, nothing is dropped. Default false. */
    protected: z.boolean().default(false),
    /** TLS to the server. Default: off. */
    tls: mongoTlsSchema.prefault({}),
    /** Users the reconciler keeps (SCRAM-SHA-256). Default: both, with default names. */
    users: mongoUsersSchema.prefault({}),
  })
  .superRefine((s, ctx) => {
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
  });

export type MongoSettings = z.output<typeof mongoSettingsSchema>;
export type MongoSettingsInput = z.input<typeof mongoSettingsSchema>;

/** Parses settings, failing with every problem listed by its path (e.g. `mongo.ttl.engineStatsSeconds`). */
export function parseMongoSettings(input: unknown, pathPrefix = "mongo"): MongoSettings {
  const r = mongoSettingsSchema.safeParse(input ?? {});
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${[pathPrefix, ...i.path.map(String)].join(".")}: ${i.message}`);
  throw new Error(`invalid MongoDB settings:\n${lines.join("\n")}`);
}
