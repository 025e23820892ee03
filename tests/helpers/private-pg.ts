// A throwaway PostgreSQL server of a test's own (its settings, its log), on a free loopback port.
// initdb refuses root, so as root the server runs as the `postgres` system user.
import { execFileSync, spawnSync } from "node:child_process";
import { appendFileSync, chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { freePort } from "./redis-server";

export interface PrivatePostgres {
  port: number;
  /** The superuser's URL (trust over loopback, like the shared test server). */
  url: string;
  dir: string;
  /** Everything the server logged so far. */
  log(): string;
  /** SIGKILL of the postmaster and every backend it forked, at once: what a crashed host looks like. */
  kill(): void;
  /** Starts the server again (after `kill`, once every killed process is gone). */
  start(): Promise<void>;
  stop(): void;
}

/** The server binaries: PG_BIN, else the newest installed major. */
export function pgBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const majors = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(a) - Number(b));
  return path.join("/usr/lib/postgresql", majors[majors.length - 1], "bin");
}

function asOwner(cmd: string, args: string[]): string {
  const root = process.getuid?.() === 0;
  return execFileSync(root ? "runuser" : cmd, root ? ["-u", "postgres", "--", cmd, ...args] : args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a server with `conf` appended to postgresql.conf and `hba` as pg_hba.conf (default: the
 * superuser trusted on loopback, every other role by SCRAM password). Files named in `files` are
 * written into the data directory first (certificates), owner-only.
 */
export async function startPrivatePostgres(opts: { conf?: string[]; hba?: string[]; files?: Record<string, string> } = {}): Promise<PrivatePostgres> {
  const bin = pgBin();
  const base = mkdtempSync("/tmp/nexus-pg-");
  const dir = path.join(base, "data");
  const root = process.getuid?.() === 0;
  if (root) execFileSync("chown", ["postgres:", base]);
  chmodSync(base, 0o755);
  asOwner(path.join(bin, "initdb"), ["-D", dir, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8"]);
  const port = await freePort();
  const hba = opts.hba ?? ["local all all trust", "host all postgres 127.0.0.1/32 trust", "host all all 127.0.0.1/32 scram-sha-256"];
  writeFileSync(path.join(dir, "pg_hba.conf"), hba.join("\n") + "\n");
  for (const [name, content] of Object.entries(opts.files ?? {})) {
    const f = path.join(dir, name);
    writeFileSync(f, content, { mode: 0o600 });
    if (root) {
      const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
      const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
      chownSync(f, uid, gid);
    }
  }
  appendFileSync(
    path.join(dir, "postgresql.conf"),
    [`listen_addresses = '127.0.0.1'`, `port = ${port}`, `unix_socket_directories = '${dir}'`, "fsync = off", "logging_collector = off", ...(opts.conf ?? [])].join("\n") + "\n",
  );
  const logFile = path.join(base, "server.log");
  if (root) {
    writeFileSync(logFile, "");
    execFileSync("chown", ["postgres:", logFile]);
  }
  let killed: number[] = [];
  const start = async () => {
    // A killed cluster starts again only once all its processes are gone (its shared memory released).
    const until = Date.now() + 30_000;
    while (killed.some(alive)) {
      if (Date.now() > until) throw new Error(`the killed PostgreSQL processes ${killed.join(", ")} did not exit`);
      await new Promise((r) => setTimeout(r, 100));
    }
    killed = [];
    asOwner(path.join(bin, "pg_ctl"), ["-D", dir, "-l", logFile, "-w", "-t", "60", "start"]);
  };
  await start();
  let stopped = false;
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    log: () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : ""),
    kill() {
      const pidFile = path.join(dir, "postmaster.pid");
      if (!existsSync(pidFile)) return;
      const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
      const children = (spawnSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).stdout ?? "").split("\n").filter(Boolean).map(Number);
      killed = [pid, ...children];
      for (const p of killed) {
        try {
          process.kill(p, "SIGKILL");
        } catch {
          // already gone
        }
      }
    },
    start,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        asOwner(path.join(bin, "pg_ctl"), ["-D", dir, "-m", "immediate", "-w", "stop"]);
      } catch {
        // already down
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}
