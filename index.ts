// The nexus-db program's entry point. First the head starts: the engine is asked for the provider
// plugins the stack uses (components/plugin-prestart.ts), then for the dynamic providers' process
// (providers/prestart.ts), then — once the config has been read — the docker network is registered
// (components/docker-network.ts). Those requests leave only when the event loop runs — after the
// stack's own registration is answered — and loading the program proper (program.ts: the
// components, the SDKs: over a second of synchronous `require` on a busy two-core machine) would
// hold them back until it ends. So the program is a function, which Pulumi awaits: it lets each
// request go, then loads program.ts, whose exports are the stack outputs.
import { LAYER_NAME } from "./config/names";
import { prestartPlugins } from "./components/plugin-prestart";
import { headStartsSent, prestartDynamicProviders } from "./providers/prestart";

export = async (): Promise<Record<string, unknown>> => {
  // The engine serves every provider request — these, and each resource's registration — one at a
  // time, and the dynamic providers' process takes over a second to start: the Go plugins and the
  // network go first, and it is asked for just before the program's own modules load.
  prestartPlugins();
  await headStartsSent();
  // require, not import(): the program's TypeScript loads through tsx's CommonJS hook (boot.cjs).
  // The config first: a bad one stops the program here, before any resource is registered.
  const config = (require("./config/read") as typeof import("./config/read")).readStackConfig();
  const network = require("./components/docker-network") as typeof import("./components/docker-network");
  if (network.usesDockerNetwork(config)) {
    network.startStackNetwork(LAYER_NAME, config);
    await headStartsSent();
  }
  prestartDynamicProviders();
  await headStartsSent();
  return { ...(require("./program") as typeof import("./program")) };
};
