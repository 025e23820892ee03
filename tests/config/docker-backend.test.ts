// The provider plugins' head start (components/plugin-prestart.ts) decides from the raw stack
// config whether a store runs on docker and whether the stack makes certificates; the typed config
// decides what is deployed. They agree on every committed stack and on the defaults. On a docker
// stack the docker plugin goes first, alone: the network is registered before the other plugins.
import { describe, expect, it } from "vitest";
import { ALWAYS_GENERATED_KEYS, NAMESPACE, generatesSecrets, usesDockerBackend, usesTlsCertificates, type RawConfig } from "../../config/names";
import { parseStackConfig } from "../../config/schema";
import { PLUGIN_HEAD_STARTS, pluginsToStart } from "../../components/plugin-prestart";
import { stackFileValues } from "../helpers/stack-files";

/** The raw config as the engine hands it to the program: full keys, objects as JSON. */
function raw(values: Record<string, unknown>): (key: string) => string | undefined {
  return (key) => {
    const v = values[key.slice(NAMESPACE.length + 1)];
    return v === undefined ? undefined : typeof v === "string" ? v : JSON.stringify(v);
  };
}

function typedUsesDocker(values: Record<string, unknown>, stack: string): boolean {
  const c = parseStackConfig(values, stack);
  return [c.postgres.backend, c.mongo.backend, c.redis.backend].includes("docker");
}

/**
 * The raw check agrees with the typed config on every committed stack, and both give the expected
 * answer on each case (raw config values → answer).
 */
function agreesWithTypedConfig(check: (get: RawConfig) => boolean, typed: (values: Record<string, unknown>, stack: string) => boolean, casesTitle: string, cases: [Record<string, unknown>, boolean][]): void {
  it.each(["dev", "local", "staging", "prod"])("agrees with the typed config on Pulumi.%s.yaml", (stack) => {
    const values = stackFileValues(stack);
    expect(check(raw(values))).toBe(typed(values, stack));
  });

  it(casesTitle, () => {
    for (const [values, expected] of cases) {
      expect(check(raw(values)), JSON.stringify(values)).toBe(expected);
      expect(typed(values, "t"), JSON.stringify(values)).toBe(expected);
    }
  });
}

describe("usesDockerBackend (the docker provider's head start)", () => {
  agreesWithTypedConfig(usesDockerBackend, typedUsesDocker, "agrees on the defaults and on one store moved to docker", [
    [{ environment: "dev" }, true],
    [{ environment: "ci" }, false],
    [{ environment: "dev", postgres: { backend: "external" }, mongo: { backend: "external" }, redis: { backend: "external" } }, false],
    [{ environment: "ci", redis: { backend: "docker" } }, true],
  ]);

  it("an unparsable store value starts nothing (the typed config reports it)", () => {
    expect(usesDockerBackend((k) => (k === `${NAMESPACE}:environment` ? "ci" : k === `${NAMESPACE}:redis` ? "{not json" : undefined))).toBe(false);
  });
});

describe("usesTlsCertificates (the tls plugin's head start)", () => {
  const typedUsesTls = (values: Record<string, unknown>, stack: string) => parseStackConfig(values, stack).tls.mode !== "none";
  agreesWithTypedConfig(usesTlsCertificates, typedUsesTls, "agrees on the defaults and on a mode set", [
    [{ environment: "dev" }, true],
    [{ environment: "local" }, false],
    [{ environment: "ci" }, false],
    [{ environment: "ci", tls: { mode: "generate" } }, true],
    [{ environment: "dev", tls: { mode: "none" } }, false],
  ]);

  it("an unparsable tls value starts nothing (the typed config reports it)", () => {
    expect(usesTlsCertificates((k) => (k === `${NAMESPACE}:tls` ? "{not json" : undefined))).toBe(false);
  });
});

describe("generatesSecrets (the random plugin's head start)", () => {
  it("asks for the random plugin while one always-generated secret is unset, never when the config sets them all", () => {
    const all = Object.fromEntries(ALWAYS_GENERATED_KEYS.map((k) => [k, "set-in-config-1234567890"]));
    expect(generatesSecrets(raw(all))).toBe(false);
    for (const k of ALWAYS_GENERATED_KEYS) {
      const { [k]: _unset, ...rest } = all;
      expect(generatesSecrets(raw(rest)), k).toBe(true);
    }
  });
});

describe("pluginsToStart (the order of the head starts)", () => {
  const names = (when: "before-network" | "after-network", values: Record<string, unknown>) => pluginsToStart(when, raw(values)).map((p) => p.pkg);

  it("on a docker stack, docker alone before its network and the others after it; elsewhere all before", () => {
    expect(names("before-network", { environment: "dev" })).toEqual(["docker"]);
    expect(names("after-network", { environment: "dev" })).toEqual(["random", "tls"]);
    expect(names("before-network", { environment: "ci", tls: { mode: "generate" } })).toEqual(["random", "tls"]);
    expect(names("after-network", { environment: "ci", tls: { mode: "generate" } })).toEqual([]);
  });

  it.each(["dev", "local", "staging", "prod"])("Pulumi.%s.yaml: each plugin the stack uses is asked for exactly once", (stack) => {
    const values = stackFileValues(stack);
    const used = PLUGIN_HEAD_STARTS.filter((p) => p.used(raw(values))).map((p) => p.pkg);
    expect([...names("before-network", values), ...names("after-network", values)].sort()).toEqual([...used].sort());
  });
});
