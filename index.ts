// The nexus-db program's entry point. First the config: a bad one stops the program before any
// resource is registered — a plugin's head start would register its default provider, which the
// state would keep. Then the head starts: the engine is asked for the provider plugins the stack
// uses (components/plugin-prestart.ts), the docker network is registered
// (components/docker-network.ts) and the dynamic providers' process asked for
// (providers/prestart.ts). Those requests leave only when the event loop runs — after the stack's
// own registration is answered — and loading the program proper (program.ts: the components, the
// SDKs: over a second of synchronous `require` on a busy two-core machine) would hold them back
// until it ends. So the program is a function, which Pulumi awaits: it lets each request go, then
// loads program.ts and builds the layer of the config read here (read once): what that returns is
// the stack outputs.
import { LAYER_NAME } from "./config/names";
import { prestartPlugins } from "./components/plugin-prestart";
import { dynamicResourcesComeEarly, headStartsSent, prestartDynamicProviders } from "./providers/prestart";

export = async (): Promise<Record<string, unknown>> => {
  // The engine serves every provider request — these, and each resource's registration — one at a
  // time, registering nothing while a plugin starts. On a docker stack the containers wait longest
  // for the network (the docker provider waits 2 s after creating one): the docker plugin alone goes
  // first, then the network, then the other plugins. The dynamic providers' process takes over a
  // second to start: it is asked for only where a dynamic resource comes before any container.
  // require, not import(): the program's TypeScript loads through tsx's CommonJS hook (boot.cjs).
  const config = (require("./config/read") as typeof import("./config/read")).readStackConfig();
  prestartPlugins("before-network");
  await headStartsSent();
  const network = require("./components/docker-network") as typeof import("./components/docker-network");
  if (network.usesDockerNetwork(config)) {
    network.startStackNetwork(LAYER_NAME, config);
    await headStartsSent();
    prestartPlugins("after-network");
    await headStartsSent();
  }
  if (dynamicResourcesComeEarly(config)) {
    prestartDynamicProviders();
    await headStartsSent();
  }
  return (require("./program") as typeof import("./program")).databaseLayerProgram(config);
};
