// Starts the dynamic providers' process while the program is still loading.
//
// Pulumi starts the `pulumi-nodejs` provider process (Node.js, then @pulumi/pulumi: about a second
// on a busy two-core machine) only when the first dynamic resource is registered — after the
// program has loaded its modules, read its config and built its components, so every preview and
// up waits for the two one after the other. An invoke of the `pulumi-nodejs` package makes the
// engine start that process at once; the dynamic provider answers any invoke "unknown function",
// which is expected and ignored. index.ts asks for it after the provider plugins (and the docker
// network), once their requests have left (`headStartsSent`): the engine starts the plugins one
// after the other and registers nothing meanwhile, and this process, slower to start and first
// needed later, must not hold them back. It then waits until this request has left too before it
// loads the program's own modules: a request is written only when the event loop runs, and their
// synchronous loading would hold it back until it ends.
// Where PostgreSQL is a container, no head start: every dynamic resource waits for a container
// (dynamicResourcesComeEarly), and the engine starts the process with the first of them, while the
// server initializes. Asked for early, its start (traced: 1.2–1.7 s) held back the network, the
// passwords and the certificates — and the containers with them.
// The two runtime files the language host has loaded already: not @pulumi/pulumi itself, whose
// first load (≈ 600 modules) is part of what the head start overlaps.
import { invoke } from "@pulumi/pulumi/runtime/invoke";
import { awaitStackRegistrations, hasMonitor } from "@pulumi/pulumi/runtime/settings";

/** The token invoked: no dynamic provider implements it (the SDK's provider implements no invoke). */
export const PRESTART_TOKEN = "pulumi-nodejs:dynamic:nexusDbStartProvider";

/**
 * Invokes `token`, which no provider implements, so that the engine starts the token's provider
 * now; the expected failure is ignored. Does nothing outside the engine; never fails the program.
 * Every head start goes through here (components/plugin-prestart.ts too).
 */
export function headStartInvoke(token: string, opts?: Parameters<typeof invoke>[2]): void {
  try {
    if (!hasMonitor()) return; // not under the engine (a test importing the program's modules)
    invoke(token, {}, opts).catch(() => undefined);
  } catch {
    // An engine that refuses the invoke outright costs only the head start.
  }
}

/** Asks the engine for the dynamic provider's process now; never fails the program. */
export function prestartDynamicProviders(): void {
  headStartInvoke(PRESTART_TOKEN);
}

/**
 * Whether a dynamic resource is registered before any container exists: not when PostgreSQL is a
 * container, whose roles, schema and seeds wait for it (and the Mongo schema and the warmup for
 * them). The engine then starts the process with the first of them, while the server initializes.
 */
export function dynamicResourcesComeEarly(config: { postgres: { backend: string } }): boolean {
  return config.postgres.backend !== "docker";
}

/** How long the program yields after the stack's registration: the invokes' requests are written by then. */
export const HEAD_START_SEND_MS = 25;

/**
 * Resolves once the head starts' requests have left: an invoke waits for the stack's registration,
 * then takes a few turns of the event loop to reach the engine. Immediately outside the engine.
 */
export async function headStartsSent(): Promise<void> {
  if (!hasMonitor()) return;
  await awaitStackRegistrations();
  await new Promise((r) => setTimeout(r, HEAD_START_SEND_MS));
}
