// Runs the `nexus-db` CLI as operators do (bin/nexus-db.cjs, a Node process of its own).
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import * as path from "node:path";

const BIN = path.resolve(__dirname, "..", "..", "bin", "nexus-db.cjs");

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `nexus-db ARGS…`, with a time limit. Node 24 now and then deadlocks while it shuts down (its
 * platform joins a compiler thread that waits for a garbage collection the main thread will never
 * run: nodejs/node#54918, open) — seen twice in this suite's CLI runs under load, the process
 * sleeping in a futex wait after its work. A run that hits the time limit is run once more, and
 * says so on stderr; a second hang fails the test.
 */
export function runCli(args: string[], options: SpawnSyncOptions & { timeoutMs?: number } = {}): CliResult {
  const once = (): CliResult => {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", ...options, timeout: options.timeoutMs ?? 60_000 });
    return { status: r.status, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
  };
  const first = once();
  if (first.status !== null) return first;
  process.stderr.write(`nexus-db ${args[0] ?? ""}: no exit within the time limit (Node's shutdown deadlock?); running it once more\n`);
  return once();
}
