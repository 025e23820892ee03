// The stack's docker network, which every container of a docker stack joins. The docker provider
// waits a fixed 2 s after creating a network before it reads it back (and as long before each read),
// and every container waits for the network: so index.ts registers it as soon as the config has
// been read, before the rest of the program loads, and the two overlap (startStackNetwork). Hence a
// top-level resource: the layer it belonged to does not exist yet then. Stacks deployed when it was
// the layer's child keep it through an alias (no replace).
import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import { DOCKER_PLUGIN } from "./docker-store";
import { sdk } from "./sdk";

/** The type of the component the network was a child of (named `layer`: LAYER_NAME in program.ts). */
const FORMER_PARENT_TYPE = "nexus:db:DatabaseLayer";

/** Whether the stack has a store on the docker backend, and so a network. */
export function usesDockerNetwork(cfg: Pick<StackConfig, "postgres" | "mongo" | "redis">): boolean {
  return [cfg.postgres.backend, cfg.mongo.backend, cfg.redis.backend].includes("docker");
}

/** The network of a stack with a docker store; `layer` is the DatabaseLayer's name. */
export function stackNetwork(layer: string, cfg: Pick<StackConfig, "stack" | "docker">): docker.Network {
  return new sdk.docker.Network(
    `${layer}-network`,
    { name: cfg.docker.networkName, driver: "bridge", internal: false, labels: [{ label: "nexus-db.stack", value: cfg.stack }] },
    networkOptions(layer),
  );
}

/** Top-level, at the docker plugin's version, known by its former URN too (under the layer `layer`). */
export function networkOptions(layer: string): pulumi.CustomResourceOptions {
  return { ...DOCKER_PLUGIN, aliases: [{ parent: pulumi.createUrn(layer, FORMER_PARENT_TYPE) }] };
}

let started: { layer: string; network: docker.Network } | undefined;

/** Registers the network ahead of the program (index.ts); the layer of that name then takes it. */
export function startStackNetwork(layer: string, cfg: Pick<StackConfig, "stack" | "docker">): docker.Network {
  started = { layer, network: stackNetwork(layer, cfg) };
  return started.network;
}

/** The network startStackNetwork registered for the layer `layer`, once; undefined when none was. */
export function takeStartedNetwork(layer: string): docker.Network | undefined {
  if (started?.layer !== layer) return undefined;
  const { network } = started;
  started = undefined;
  return network;
}
