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

/** The shell function each bundle calls per file: path, owner, mode, content (exact bytes). `$R` is the root (empty in a container). */
export const BUNDLE_FUNCTION = 'nexus_db_file() { (umask 022; mkdir -p "$R$(dirname "$1")"); printf \'%s\' "$4" > "$R$1"; chown "$2" "$R$1"; chmod "$3" "$R$1"; }';

/** Whether a file is for its owner alone (a key, an ACL file): such files travel in the private bundle. */
function ownerOnly(f: StoreFile): boolean {
  return /^0?[0-7]00$/.test(f.mode ?? "0644");
}

/**
 * The files as uploads: two shell scripts at most — the files readable by all, then the
 * owner-only ones (a secret as a whole) — each writing its files with their owner and mode.
 * Docker copies every upload into the container on its own (the container's file system mounted
 * for each, ≈ 0.2–0.5 s here), so five files in two uploads start a store a second or more sooner;
 * the public bundle stays readable in `pulumi preview --diff`.
 */
export function fileBundles(files: StoreFile[]): { file: string; content: pulumi.Output<string> }[] {
  return bundleParts(files).map(({ file, part }) => ({
    file,
    content: pulumi
      .all(part.map((f) => f.content))
      .apply((contents) => [...part.map((f, i) => `nexus_db_file ${shellQuote(f.path)} ${f.owner ?? "0:0"} ${f.mode ?? "0644"} ${shellQuote(contents[i])}`), ""].join("\n")),
  }));
}

/** The bundles' upload paths and their files: public first, owner-only second; none empty. */
function bundleParts(files: StoreFile[]): { file: string; part: StoreFile[] }[] {
  return [
    { file: `${UPLOAD_DIR}/files.sh`, part: files.filter((f) => !ownerOnly(f)) },
    { file: `${UPLOAD_DIR}/owner-only-files.sh`, part: files.filter(ownerOnly) },
  ].filter((b) => b.part.length > 0);
}

/**
 * The container's command: a POSIX shell script that runs the uploaded bundles (fileBundles: each
 * file written with its owner and mode — an upload cannot carry an owner for every provider
 * release: the 5.1.0 plugin rejects `owner`/`group`), runs the prelude, then hands the image's
 * command to the image's entrypoint — as `docker run image CMD` would. Runs on every start, so a
 * restart re-installs the same files.
 */
export function startCommand(files: StoreFile[], command: string[], prelude = ""): string[] {
  const lines = [
    "set -eu",
    `chmod -R go-rwx ${shellQuote(UPLOAD_DIR)}`,
    "umask 077",
    BUNDLE_FUNCTION,
    "R=",
    ...bundleParts(files).map((b) => `. ${shellQuote(b.file)}`),
    "umask 022",
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
      uploads: fileBundles(a.files),
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
