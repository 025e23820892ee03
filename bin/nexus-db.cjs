#!/usr/bin/env node
// Runs the TypeScript CLI in this process through tsx's require hook: no build step, no second
// process, and no ESM loader thread (tsx's CLI starts Node with an off-thread ESM loader, which was
// seen to hang now and then on Node 24 under load). Being the only process, it receives a
// container's `docker stop` and Ctrl-C itself: a long-running command stops with it.
require("tsx/cjs");
require("../cli/index.ts").runCli(process.argv.slice(2));
