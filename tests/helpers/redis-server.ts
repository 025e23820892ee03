// A private redis-server per test: rendered config written to a temp dir, free loopback port,
// started in the foreground so a refused config surfaces as the server's own error text.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { Redis } from "ioredis";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function tempDir(tag: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), `nexus-redis-${tag}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface RedisProcess {
  port: number;
  confFile: string;
  /** Everything the server printed. */
  log(): string;
  /** SIGKILL, no save: what a crash or an OOM kill looks like. */
  kill(): Promise<void>;
  /** Starts the server again with the same config file. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Writes `files` (name → text) into `dir`, then runs `redis-server <dir>/<confName>` until it says it
 * is ready. Rejects with the server's output if it exits first (a config it refuses).
 */
export async function startRedisServer(opts: {
  dir: string;
  port: number;
  files: Record<string, string>;
  confName?: string;
  /** Extra command-line options after the config file, e.g. ["--rename-command", "CONFIG", ""]. */
  extraArgs?: string[];
}): Promise<RedisProcess> {
  for (const [name, text] of Object.entries(opts.files)) writeFileSync(path.join(opts.dir, name), text, { mode: 0o600 });
  const confFile = path.join(opts.dir, opts.confName ?? "redis.conf");
  let child: ChildProcess | undefined;
  let output = "";

  const launch = () =>
    new Promise<void>((resolve, reject) => {
      // In its own directory: a config without `dir` (or a CONFIG SET appendonly/save later) writes there, not into the project.
      const c = spawn("redis-server", [confFile, ...(opts.extraArgs ?? [])], { cwd: opts.dir, stdio: ["ignore", "pipe", "pipe"] });
      child = c;
      let ready = false;
      const onData = (b: Buffer) => {
        output += b.toString();
        if (!ready && /Ready to accept connections/.test(output)) {
          ready = true;
          resolve();
        }
      };
      c.stdout!.on("data", onData);
      c.stderr!.on("data", onData);
      c.once("error", reject);
      c.once("exit", (code, signal) => {
        if (!ready) reject(new Error(`redis-server refused ${confFile} (exit ${code ?? signal}):\n${output}`));
      });
    });

  // SIGTERM makes Redis save first; if that hangs or fails (it then refuses to exit), SIGKILL.
  const waitExit = (c: ChildProcess | undefined, signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      if (!c || c.exitCode !== null || c.signalCode !== null) return resolve();
      const timer = setTimeout(() => c.kill("SIGKILL"), 5000);
      c.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      c.kill(signal);
    });

  try {
    await launch();
  } catch (e) {
    // A refused config: the caller's temp dir holds nothing worth keeping but the error says it all.
    rmSync(opts.dir, { recursive: true, force: true });
    throw e;
  }
  return {
    port: opts.port,
    confFile,
    log: () => output,
    kill: () => waitExit(child, "SIGKILL"),
    restart: async () => {
      await waitExit(child, "SIGKILL");
      output = "";
      await launch();
    },
    stop: () => waitExit(child, "SIGTERM"),
  };
}

/** A throwaway server of a test's own: every key in it is the test's. */
export interface PrivateRedis extends RedisProcess {
  url: string;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/**
 * A redis-server with nothing persisted (a kill loses its data, a restart starts empty) and 16
 * logical databases, on a free loopback port: for tests that read or wipe every database.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const tmp = tempDir("private");
  const conf = [`port ${port}`, "bind 127.0.0.1", 'save ""', "appendonly no", `dir ${tmp.dir}`, "databases 16"].join("\n") + "\n";
  const server = await startRedisServer({ dir: tmp.dir, port, files: { "redis.conf": conf } });
  return {
    ...server,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      await server.stop();
      tmp.remove();
    },
  };
}

/** Unlinks every key of the selected database that starts with `prefix` (SCAN, never KEYS): a test's own keys on a shared server. */
export async function removeKeysByPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 10_000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== "0");
}
