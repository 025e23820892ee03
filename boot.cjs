"use strict";
// How the program process starts (Pulumi.yaml: `nodeargs: --require ./boot.cjs`), before the
// language host loads index.ts. The program is TypeScript run through tsx, whose loader hooks every
// module loaded after it: each JavaScript file is read and scanned for ES module syntax on top of
// Node's own work. So the SDK is loaded first, as plain JavaScript, and tsx registered after it, for
// the program's own files (measured on a busy two-core machine: 0.2–0.9 s less CPU and 0.9–1.7 s
// less wall time per preview of the local stack).
//
// @pulumi/pulumi also loads the TypeScript compiler (its `typescript-shim`) for closure
// serialization — about 0.3 s, 0.7 s under tsx. This program serializes no closure (its dynamic
// resources name their provider: providers/resource.ts), so the shim is put in the module cache as a
// stand-in that loads the real compiler on first use: should anything serialize a function after
// all, it still works.

/** Puts the stand-in in the module cache unless the shim is loaded already or not where expected. */
function deferTypeScriptCompiler() {
  let file;
  try {
    file = require.resolve("@pulumi/pulumi/typescript-shim");
  } catch {
    return; // another SDK layout: the compiler loads as the SDK wants
  }
  if (require.cache[file]) return;
  let real;
  const load = () => {
    if (!real) {
      delete require.cache[file];
      real = require(file);
    }
    return real;
  };
  const { Module } = require("node:module");
  const stand = new Module(file);
  stand.filename = file;
  stand.loaded = true;
  stand.exports = new Proxy({}, { get: (_t, key) => Reflect.get(load(), key), has: (_t, key) => Reflect.has(load(), key) });
  require.cache[file] = stand;
}

/**
 * @pulumi/pulumi records a stack trace for every promise it tracks (`debuggablePromise`: several per
 * resource), only to print it in its promise-leak report when PULUMI_DEBUG_PROMISE_LEAKS is set.
 * With source-map-support installed (the SDK's entry point installs it), each of those traces is
 * mapped frame by frame through the source maps — 0.2–0.3 s of the program's CPU per preview of the
 * local stack, while it registers its resources. Those traces are left unmapped unless the leak
 * report is asked for; every other stack trace is mapped as before. source-map-support is installed
 * here first, as the SDK's entry point installs it (which then finds it installed and keeps this).
 */
function skipMappingOfPromiseTraces() {
  if (process.env.PULUMI_DEBUG_PROMISE_LEAKS) return;
  let sms;
  try {
    sms = require(require.resolve("source-map-support", { paths: [require.resolve("@pulumi/pulumi")] }));
  } catch {
    return; // another SDK layout: stack traces stay as the SDK makes them
  }
  sms.install();
  const mapped = Error.prepareStackTrace;
  if (typeof mapped !== "function") return;
  Error.prepareStackTrace = function prepareStackTrace(error, frames) {
    if (frames.length > 0 && frames[0].getFunctionName() === "debuggablePromise") {
      return `${error}${frames.map((f) => `\n    at ${f}`).join("")}`;
    }
    return mapped(error, frames);
  };
}

/**
 * Node's compile cache: V8's compiled code of every module this process loads (the SDK's, tsx's
 * output for the program's own files) is kept on disk and reused by the next run whose files are
 * unchanged — 0.1–0.2 s less per program start on a two-core machine. In the system's temporary
 * folder unless NODE_COMPILE_CACHE names another; NODE_DISABLE_COMPILE_CACHE=1 turns it off. Nothing
 * is lost without it (an older Node, a read-only folder): modules then compile as before.
 */
function enableCompileCache() {
  try {
    require("node:module").enableCompileCache?.();
  } catch {
    // modules compile as before
  }
}

enableCompileCache();
deferTypeScriptCompiler();
skipMappingOfPromiseTraces();
require("@pulumi/pulumi");
require("zod");
require("tsx/cjs");

