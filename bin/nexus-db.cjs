#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so operators need no build step.
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const tsx = require.resolve("tsx/cli");
const r = spawnSync(process.execPath, [tsx, path.join(__dirname, "..", "cli", "index.ts"), ...process.argv.slice(2)], {
  stdio: "inherit",
});
process.exit(r.status === null ? 1 : r.status);
