// Starts the docker provider plugin while the program is still loading, on stacks with a store on
// the docker backend. The engine starts a provider plugin when the program first needs it — for
// docker, at the first container, network or image, after the program has loaded its modules, read
// its config and made its certificates and passwords; the plugin (a large Go binary) then takes
// 1–2 s to start and configure, with every docker resource waiting. An invoke of the docker
// package makes the engine start it at once; no function of the invoked name exists, so the invoke
// fails, as expected, and is ignored. Imported first by index.ts (before providers/prestart.ts).
import { getConfig } from "@pulumi/pulumi/runtime/config";
import { invoke } from "@pulumi/pulumi/runtime/invoke";
import { hasMonitor } from "@pulumi/pulumi/runtime/settings";
import { usesDockerBackend } from "../config/names";
import { DOCKER_PLUGIN } from "./docker-store";

/** The token invoked: the docker provider has no function of this name. */
export const DOCKER_PRESTART_TOKEN = "docker:index/nexusDbStartProvider:nexusDbStartProvider";

/** Asks the engine for the docker provider now, at the version every docker resource asks for. Never fails the program. */
export function prestartDockerProvider(get: (key: string) => string | undefined = getConfig): void {
  try {
    if (!hasMonitor() || !usesDockerBackend(get)) return;
    invoke(DOCKER_PRESTART_TOKEN, {}, { version: DOCKER_PLUGIN.version }).catch(() => undefined);
  } catch {
    // An engine that refuses the invoke outright costs only the head start.
  }
}

prestartDockerProvider();
