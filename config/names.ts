// The config's namespace and its secret keys: what every other config module (and the policy pack)
// names without needing the schema.

export const NAMESPACE = "nexus-db";

/** The name of the program's DatabaseLayer (program.ts), the root of its resources' names. */
export const LAYER_NAME = "nexus";

/** What the secret keys are, for the config reference. */
export const SECRET_KEYS_DESCRIPTION =
  "Secret config keys (set with `pulumi config set --secret`). All optional: absent passwords are generated; `backupKey` (the key of `nexus-db backup --stack` archives; make one with `nexus-db backup-key`) is never generated.";

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

/** Where a store's server comes from. */
export const BACKENDS = ["docker", "external", "cloud"] as const;
export type Backend = (typeof BACKENDS)[number];

/** A store's backend when the stack does not name one: docker on a dev stack, else external. */
export function defaultBackend(environment: string): Backend {
  return environment === "dev" ? "docker" : "external";
}

/** The TLS mode of a stack that does not name one: none on the loopback test servers (local, ci), else generated. */
export function defaultTlsMode(environment: string): "generate" | "none" {
  return environment === "local" || environment === "ci" ? "none" : "generate";
}

/** The raw config's reader (`get` of a full key; object values are JSON), as the engine hands it to the program. */
export type RawConfig = (key: string) => string | undefined;

/** What a field of an object value that does not parse reads as. */
const UNPARSABLE = Symbol("unparsable");

/** The field `field` of the object value of `nexus-db:<key>` in the raw config (undefined when absent). */
function rawField(get: RawConfig, key: string, field: string): unknown {
  try {
    return (JSON.parse(get(`${NAMESPACE}:${key}`) ?? "{}") as Record<string, unknown>)[field];
  } catch {
    return UNPARSABLE;
  }
}

/** The stack's environment in the raw config. */
function rawEnvironment(get: RawConfig): string {
  return get(`${NAMESPACE}:environment`) ?? "dev";
}

/**
 * Whether the stack makes certificates with @pulumi/tls (`tls.mode` generate or provided), from the
 * raw stack config as usesDockerBackend reads it. An unparsable value answers false.
 */
export function usesTlsCertificates(get: RawConfig): boolean {
  const mode = rawField(get, "tls", "mode");
  return mode !== UNPARSABLE && (mode ?? defaultTlsMode(rawEnvironment(get))) !== "none";
}

/**
 * The secret keys the program generates with @pulumi/random whenever the config does not set them,
 * whatever the backends (components/database-layer.ts); others are generated only on some backends.
 */
export const ALWAYS_GENERATED_KEYS: readonly SecretKey[] = SECRET_KEYS.filter(
  // Generated on some backends only (the admin passwords), or never (the CA key, the auth token, the backup key).
  (k) => !["postgresAdminPassword", "mongoAdminPassword", "tlsCaKeyPem", "redisAuthToken", "backupKey"].includes(k),
);

/**
 * Whether the stack surely generates a secret with @pulumi/random (one of ALWAYS_GENERATED_KEYS is
 * not set), from the raw stack config. A stack that sets them all may still generate a backend's
 * own (an admin password): it only misses the head start; a stack that generates none must not get
 * the random provider at all (it would be a new resource in its state).
 */
export function generatesSecrets(get: RawConfig): boolean {
  return ALWAYS_GENERATED_KEYS.some((k) => get(`${NAMESPACE}:${k}`) === undefined);
}

/**
 * Whether a store of the stack runs on the docker backend, from the raw stack config (`get` of a
 * full key; object values are JSON), before and without the typed config: for the program's head
 * start. An unparsable value answers false (the typed config reports it, with its path).
 */
export function usesDockerBackend(get: RawConfig): boolean {
  const environment = rawEnvironment(get);
  return ["postgres", "mongo", "redis"].some((store) => {
    const backend = rawField(get, store, "backend");
    return backend !== UNPARSABLE && (backend ?? defaultBackend(environment)) === "docker";
  });
}
