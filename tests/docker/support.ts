// What the docker stack's test and benchmark share: the project's images (scripts/images.sh), a
// stack config on them, a private FerretDB the containers can reach (no mongo image can be had
// here: the docker test stack keeps Mongo on a server outside Docker), free ports, and cleanup of
// everything a stack left in the engine.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { ConfigMap, Stack } from "@pulumi/pulumi/automation";
import { MongoClient } from "mongodb";
import type { MongoFeature } from "../../engines/mongo/settings";
import { PROJECT_ROOT } from "../helpers/stack";

/** Why the docker tests cannot run here, or undefined. */
export function dockerUnavailable(): string | undefined {
  if (process.env.NEXUS_SKIP_DOCKER === "1") return "NEXUS_SKIP_DOCKER=1: this machine runs no Docker engine";
  try {
    execFileSync("docker", ["info", "--format", "{{.ServerVersion}}"], { stdio: "pipe" });
    return undefined;
  } catch (e) {
    // scripts/test.sh has started the engine; without it, this is a failure, not a skip.
    throw new Error(`no Docker engine answers (scripts/test.sh runs scripts/images.sh, which starts one): ${(e as Error).message}`);
  }
}

export interface ImageRefs {
  postgres: string;
  redis: string;
  redisCommander: string;
  mongoExpress: string;
  /** The scheduled backups' image (nexus-db backup --daily-at). */
  backup: string;
}

/** The project's images (built by scripts/images.sh when missing). */
export function imageRefs(): ImageRefs {
  const out = execFileSync("bash", [path.join(PROJECT_ROOT, "scripts/images.sh"), "refs"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  return JSON.parse(out.trim().split("\n").pop()!) as ImageRefs;
}

export function docker(...args: string[]): string {
  return execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

/** Whether `port` can be listened on now (closed again before this returns). */
function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** The first port the kernel hands out as the local end of outgoing connections (Linux's default elsewhere). */
function firstEphemeralPort(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    if (low > 0) return low;
  } catch {
    // not Linux: its default range
  }
  return 32768;
}

const FIRST_PORT = 20000;
const handedOut = new Set<number>();

/**
 * A free TCP port on loopback for a container to publish, below the kernel's range for outgoing
 * connections: the stack binds it many seconds after it is chosen, and a port of that range can be
 * taken meanwhile as the local end of any connection on the machine (the suite's own clients; seen:
 * Mongo Express's port "already in use" when its container started). Never the same port twice in
 * one process.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const low = firstEphemeralPort();
  if (low - FIRST_PORT >= 1000) {
    for (let i = 0; i < 100; i++) {
      const port = FIRST_PORT + Math.floor(Math.random() * (low - FIRST_PORT));
      if (handedOut.has(port) || !(await canListen(port, host))) continue;
      handedOut.add(port);
      return port;
    }
  }
  // No room below the range (or nothing free there): one the kernel picks.
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.setTimeout(1000);
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
    s.once("timeout", () => { s.destroy(); resolve(false); });
    s.connect(port, host);
  });
}

/**
 * The host's address on Docker's default bridge: the network's gateway, or — where the engine
 * does not list one (Debian's 20.10 leaves `IPAM.Config` at the subnet) — the IPv4 address of
 * the bridge's interface (`docker0` unless the network names another).
 */
export function bridgeAddress(): string {
  const gateway = docker("network", "inspect", "bridge", "--format", "{{range .IPAM.Config}}{{.Gateway}}{{end}}");
  if (gateway) return gateway;
  const ifname = docker("network", "inspect", "bridge", "--format", '{{index .Options "com.docker.network.bridge.name"}}') || "docker0";
  // `ip`, not os.networkInterfaces(): libuv leaves out an interface without carrier (no container yet).
  const address = /\binet (\d+\.\d+\.\d+\.\d+)\//.exec(execFileSync("ip", ["-4", "-o", "addr", "show", "dev", ifname], { encoding: "utf8" }))?.[1];
  if (!address) throw new Error(`Docker's default bridge lists no gateway and its interface ${ifname} has no IPv4 address`);
  return address;
}

/** What FerretDB 1.x on SQLite lacks of the declarations (mongo.settings.allowMissingFeatures). */
export const FERRET1_MISSING: MongoFeature[] = ["validators", "collMod", "ttlIndexes", "partialIndexes", "textIndexes", "users"];

export interface BridgeFerret {
  host: string;
  port: number;
  /** What answers, for messages. */
  server: string;
  /** What of the declarations this server lacks (mongo.settings.allowMissingFeatures): none on DocumentDB. */
  allowMissingFeatures: MongoFeature[];
  /** Drops a database and the users made in it (on DocumentDB users belong to the server, not to the database). */
  dropDatabase(database: string, users: string[]): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A private FerretDB listening on the address of Docker's default bridge: the host's tools and
 * the stack's containers (Mongo Express) both reach it. FerretDB v2 on the DocumentDB server that
 * scripts/services.sh runs (every declared feature, users that log in) when it answers; else
 * FerretDB 1.24 on SQLite of its own. Stopped by `stop()`.
 */
export async function startBridgeFerret(): Promise<BridgeFerret> {
  const host = bridgeAddress();
  const port = await freePort(host);
  const cache = process.env.NEXUS_CACHE ?? path.join(process.env.HOME ?? "/root", ".cache/nexus-db");
  const v2 = path.join(cache, "ferretdb", process.env.FERRETDB2_VERSION ?? "v2.7.0", "ferretdb");
  const docdbPort = Number(process.env.NEXUS_DOCDB_PG_PORT ?? 55433);
  const dir = mkdtempSync(path.join(tmpdir(), "nexus-ferret-"));
  const onDocumentDb = existsSync(v2) && (await answers("127.0.0.1", docdbPort));
  const bin = onDocumentDb ? v2 : path.join(cache, "ferretdb", process.env.FERRETDB_VERSION ?? "v1.24.2", "nexus-ferretdb");
  const args = onDocumentDb
    ? // As scripts/services.sh runs it: no login needed to administer, logins of users checked.
      [`--postgresql-url=postgres://postgres@127.0.0.1:${docdbPort}/postgres`, `--listen-addr=${host}:${port}`, "--debug-addr=-", `--state-dir=${dir}`, "--telemetry=disable", "--no-auth", "--log-level=warn"]
    : ["--listen", `${host}:${port}`, "--data-dir", dir];
  const child: ChildProcess = spawn(bin, args, { stdio: "ignore" });
  for (let i = 0; i < 120 && !(await answers(host, port)); i++) await new Promise((r) => setTimeout(r, 250));
  if (!(await answers(host, port))) {
    child.kill();
    throw new Error(`FerretDB (${bin}) did not answer on ${host}:${port}`);
  }
  return {
    host,
    port,
    server: onDocumentDb ? `FerretDB ${path.basename(path.dirname(v2))} on DocumentDB` : "FerretDB 1.24 on SQLite",
    allowMissingFeatures: onDocumentDb ? [] : FERRET1_MISSING,
    dropDatabase: async (database, users) => {
      const m = await MongoClient.connect(`mongodb://${host}:${port}/`);
      try {
        await m.db(database).dropDatabase();
        for (const u of users) await m.db(database).command({ dropUser: u }).catch(() => undefined);
      } finally {
        await m.close();
      }
    },
    stop: async () => {
      child.kill();
      await new Promise((r) => child.once("exit", r).once("error", r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The Mongo users of a docker test stack: named after its database (users are server-wide on DocumentDB). */
export function mongoUsers(database: string): { app: string; analytics: string } {
  return { app: `${database}_app`, analytics: `${database}_analytics` };
}

export interface DockerStackPorts {
  postgres: number;
  redis: number;
  mongoExpress: number;
  redisCommander: number;
}

export async function freePorts(): Promise<DockerStackPorts> {
  return { postgres: await freePort(), redis: await freePort(), mongoExpress: await freePort(), redisCommander: await freePort() };
}

/**
 * The docker test stack: PostgreSQL and Redis in containers of the project's images, TLS from the
 * stack's CA, Redis Commander and Mongo Express (pgAdmin cannot be built here), Mongo on `ferret`.
 */
export function dockerStackConfig(a: { refs: ImageRefs; ports: DockerStackPorts; ferret: Pick<BridgeFerret, "host" | "port" | "allowMissingFeatures">; database: string; ephemeral?: boolean; devTools?: boolean }): ConfigMap {
  const json = (v: unknown) => ({ value: JSON.stringify(v) });
  return {
    "nexus-db:environment": { value: "dev" },
    "nexus-db:ephemeral": { value: String(a.ephemeral ?? false) },
    "nexus-db:tls": json({ mode: "generate" }),
    "nexus-db:docker": json({
      bindAddress: "127.0.0.1",
      devTools: a.devTools ?? true,
      devToolPorts: { pgAdmin: 1, mongoExpress: a.ports.mongoExpress, redisCommander: a.ports.redisCommander },
      devToolImages: { pgAdmin: false, mongoExpress: a.refs.mongoExpress, redisCommander: a.refs.redisCommander },
    }),
    "nexus-db:postgres": json({ backend: "docker", seedData: true, docker: { image: a.refs.postgres, hostPort: a.ports.postgres, memoryMb: 512 } }),
    "nexus-db:redis": json({ backend: "docker", docker: { image: a.refs.redis, hostPort: a.ports.redis, memoryMb: 256 } }),
    "nexus-db:mongo": json({
      backend: "external",
      external: { host: a.ferret.host, port: a.ferret.port, adminUser: "" },
      settings: {
        database: a.database,
        allowMissingFeatures: a.ferret.allowMissingFeatures,
        users: Object.fromEntries(Object.entries(mongoUsers(a.database)).map(([k, name]) => [k, { name }])),
      },
    }),
  };
}

/** Containers, volumes and the network of stack `stack` that are still in the engine. */
export function leftovers(stack: string): { containers: string[]; volumes: string[]; networks: string[] } {
  const lines = (s: string) => s.split("\n").filter(Boolean);
  return {
    containers: lines(docker("ps", "-a", "--filter", `name=^${stack}-`, "--format", "{{.Names}}")),
    volumes: lines(docker("volume", "ls", "--filter", `name=^${stack}-`, "--format", "{{.Name}}")),
    networks: lines(docker("network", "ls", "--filter", `name=^${stack}-`, "--format", "{{.Name}}")),
  };
}

/** Removes whatever stack `stack` left in the engine (tests clean up after themselves). */
/** Destroys a test stack and removes it, then whatever of it is left in the engine (kept volumes too). */
export async function removeTestStack(stack: Stack | undefined, stackName: string): Promise<void> {
  try {
    if (stack) {
      await stack.destroy({ color: "never" }).catch(() => undefined);
      await stack.workspace.removeStack(stackName, { force: true }).catch(() => undefined);
    }
  } finally {
    removeLeftovers(stackName);
  }
}

export function removeLeftovers(stack: string): void {
  const l = leftovers(stack);
  if (l.containers.length) docker("rm", "-f", "-v", ...l.containers);
  if (l.volumes.length) docker("volume", "rm", "-f", ...l.volumes);
  if (l.networks.length) docker("network", "rm", ...l.networks);
}
