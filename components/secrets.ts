// Passwords of the stack: from config when the stack supplies them (`pulumi config set --secret`),
// otherwise generated with @pulumi/random. Always secrets. The spec's `password` defaults and
// short passwords are refused outside dev, before anything is registered.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { NAMESPACE, type SecretKey } from "../config/schema";

/** Passwords the spec's examples use; never acceptable outside a dev stack. */
export const WEAK_PASSWORDS = new Set(["password", "postgres", "admin", "changeme", "nexus", "secret", "123456"]);
export const MIN_PASSWORD_LENGTH = 16;

/** The plain value of a secret config key, or undefined (read without the SDK's plain-text warning). */
export function secretConfigValue(key: SecretKey): string | undefined {
  return pulumi.runtime.getConfig(`${NAMESPACE}:${key}`);
}

/** Problems with a supplied password, by config path; empty when it is acceptable. */
export function passwordProblems(key: SecretKey, value: string | undefined, environment: string): string[] {
  if (value === undefined) return [];
  const path = `${NAMESPACE}:${key}`;
  if (environment === "dev") return value.length === 0 ? [`${path}: empty password`] : [];
  const problems: string[] = [];
  if (WEAK_PASSWORDS.has(value.toLowerCase())) problems.push(`${path}: a default password ("${value.slice(0, 2)}…") is refused outside dev`);
  else if (value.length < MIN_PASSWORD_LENGTH) problems.push(`${path}: at least ${MIN_PASSWORD_LENGTH} characters outside dev (got ${value.length})`);
  return problems;
}

export interface PasswordSourceArgs {
  environment: string;
  /** Generate absent passwords with @pulumi/random. When false, an absent one is a config error. */
  generate: boolean;
  parent: pulumi.Resource;
}

/**
 * A secret password: the config key's value when set, else a RandomPassword named `${name}`.
 * `special` is off by default: the passwords go into URLs and config files unescaped.
 */
export function stackPassword(name: string, key: SecretKey, args: PasswordSourceArgs): pulumi.Output<string> {
  const supplied = secretConfigValue(key);
  if (supplied !== undefined) return pulumi.secret(supplied);
  if (!args.generate) {
    throw new Error(`${NAMESPACE}:${key} is required on this stack (set it with \`pulumi config set --secret ${key} …\`)`);
  }
  const pw = new random.RandomPassword(name, { length: 32, special: false, minLower: 2, minUpper: 2, minNumeric: 2 }, { parent: args.parent });
  return pw.result;
}
