// Protected stacks refuse the documented dev passphrase and an empty one: the rule itself, the
// guard script that `npm run up/preview` run before the stack exists, and the program's own check
// (readStackConfig under the mock runtime) before any resource is registered.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { StackConfigError } from "../../config/schema";
import { DEV_PASSPHRASE, checkStackSecrets, isProtectedStack, readStackFileFacts, usesPassphrase } from "../../config/secrets-provider";
import { installMocks } from "../helpers/mocks";

const ROOT = path.join(__dirname, "..", "..");
const mocks = installMocks({ stack: "prod" });
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), "nexus-guard-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const OWN = "a-passphrase-of-its-own-7f3k";
const fileBackend = (d: string) => ({ PULUMI_BACKEND_URL: `file://${d}` });

describe("the rule", () => {
  it("protected: by the stack file's flag, else its environment, else (no file) the stack's name", () => {
    expect(isProtectedStack("prod", readStackFileFacts(ROOT, "prod"))).toBe(true);
    expect(isProtectedStack("staging", readStackFileFacts(ROOT, "staging"))).toBe(true);
    expect(isProtectedStack("dev", readStackFileFacts(ROOT, "dev"))).toBe(false);
    expect(isProtectedStack("local", readStackFileFacts(ROOT, "local"))).toBe(false);
    expect(isProtectedStack("prod-eu", { exists: false, encryptionSalt: false })).toBe(true);
    expect(isProtectedStack("prod", { exists: true, protected: false, environment: "prod", encryptionSalt: false })).toBe(false);
    expect(isProtectedStack("qa", { exists: true, environment: "staging", encryptionSalt: false })).toBe(true);
  });

  it("passphrase provider: named, salted, or the default of a self-managed backend; a KMS provider is not", () => {
    expect(usesPassphrase({ exists: true, secretsProvider: "awskms://alias/x", encryptionSalt: false }, "file:///s")).toBe(false);
    expect(usesPassphrase({ exists: true, secretsProvider: "passphrase", encryptionSalt: false }, "https://api.pulumi.com")).toBe(true);
    expect(usesPassphrase({ exists: true, encryptionSalt: true }, undefined)).toBe(true);
    expect(usesPassphrase({ exists: false, encryptionSalt: false }, "s3://bucket")).toBe(true);
    expect(usesPassphrase({ exists: false, encryptionSalt: false }, "https://api.pulumi.com")).toBe(false);
  });

  it("refuses the dev passphrase, an empty one and an unset one on protected stacks only, with both fixes in the message", () => {
    const d = tmp();
    const dev = checkStackSecrets(ROOT, "prod", { ...fileBackend(d), PULUMI_CONFIG_PASSPHRASE: DEV_PASSPHRASE });
    expect(dev).toMatch(/^stack "prod" is protected, and its secrets would be encrypted with the documented dev passphrase/);
    expect(dev).toContain("Nothing was created");
    expect(dev).toContain("export PULUMI_CONFIG_PASSPHRASE");
    expect(dev).toContain('pulumi stack change-secrets-provider "awskms://alias/nexus-db?region=<region>" --stack prod');
    expect(checkStackSecrets(ROOT, "staging", { ...fileBackend(d), PULUMI_CONFIG_PASSPHRASE: "" })).toMatch(/with an empty passphrase/);
    expect(checkStackSecrets(ROOT, "staging", { ...fileBackend(d) })).toMatch(/with an empty passphrase/);
    expect(checkStackSecrets(ROOT, "prod", { ...fileBackend(d), PULUMI_CONFIG_PASSPHRASE: OWN })).toBeUndefined();
    expect(checkStackSecrets(ROOT, "dev", { ...fileBackend(d), PULUMI_CONFIG_PASSPHRASE: DEV_PASSPHRASE })).toBeUndefined();
    const pf = path.join(d, "passphrase");
    writeFileSync(pf, `${DEV_PASSPHRASE}\n`);
    expect(checkStackSecrets(ROOT, "prod", { ...fileBackend(d), PULUMI_CONFIG_PASSPHRASE_FILE: pf })).toMatch(/dev passphrase/);
    // A stack moved to KMS: its file names the provider; the passphrase no longer matters.
    writeFileSync(path.join(d, "Pulumi.prod.yaml"), 'secretsprovider: awskms://alias/nexus-db?region=us-east-1\nencryptedkey: AQIC\nconfig:\n  nexus-db:environment: prod\n');
    expect(checkStackSecrets(d, "prod", { ...fileBackend(d), PULUMI_CONFIG_PASSPHRASE: DEV_PASSPHRASE })).toBeUndefined();
  });
});

describe("scripts/stack-guard.ts (run by npm run up/preview before the stack is selected or created)", () => {
  const guard = (stack: string, env: Record<string, string>) =>
    spawnSync(process.execPath, ["--require", require.resolve("tsx/cjs"), path.join(ROOT, "scripts/stack-guard.ts"), stack], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", ...env },
      timeout: 60_000,
    });

  it("exits 1 with the fix for prod with the dev passphrase; 0 with a passphrase of its own, and for dev", () => {
    const d = tmp();
    const refused = guard("prod", { ...fileBackend(d), PULUMI_CONFIG_PASSPHRASE: DEV_PASSPHRASE });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^\[stack\] stack "prod" is protected/);
    expect(refused.stderr).toContain("pulumi stack change-secrets-provider");
    expect(guard("staging", { ...fileBackend(d), PULUMI_CONFIG_PASSPHRASE: OWN }).status).toBe(0);
    expect(guard("dev", { ...fileBackend(d), PULUMI_CONFIG_PASSPHRASE: DEV_PASSPHRASE }).status).toBe(0);
    expect(readdirSync(d)).toEqual([]);
  });

  it("`npm run up -- prod` with the dev passphrase stops before the stack exists: the backend stays empty", () => {
    const d = tmp();
    const r = spawnSync("bash", [path.join(ROOT, "scripts/up.sh"), "prod"], {
      encoding: "utf8",
      env: { ...process.env, ...fileBackend(d), PULUMI_CONFIG_PASSPHRASE: DEV_PASSPHRASE },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 600_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^\[stack\] stack "prod" is protected, and its secrets would be encrypted with the documented dev passphrase/m);
    expect(readdirSync(d)).toEqual([]);
  }, 600_000);
});

describe("the program's own check", () => {
  it("a protected config that is otherwise valid fails with the passphrase problem before any resource", async () => {
    const { readStackConfig } = await import("../../config/read");
    const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
    const d = tmp();
    writeFileSync(path.join(d, "Pulumi.prod.yaml"), "encryptionsalt: v1:abc\nconfig: {}\n");
    pulumi.runtime.setAllConfig(
      {
        "nexus-db:environment": "prod",
        "nexus-db:postgres": JSON.stringify({ external: { host: "db.internal", sslMode: "verify-full" } }),
        "nexus-db:redis": JSON.stringify({ external: { host: "redis.internal", tls: true } }),
      },
      [],
    );
    let err: unknown;
    try {
      readStackConfig({ projectDir: d, env: { PULUMI_CONFIG_PASSPHRASE: DEV_PASSPHRASE } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StackConfigError);
    const problems = (err as StackConfigError).problems;
    expect(problems.map((p) => p.path)).toEqual(["secrets provider of Pulumi.prod.yaml"]);
    expect(problems[0].message).toContain("pulumi stack change-secrets-provider");
    // With a passphrase of its own the same config is accepted.
    expect(readStackConfig({ projectDir: d, env: { PULUMI_CONFIG_PASSPHRASE: OWN } }).protected).toBe(true);
    expect(mocks.registered).toEqual([]);
  });
});
