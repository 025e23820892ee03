// How the program process starts, in a fresh Node process as the language host starts it
// (`--require ./boot.cjs` from Pulumi.yaml): the SDK loads before tsx's hooks and without the
// TypeScript compiler, a closure serialized after all still gets the real compiler, the program's
// TypeScript still runs, Node's compile cache keeps the compiled modules for the next run, and the
// provider head start does nothing outside the engine.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.join(__dirname, "..", "..");

function run(code: string, preload = "./boot.cjs"): Record<string, unknown> {
  const r = spawnSync(process.execPath, ["--require", preload, "-e", code], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
}

const TS_LOADED = `Object.keys(require.cache).some((k) => /node_modules\\/typescript\\//.test(k))`;

describe("the program's boot", () => {
  it("Pulumi.yaml starts the program with boot.cjs", () => {
    expect(readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")).toMatch(/^\s+nodeargs: --require \.\/boot\.cjs$/m);
  });

  it("the SDK loads without the TypeScript compiler (and with it under plain tsx), then a TypeScript module runs", () => {
    const booted = run(`const p = require("./providers/prestart.ts"); console.log(JSON.stringify({ ts: ${TS_LOADED}, token: p.PRESTART_TOKEN }));`);
    expect(booted).toEqual({ ts: false, token: "pulumi-nodejs:dynamic:nexusDbStartProvider" });
    // The baseline: the SDK's own behaviour, which the stand-in avoids.
    const plain = run(`require("@pulumi/pulumi"); console.log(JSON.stringify({ ts: ${TS_LOADED} }));`, "tsx/cjs");
    expect(plain.ts).toBe(true);
  });

  it("a function serialized after all: the real compiler loads on first use and the closure serializes", () => {
    const r = run(`
      const pulumi = require("@pulumi/pulumi");
      const before = ${TS_LOADED};
      const factor = 6;
      pulumi.runtime.serializeFunction((x) => x * factor).then((s) => {
        console.log(JSON.stringify({ before, after: ${TS_LOADED}, text: s.text.includes("factor") }));
      }, (e) => { console.error(e); process.exit(1); });`);
    expect(r).toEqual({ before: false, after: true, text: true });
  });

  it("the SDK's promise traces are left unmapped (unless its leak report is asked for); every other stack trace is mapped as before", () => {
    // As the SDK's entry point does: source-map-support installed, then a tracked promise and an error thrown in SDK code.
    const code = `
      const sdk = (m) => require.resolve("@pulumi/pulumi/" + m);
      require(require.resolve("source-map-support/register", { paths: [sdk("index")] }));
      const p = Promise.resolve(1);
      require(sdk("runtime/debuggable")).debuggablePromise(p, "ctx");
      let err;
      try { new (require(sdk("config")).Config)("nexus").require("missing"); } catch (e) { err = e; }
      console.log(JSON.stringify({ promise: p._debugStackTrace.split("\\n")[1], error: err.stack.split("\\n").find((l) => l.includes("requireImpl")) }));`;
    const r = spawnSync(process.execPath, ["--require", "./boot.cjs", "-e", code], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const fast = JSON.parse(r.stdout.trim()) as { promise: string; error: string };
    expect(fast.promise).toMatch(/debuggable\.js:\d+:\d+\)$/);
    expect(fast.error).toMatch(/config\.ts:\d+:\d+\)$/);
    const leaks = spawnSync(process.execPath, ["--require", "./boot.cjs", "-e", code], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, PULUMI_DEBUG_PROMISE_LEAKS: "1" },
    });
    expect(leaks.status, leaks.stderr).toBe(0);
    expect((JSON.parse(leaks.stdout.trim()) as { promise: string }).promise).toMatch(/debuggable\.ts:\d+:\d+\)$/);
  });

  it("Node's compile cache is on for the program (in the temporary folder), and NODE_DISABLE_COMPILE_CACHE turns it off", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "nexus-compile-cache-"));
    try {
      const probe = `console.log(JSON.stringify({ dir: require("node:module").getCompileCacheDir() ?? null }))`;
      const { NODE_COMPILE_CACHE: _set, ...env } = process.env;
      const withCache = spawnSync(process.execPath, ["--require", "./boot.cjs", "-e", probe], { cwd: ROOT, encoding: "utf8", env: { ...env, TMPDIR: dir } });
      expect(withCache.status, withCache.stderr).toBe(0);
      expect(String((JSON.parse(withCache.stdout.trim()) as { dir: string }).dir)).toContain(dir);
      // The SDK's compiled modules are written there for the next run.
      expect(readdirSync(dir, { recursive: true }).length).toBeGreaterThan(0);
      const off = spawnSync(process.execPath, ["--require", "./boot.cjs", "-e", probe], { cwd: ROOT, encoding: "utf8", env: { ...env, TMPDIR: dir, NODE_DISABLE_COMPILE_CACHE: "1" } });
      expect(off.status, off.stderr).toBe(0);
      expect(JSON.parse(off.stdout.trim())).toEqual({ dir: null });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("outside the engine (no monitor) the provider head start invokes nothing and fails nothing", () => {
    const r = run(`const p = require("./providers/prestart.ts"); p.prestartDynamicProviders(); console.log(JSON.stringify({ ok: true }));`);
    expect(r.ok).toBe(true);
  });
});
