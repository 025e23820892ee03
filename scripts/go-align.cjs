"use strict";
// Raises the requirements of the Go module in the current directory to the versions a reference
// go.mod requires, where the reference's are newer. Never lowers one; leaves replaced modules alone.
//
// Why: the four resource providers pin four slightly different sets of the same dependencies (the
// Pulumi SDK and engine packages, the Terraform bridge, gRPC, …), so Go's build cache compiled those
// once per provider: on a fresh two-core machine about ten minutes of the set-up. Built against the
// newest set among them (scripts/build-plugins.sh passes the first provider's go.mod), the shared
// packages compile once. Each provider keeps its own code and its own version; only patch and minor
// releases of shared dependencies move, and the tests run against the plugins built this way.
//
// usage: node scripts/go-align.cjs REFERENCE_GO_MOD    (prints one line per raised requirement)
const { execFileSync } = require("node:child_process");
const semver = require("semver");

function goMod(file) {
  const args = ["mod", "edit", "-json"];
  if (file) args.push(file);
  return JSON.parse(execFileSync("go", args, { encoding: "utf8" }));
}

/** Go module versions are semver with a leading "v" (pseudo-versions are prereleases; "+incompatible" is build metadata). */
function newer(a, b) {
  const x = semver.valid(a.replace(/^v/, ""));
  const y = semver.valid(b.replace(/^v/, ""));
  return Boolean(x && y && semver.gt(x, y));
}

function main() {
  const reference = process.argv[2];
  if (!reference) throw new Error("usage: node scripts/go-align.cjs REFERENCE_GO_MOD");
  const ref = new Map((goMod(reference).Require || []).map((r) => [r.Path, r.Version]));
  const own = goMod();
  const replaced = new Set((own.Replace || []).map((r) => r.Old.Path));
  const raise = [];
  for (const r of own.Require || []) {
    const v = ref.get(r.Path);
    if (v && !replaced.has(r.Path) && newer(v, r.Version)) raise.push([r.Path, r.Version, v]);
  }
  if (raise.length === 0) return;
  execFileSync("go", ["mod", "edit", ...raise.map(([p, , v]) => `-require=${p}@${v}`)], { stdio: "inherit" });
  for (const [p, from, to] of raise) console.log(`${p} ${from} -> ${to}`);
}

main();
