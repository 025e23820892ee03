// Starts the provider plugins a stack uses while the program is still loading. The engine starts a
// provider plugin when the program first registers one of its resources — after the program has
// loaded its modules and read its config — and it starts them one after the other, registering no
// resource of any package while one starts (traced on a quiet two-core machine: the
// dynamic providers' process 1.5 s, then docker, random and tls ≈ 0.2–0.5 s each, the certificates
// waiting for the last). An invoke of a package makes the engine start its plugin at once; no
// function of the invoked name exists, so the invoke fails, as expected, and is ignored.
//
// The Go plugins are asked for first (index.ts), once the config has been read: a head start
// registers the plugin's default provider, which a refused config must not leave in the state.
// They start in a fraction of a second, and the certificates, passwords and the docker network are
// the first resources the program registers — on a docker stack the docker plugin alone, then the
// network, then the others (pluginsToStart); the dynamic providers' process
// (providers/prestart.ts), slower to start and first needed later, is asked for after them, or not
// at all.
import { getConfig } from "@pulumi/pulumi/runtime/config";
import { hasMonitor } from "@pulumi/pulumi/runtime/settings";
import { generatesSecrets, usesDockerBackend, usesTlsCertificates, type RawConfig } from "../config/names";
import { headStartInvoke } from "../providers/prestart";
import { DOCKER_PLUGIN } from "./docker-store";

/** A plugin to start early: its package, the version its resources ask for, and whether the stack uses it. */
export interface PluginHeadStart {
  pkg: "docker" | "random" | "tls";
  version: () => string;
  used: (get: RawConfig) => boolean;
}

/** The version of an SDK package, which its resources ask the engine for (its default provider is per version). */
function sdkVersion(pkg: string): string {
  return (require(`${pkg}/package.json`) as { version: string }).version;
}

/** In the order they are asked for. */
export const PLUGIN_HEAD_STARTS: readonly PluginHeadStart[] = [
  { pkg: "docker", version: () => DOCKER_PLUGIN.version, used: usesDockerBackend },
  { pkg: "random", version: () => sdkVersion("@pulumi/random"), used: generatesSecrets },
  { pkg: "tls", version: () => sdkVersion("@pulumi/tls"), used: usesTlsCertificates },
];

/** The token invoked: no provider has a function of this name. */
export function prestartToken(pkg: string): string {
  return `${pkg}:index/nexusDbStartProvider:nexusDbStartProvider`;
}

/**
 * The plugins to ask for at each head start: on a stack with a docker store, docker alone before
 * its network is registered and the others after it (a registration waits for every plugin asked
 * for before it, and the network — the docker provider waits 2 s after creating one — is what the
 * containers wait for longest); on any other stack, all of them at once.
 */
export function pluginsToStart(when: "before-network" | "after-network", get: RawConfig = getConfig): PluginHeadStart[] {
  const used = PLUGIN_HEAD_STARTS.filter((p) => p.used(get));
  if (!usesDockerBackend(get)) return when === "before-network" ? used : [];
  return when === "before-network" ? used.filter((p) => p.pkg === "docker") : used.filter((p) => p.pkg !== "docker");
}

/** Asks the engine for the plugins the stack uses at this head start, in order. Never fails the program. */
export function prestartPlugins(when: "before-network" | "after-network", get: RawConfig = getConfig): void {
  if (!hasMonitor()) return; // not under the engine (a test importing the program's modules)
  for (const p of pluginsToStart(when, get)) headStartInvoke(prestartToken(p.pkg), { version: p.version() });
}
