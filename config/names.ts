// The config's namespace and its secret keys: what every other config module (and the policy pack)
// names without needing the schema.

export const NAMESPACE = "nexus-db";

/** What the secret keys are, for the config reference. */
export const SECRET_KEYS_DESCRIPTION =
  "Secret config keys (set with `pulumi config set --secret`). All optional: absent passwords are generated; `backupKey` (the key of `nexus-db backup --stack` archives) is never generated.";

/** Secret config keys (set with `pulumi config set --secret`). All optional: absent passwords are generated; `backupKey` is never generated. */
export const SECRET_KEYS = [
  "postgresAdminPassword",
  "postgresOwnerPassword",
  "postgresAppPassword",
  "postgresReadonlyPassword",
  "mongoAdminPassword",
  "mongoAppPassword",
  "mongoAnalyticsPassword",
  "redisAdminPassword",
  "redisAppPassword",
  "redisReadonlyPassword",
  "redisWarmupPassword",
  "tlsCaKeyPem",
  "redisAuthToken",
  "jwtSecret",
  "backupKey",
] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];
