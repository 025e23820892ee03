// What the three stores share on the docker backend: a pinned image, a named volume that outlives
// `pulumi destroy` unless the stack is ephemeral, limits, a health check the provider waits for,
// ports published on loopback unless the stack says otherwise, and the files the server needs
// with the owner and mode it needs.
import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import { sdk } from "./sdk";

/**
 * The docker provider plugin every docker resource runs with. @pulumi/docker 5.1.0 was never
 * published to npm; the 5.2.0 package would ask for a 5.2.0 plugin, which no source here builds
 * (README: "Where the language host and the provider plugins come from"). The 5.2.0-only upload
 * fields `owner` and `group` are never set.
 */
export const DOCKER_PLUGIN = { version: "5.1.0" } as const;

export interface ContainerSettings {
  image: string;
  digest?: string;
  hostPort: number;
  memoryMb: number;
  cpus: number;
}

/** `postgres:16` + optional digest → `postgres:16@sha256:…`. */
export function imageReference(s: Pick<ContainerSettings, "image" | "digest">): string {
  return s.digest ? `${s.image}@${s.digest}` : s.image;
}

export interface DockerStoreArgs {
  /** Container and volume base name, e.g. `dev-postgres`. */
  containerName: string;
  settings: ContainerSettings;
  /** The port inside the container. */
  containerPort: number;
  bindAddress: string;
  network: pulumi.Input<string>;
  /** Where the volume is mounted. */
  dataPath: string;
  /** The volume is removed with the stack (ephemeral dev stacks only). */
  ephemeral: boolean;
  /** The image's command (what its entrypoint runs), e.g. `postgres -c config_file=…`. */
  command: string[];
  envs?: pulumi.Input<pulumi.Input<string>[]>;
  /** Files the server reads, installed with their owner and mode before the entrypoint runs. */
  files: StoreFile[];
  /** Shell run as root after the files are in place and before the entrypoint (e.g. credentials for kept data). */
  prelude?: string;
  healthcheck: string[];
  /**
   * `pulumi up` waits until Docker calls the container healthy. Docker 20.10 runs the first check a
   * whole interval (5 s) after the start, so a store whose dependents wait for it themselves (they
   * connect with a start-up wait) leaves this off and they begin as soon as it answers. Default true.
   */
  waitHealthy?: boolean;
  protect: boolean;
  parent: pulumi.Resource;
}

/**
 * What every store's docker backend passes the same way: the container's name (`<stack>-<store>`),
 * the stack's network and bind address, whether the data goes with the stack, protection, parent.
 */
export function stackContainerArgs(
  store: "postgres" | "mongo" | "redis",
  config: StackConfig,
  network: pulumi.Input<string>,
  parent: pulumi.Resource,
): Pick<DockerStoreArgs, "containerName" | "bindAddress" | "network" | "ephemeral" | "protect" | "parent"> {
  return { containerName: `${config.stack}-${store}`, bindAddress: config.docker.bindAddress, network, ephemeral: config.ephemeral, protect: config.protected, parent };
}

/** A file of the container: where, what, and the owner (`uid:gid`) and mode the server needs. */
export interface StoreFile {
  path: string;
  content: pulumi.Input<string>;
  /** Default "0:0" (root). */
  owner?: string;
  /** Default "0644". */
  mode?: string;
}

/** Where uploads land before the start script installs them (root-only once the container has started). */
export const UPLOAD_DIR = "/etc/nexus-db/files";

/**
 * The container's command: a POSIX shell script that installs the uploaded files with their owner
 * and mode (an upload cannot carry an owner for every provider release: the 5.1.0 plugin rejects
 * `owner`/`group`), runs the prelude, then hands the image's command to the image's entrypoint —
 * as `docker run image CMD` would. Runs on every start, so a restart re-installs the same files.
 */
/** A word for `sh -c`, single-quoted. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A named volume that outlives the stack unless the stack is ephemeral (a destroy then forgets it);
 * its labels cannot change in place, so toggling `ephemeral` does not replace the data.
 */
export function keptVolume(name: string, volumeName: string, a: { ephemeral: boolean; protect: boolean; parent: pulumi.Resource }): docker.Volume {
  return new sdk.docker.Volume(
    name,
    { name: volumeName, labels: [{ label: "nexus-db.ephemeral", value: String(a.ephemeral) }] },
    { ...DOCKER_PLUGIN, parent: a.parent, retainOnDelete: !a.ephemeral, protect: a.protect, ignoreChanges: ["labels"] },
  );
}

export function startCommand(files: StoreFile[], command: string[], prelude = ""): string[] {
  const lines = [
    "set -eu",
    `chmod -R go-rwx ${shellQuote(UPLOAD_DIR)}`,
    ...files.map((f) => {
      const [uid, gid] = (f.owner ?? "0:0").split(":");
      return `install -D -o ${uid} -g ${gid ?? uid} -m ${f.mode ?? "0644"} ${shellQuote(UPLOAD_DIR + f.path)} ${shellQuote(f.path)}`;
    }),
    ...(prelude ? [prelude.trim()] : []),
    'exec docker-entrypoint.sh "$@"',
  ];
  return ["sh", "-c", lines.join("\n"), "nexus-db-start", ...command];
}

/**
 * `cpus` as the provider reads it back from Docker (NanoCPUs as a decimal: "1.0", "0.5", "1.25"):
 * any other spelling is a diff after every create, and `cpus` forces a replace.
 */
export function dockerCpus(cpus: number): string {
  const nano = Math.round(cpus * 1e9);
  if (nano % 1e9 === 0) return `${nano / 1e9}.0`;
  return (nano / 1e9).toFixed(9).replace(/0+$/, "");
}

export interface DockerStore {
  image: docker.RemoteImage;
  volume: docker.Volume;
  container: docker.Container;
}

export function dockerStore(name: string, a: DockerStoreArgs): DockerStore {
  const image = new sdk.docker.RemoteImage(
    `${name}-image`,
    { name: imageReference(a.settings), keepLocally: true },
    { ...DOCKER_PLUGIN, parent: a.parent },
  );
  const volume = keptVolume(`${name}-data`, `${a.containerName}-data`, a);
  const container = new sdk.docker.Container(
    `${name}-container`,
    {
      name: a.containerName,
      image: image.imageId,
      hostname: a.containerName,
      restart: "unless-stopped",
      command: startCommand(a.files, a.command, a.prelude),
      envs: a.envs,
      memory: a.settings.memoryMb,
      // No swap for a database (and unset, Docker's default of twice the memory reads back as a diff).
      memorySwap: a.settings.memoryMb,
      cpus: dockerCpus(a.settings.cpus),
      ports: [{ internal: a.containerPort, external: a.settings.hostPort, ip: a.bindAddress, protocol: "tcp" }],
      networksAdvanced: [{ name: a.network, aliases: [a.containerName] }],
      volumes: [{ volumeName: volume.name, containerPath: a.dataPath }],
      uploads: a.files.map((f) => ({ file: UPLOAD_DIR + f.path, content: f.content })),
      healthcheck: { tests: ["CMD-SHELL", ...a.healthcheck], interval: "5s", timeout: "5s", retries: 30, startPeriod: "10s" },
      // Docker's view of the store (`docker ps`, restarts) either way; `up` waits for it only when asked.
      ...(a.waitHealthy === false ? {} : { wait: true, waitTimeout: 300 }),
      logDriver: "json-file",
      logOpts: { "max-size": "50m", "max-file": "3" },
    },
    { ...DOCKER_PLUGIN, parent: a.parent, protect: a.protect, deleteBeforeReplace: true },
  );
  return { image, volume, container };
}
