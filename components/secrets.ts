// Passwords of the stack: from config when the stack supplies them (`pulumi config set --secret`),
// otherwise generated with @pulumi/random. Always secrets. The spec's `password` defaults and
// short passwords are refused outside dev, before anything is registered.
import * as pulumi from "@pulumi/pulumi";
import { sdk } from "./sdk";
import type { SecretKey } from "../config/names";
import { secretConfigValue } from "../config/read";

// The password rules live with the config (config/rules.ts): the policy pack applies the same ones.
export { MIN_PASSWORD_LENGTH, WEAK_PASSWORDS, passwordProblems } from "../config/rules";
export { secretConfigValue };

export interface PasswordSourceArgs {
  parent: pulumi.Resource;
}

/**
 * A secret password: the config key's value when set, else a RandomPassword named `${name}`.
 * `special` is off by default: the passwords go into URLs and config files unescaped.
 */
export function stackPassword(name: string, key: SecretKey, args: PasswordSourceArgs): pulumi.Output<string> {
  const supplied = secretConfigValue(key);
  if (supplied !== undefined) return pulumi.secret(supplied);
  const pw = new sdk.random.RandomPassword(name, { length: 32, special: false, minLower: 2, minUpper: 2, minNumeric: 2 }, { parent: args.parent });
  return pw.result;
}

/**
 * The backend's JWT signing secret: the secret `jwtSecret` when the stack sets it, else 64
 * characters generated with @pulumi/random. `nexus-db:jwtSecretVersion` is its keeper: bumping it
 * makes a new secret on the next `up` (tokens signed with the old one stop verifying).
 */
export function jwtSigningSecret(name: string, version: number, parent: pulumi.Resource): pulumi.Output<string> {
  const supplied = secretConfigValue("jwtSecret");
  if (supplied !== undefined) return pulumi.secret(supplied);
  const secret = new sdk.random.RandomPassword(name, { length: 64, special: false, minLower: 4, minUpper: 4, minNumeric: 4, keepers: { version: String(version) } }, { parent });
  return secret.result;
}
