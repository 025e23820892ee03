// The docker provider's head start (components/docker-prestart.ts) decides from the raw stack
// config whether a store runs on docker; the typed config decides what is deployed. They agree on
// every committed stack and on the defaults.
import { describe, expect, it } from "vitest";
import { NAMESPACE, usesDockerBackend } from "../../config/names";
import { parseStackConfig } from "../../config/schema";
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

describe("usesDockerBackend (the docker provider's head start)", () => {
  it.each(["dev", "local", "staging", "prod"])("agrees with the typed config on Pulumi.%s.yaml", (stack) => {
    const values = stackFileValues(stack);
    expect(usesDockerBackend(raw(values))).toBe(typedUsesDocker(values, stack));
  });

  it("agrees on the defaults and on one store moved to docker", () => {
    const cases: [Record<string, unknown>, boolean][] = [
      [{ environment: "dev" }, true],
      [{ environment: "ci" }, false],
      [{ environment: "dev", postgres: { backend: "external" }, mongo: { backend: "external" }, redis: { backend: "external" } }, false],
      [{ environment: "ci", redis: { backend: "docker" } }, true],
    ];
    for (const [values, docker] of cases) {
      expect(usesDockerBackend(raw(values)), JSON.stringify(values)).toBe(docker);
      expect(typedUsesDocker(values, "t"), JSON.stringify(values)).toBe(docker);
    }
  });

  it("an unparsable store value starts nothing (the typed config reports it)", () => {
    expect(usesDockerBackend((k) => (k === `${NAMESPACE}:environment` ? "ci" : k === `${NAMESPACE}:redis` ? "{not json" : undefined))).toBe(false);
  });
});
