// A private redis-server per test: rendered config written to a temp dir, free loopback port,
// started in the foreground so a refused config surfaces as the server's own error text.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";

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
      const c = spawn("redis-server", [confFile, ...(opts.extraArgs ?? [])], { stdio: ["ignore", "pipe", "pipe"] });
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
