// A docker stack deployed when its network was a child of the layer, previewed and updated by this
// program, which registers the network top-level before the layer exists (components/docker-network.ts):
// the alias carries the network over — no create, delete or replace of anything — and the
// containers keep their network.
//
// The earlier program is the commit below, read from this clone's git history (`git archive`): a
// shallow clone lacks it and this test says so.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import { LocalWorkspace, PulumiCommand, type ConfigMap, type EngineEvent, type Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniqueSuffix } from "../helpers/env";
import { PROJECT_ROOT, createStack, projectCopy, pulumiRoot, stackEnv, type ProjectCopy } from "../helpers/stack";
import { docker, dockerStackConfig, dockerUnavailable, freePorts, imageRefs, mongoUsers, removeTestStack, startBridgeFerret, type BridgeFerret } from "./support";

/** The last landed commit whose docker network was the layer's child. */
const OLD_COMMIT = "89c1aae";
const OLD_TREE = ["Pulumi.yaml", "package.json", "tsconfig.json", "boot.cjs", "index.ts", "program.ts", "config", "components", "providers", "engines", "sql", "mongo", "redis"];

const skip = dockerUnavailable();
const suffix = uniqueSuffix();
const stackName = `dku${suffix}`;
const database = `nexus_${suffix}`;
const STEP = 900_000;

let oldCopy: ProjectCopy;
let newCopy: ProjectCopy;
let ferret: BridgeFerret;
let config: ConfigMap;
let oldStack: Stack;
let stack: Stack;

/** OLD_COMMIT's program in place of a project copy's own files (the copy's node_modules link stays). */
function checkOutOld(copy: ProjectCopy): void {
  try {
    execFileSync("git", ["-C", PROJECT_ROOT, "cat-file", "-e", `${OLD_COMMIT}^{commit}`], { stdio: "ignore" });
  } catch {
    throw new Error(`commit ${OLD_COMMIT} is not in this clone's history (a shallow clone?): run \`git fetch --unshallow\` and try again`);
  }
  for (const entry of OLD_TREE) execFileSync("rm", ["-rf", path.join(copy.dir, entry)]);
  mkdirSync(copy.dir, { recursive: true });
  const tar = execFileSync("git", ["-C", PROJECT_ROOT, "archive", "--format=tar", OLD_COMMIT, ...OLD_TREE], { maxBuffer: 256 * 1024 * 1024 });
  execFileSync("tar", ["-x", "-C", copy.dir], { input: tar });
}

/** The steps of an operation that are not `same`: `create nexus-network`. */
function changedSteps(events: EngineEvent[]): string[] {
  return events
    .map((e) => e.resourcePreEvent?.metadata)
    .filter((m): m is NonNullable<typeof m> => m !== undefined && m.op !== "same")
    .map((m) => `${m.op} ${m.urn.split("::").pop()}`);
}

const networkUrns = async (s: Stack) =>
  (((await s.exportStack()).deployment.resources ?? []) as { urn: string; type: string }[]).filter((r) => r.type === "docker:index/network:Network").map((r) => r.urn);

describe.skipIf(skip !== undefined)(`a docker stack's network moved to the top level${skip ? ` (skipped: ${skip})` : ""}`, () => {
  beforeAll(async () => {
    ferret = await startBridgeFerret();
    oldCopy = projectCopy("nexus-docker-upgrade-");
    checkOutOld(oldCopy);
    config = dockerStackConfig({ refs: imageRefs(), ports: await freePorts(), ferret, database, ephemeral: true, devTools: false });
    oldStack = await createStack(oldCopy, stackName, config);
    const r = await oldStack.up({ color: "never" });
    expect(r.summary.result).toBe("succeeded");
    // The new program on the same backend (the stack's state is there; its config file is per project directory).
    newCopy = projectCopy("nexus-docker-upgrade-new-");
    const pulumiCommand = await PulumiCommand.get({ root: pulumiRoot() });
    stack = await LocalWorkspace.selectStack({ stackName, workDir: newCopy.dir }, { pulumiCommand, envVars: stackEnv(oldCopy.backend) });
    await stack.setAllConfig(config);
  }, STEP);

  afterAll(async () => {
    try {
      await removeTestStack(stack ?? oldStack, stackName);
    } finally {
      await ferret?.dropDatabase(database, Object.values(mongoUsers(database))).catch(() => undefined);
      await ferret?.stop();
      oldCopy?.remove();
      newCopy?.remove();
    }
  }, STEP);

  it("the earlier program put the network under the layer", async () => {
    expect(await networkUrns(oldStack)).toEqual([expect.stringMatching(/::nexus:db:DatabaseLayer\$docker:index\/network:Network::nexus-network$/)]);
  });

  it("preview: nothing created, deleted or replaced — the network is the same one, under its new URN", async () => {
    const events: EngineEvent[] = [];
    await stack.preview({ color: "never", onEvent: (e) => events.push(e) });
    const changed = changedSteps(events);
    expect(changed.filter((s) => /^(create|delete|replace|create-replacement|delete-replaced)\b/.test(s))).toEqual([]);
    expect(changed.filter((s) => /network/.test(s))).toEqual([]);
  }, STEP);

  it("up keeps the network and the containers on it; the state has it top-level", async () => {
    const id = docker("network", "inspect", "--format", "{{.Id}}", `${stackName}-nexus-db`);
    const events: EngineEvent[] = [];
    const r = await stack.up({ color: "never", onEvent: (e) => events.push(e) });
    expect(r.summary.result).toBe("succeeded");
    expect(changedSteps(events).filter((s) => /^(create|delete|replace|create-replacement|delete-replaced)\b/.test(s))).toEqual([]);
    expect(docker("network", "inspect", "--format", "{{.Id}}", `${stackName}-nexus-db`)).toBe(id);
    const attached = docker("network", "inspect", "--format", "{{range .Containers}}{{.Name}} {{end}}", `${stackName}-nexus-db`).split(" ").filter(Boolean).sort();
    expect(attached).toEqual([`${stackName}-postgres`, `${stackName}-redis`]);
    expect(await networkUrns(stack)).toEqual([`urn:pulumi:${stackName}::nexus-db::docker:index/network:Network::nexus-network`]);
  }, STEP);
});
