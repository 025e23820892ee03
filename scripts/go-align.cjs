"use strict";
// Raises the requirements of the Go module in the current directory to the newest versions that
// the reference go.mod files require. Never lowers one, never crosses a major version (v0.0.5 →
// v1.1.3 is a new API, v0.54 → v0.57 is not), leaves replaced modules and the --keep paths alone.
//
// Why: the Pulumi CLI and the four resource providers pin five slightly different sets of the same
// dependencies (gRPC, protobuf, golang.org/x, the cloud SDKs, OpenTelemetry; the providers also the
// Pulumi SDK and engine packages and the Terraform bridge). Go's build cache keys a compiled
// package by the versions of everything below it: one newer golang.org/x/sys, and every package
// above it compiles again. Built against one set — the newest among the providers'
// (scripts/build-plugins.sh passes their four go.mod files) — the shared packages compile once:
// the CLI's build compiles most of what the first provider needs, and the others reuse it. Each
// keeps its own code and its own version (the CLI keeps the Pulumi modules of its release: --keep);
// only patch and minor releases of shared dependencies move, and the tests run against the
// binaries built this way.
//
// usage: node scripts/go-align.cjs [--keep PATH,PATH…] REFERENCE_GO_MOD…
//        prints one line per raised requirement
const { execFileSync } = require("node:child_process");
const semver = require("semver");

function goMod(file) {
  const args = ["mod", "edit", "-json"];
  if (file) args.push(file);
  return JSON.parse(execFileSync("go", args, { encoding: "utf8" }));
}

/** Go module versions are semver with a leading "v" (pseudo-versions are prereleases; "+incompatible" is build metadata). */
function parse(v) {
  return semver.valid(String(v).replace(/^v/, ""));
}

/** Whether `a` is newer than `b` within the same major version. */
function newerCompatible(a, b) {
  const x = parse(a);
  const y = parse(b);
  return Boolean(x && y && semver.major(x) === semver.major(y) && semver.gt(x, y));
}

/** The newest version of each module among the references, per major version ("path@vN" → version). */
function newestAmong(references) {
  const newest = new Map();
  for (const file of references) {
    for (const r of goMod(file).Require || []) {
      const v = parse(r.Version);
      if (!v) continue;
      const key = `${r.Path}@v${semver.major(v)}`;
      const seen = newest.get(key);
      if (!seen || semver.gt(v, parse(seen))) newest.set(key, r.Version);
    }
  }
  return newest;
}

function main() {
  const args = process.argv.slice(2);
  const keep = new Set();
  while (args[0] === "--keep") {
    args.shift();
    for (const p of (args.shift() || "").split(",")) if (p) keep.add(p);
  }
  if (args.length === 0) throw new Error("usage: node scripts/go-align.cjs [--keep PATH,PATH…] REFERENCE_GO_MOD…");
  const newest = newestAmong(args);
  const own = goMod();
  const replaced = new Set((own.Replace || []).map((r) => r.Old.Path));
  const raise = [];
  for (const r of own.Require || []) {
    const v = parse(r.Version);
    if (!v || replaced.has(r.Path) || keep.has(r.Path)) continue;
    const to = newest.get(`${r.Path}@v${semver.major(v)}`);
    if (to && newerCompatible(to, r.Version)) raise.push([r.Path, r.Version, to]);
  }
  if (raise.length === 0) return;
  execFileSync("go", ["mod", "edit", ...raise.map(([p, , v]) => `-require=${p}@${v}`)], { stdio: "inherit" });
  for (const [p, from, to] of raise) console.log(`${p} ${from} -> ${to}`);
}

main();
