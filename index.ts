// The nexus-db program's entry point. First the head starts: the engine is asked for the dynamic
// providers' process and, on docker stacks, for the docker provider plugin (providers/prestart.ts,
// components/docker-prestart.ts). Those requests leave only when the event loop runs — after the
// stack's own registration is answered — and loading the program proper (program.ts: the config,
// the components, zod, the SDKs: 2 s of synchronous `require` on a busy two-core machine) would hold
// them back until it ends. So the program is a function, which Pulumi awaits: it lets the requests
// go, then loads program.ts, whose exports are the stack outputs.
// The docker plugin first: the engine starts the providers of invokes one after the other, and the
// dynamic providers' process (Node.js) takes longer to start than the docker plugin (Go).
import "./components/docker-prestart";
import { headStartsSent } from "./providers/prestart";

export = async (): Promise<Record<string, unknown>> => {
  await headStartsSent();
  // require, not import(): the program's TypeScript loads through tsx's CommonJS hook (boot.cjs).
  return { ...(require("./program") as typeof import("./program")) };
};
