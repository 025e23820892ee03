// Pulumi.staging.yaml with the real CLI and the policy pack: the committed staging config (external
// servers, TLS, protected) previews cleanly on a stack the pack protects, with a passphrase of its
// own; the same stack with the documented dev passphrase is refused by the program before any
// resource, with the fix in the message. The tls and random plugins cannot be built here: they
// run as echo plugins (support.ts), so the engine still registers their real resources.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { SECRET_KEYS } from "../../config/names";
import { NAMESPACE } from "../../config/schema";
import { DEV_PASSPHRASE } from "../../config/secrets-provider";
import { uniqueSuffix } from "../helpers/env";
import { stackFileValues } from "../helpers/stack-files";
import { previewWithPolicies, programStack, projectCopy, projectEnv, removeStack, ROOT, setConfig } from "./support";

const TIMEOUT = 600_000;
/**
 * The secrets Pulumi.staging.yaml's comment says to set: every password key (servers that exist take
 * supplied passwords) but the PostgreSQL admin's, which staging's admin user does not need.
 */
const STAGING_SECRETS = SECRET_KEYS.filter((k) => k.endsWith("Password") && k !== "postgresAdminPassword");

function stagingConfig(): { plain: Record<string, unknown>; secrets: Record<string, string> } {
  const plain: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(stackFileValues("staging", ROOT))) plain[`${NAMESPACE}:${k}`] = v;
  const secrets = Object.fromEntries(STAGING_SECRETS.map((k) => [`${NAMESPACE}:${k}`, randomBytes(18).toString("base64url")]));
  return { plain, secrets };
}

async function previewStaging(passphrase: string): Promise<{ ok: boolean; output: string }> {
  // The real tls and random plugins (scripts/build-plugins.sh).
  const env = { ...projectEnv(), PULUMI_CONFIG_PASSPHRASE: passphrase };
  const dir = projectCopy("policy-staging");
  const cfg = stagingConfig();
  let stack;
  try {
    stack = await programStack(`staging-policy-${uniqueSuffix()}`, dir, env);
    await setConfig(stack, cfg.plain, cfg.secrets);
    const out = await previewWithPolicies(stack, { diff: true });
    for (const v of Object.values(cfg.secrets)) expect(out.output, "a supplied password in the preview's output").not.toContain(v);
    return out;
  } finally {
    await removeStack(stack, dir);
  }
}

describe("the staging stack file", () => {
  it("is protected, external and TLS everywhere — and says which secrets it needs", () => {
    const text = readFileSync(path.join(ROOT, "Pulumi.staging.yaml"), "utf8");
    for (const k of STAGING_SECRETS) expect(text).toContain(k);
    expect(text).not.toMatch(/secure:/);
  });

  it("previews with the policy pack on a protected stack, with a passphrase of its own: no violation", async () => {
    const out = await previewStaging(randomBytes(24).toString("hex"));
    expect(out.ok, out.output).toBe(true);
    // The pack ran (listed as run; with no violation nothing else of it is printed).
    expect(out.output).toMatch(/Policy Packs run:\s+Name\s+Version\s+nexus-db\|/);
    expect(out.output).not.toContain("[mandatory]");
    // What a staging preview plans: migrations, the reconciler (server not reachable from here), the JWT secret.
    expect(out.output).toContain("nexus-postgres-schema");
    expect(out.output).toMatch(/server not reachable at preview/);
    expect(out.output).toContain("nexus-jwt-secret");
  }, TIMEOUT);

  it("with the documented dev passphrase: refused by the program before any resource, the fix in the message", async () => {
    const out = await previewStaging(DEV_PASSPHRASE);
    expect(out.ok).toBe(false);
    expect(out.output).toMatch(/secrets provider of Pulumi\.staging-policy-\w+\.yaml: stack "staging-policy-\w+" is protected, and its secrets would be encrypted with the documented dev passphrase/);
    expect(out.output).toContain("pulumi stack change-secrets-provider");
    expect(out.output).not.toContain("nexus-postgres-schema");
  }, TIMEOUT);
});
