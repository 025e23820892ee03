// The rules that the config schema, the components and the policy pack apply alike, in one place:
// what counts as a weak password, and which addresses are loopback. No Pulumi import: the policy
// pack loads this file as it is.
import { LOOPBACK_HOSTS, isLoopback } from "../engines/shared/net";
import { NAMESPACE, type SecretKey } from "./names";

export { LOOPBACK_HOSTS, isLoopback };

/** Passwords the spec's examples use; never acceptable outside a dev stack. */
export const WEAK_PASSWORDS: readonly string[] = ["password", "postgres", "admin", "changeme", "nexus", "secret", "123456"];
/** The shortest password accepted outside dev. */
export const MIN_PASSWORD_LENGTH = 16;

/** Why a password is not acceptable outside dev: "default", "short", or undefined when it is. */
export function weakPassword(value: string): "default" | "short" | undefined {
  if (WEAK_PASSWORDS.includes(value.toLowerCase())) return "default";
  if (value.length < MIN_PASSWORD_LENGTH) return "short";
  return undefined;
}

/** The spec's minimum for the backend's JWT signing secret. */
export const MIN_JWT_SECRET_LENGTH = 32;

/** Problems with a supplied password (or the JWT secret), by config path; empty when it is acceptable. */
export function passwordProblems(key: SecretKey, value: string | undefined, environment: string): string[] {
  if (value === undefined) return [];
  const path = `${NAMESPACE}:${key}`;
  if (environment === "dev") return value.length === 0 ? [`${path}: empty password`] : [];
  const weak = weakPassword(value);
  if (weak === "default") return [`${path}: a default password ("${value.slice(0, 2)}…") is refused outside dev`];
  const min = key === "jwtSecret" ? MIN_JWT_SECRET_LENGTH : MIN_PASSWORD_LENGTH;
  if (weak === "short" || value.length < min) return [`${path}: at least ${min} characters outside dev (got ${value.length})`];
  return [];
}
