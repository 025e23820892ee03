// What the three stores share on the docker backend: a pinned image, a named volume that outlives
// `pulumi destroy` unless the stack is ephemeral, limits, a health check the provider waits for,
// ports published on loopback unless the stack says otherwise.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

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
  command?: pulumi.Input<string>[];
  envs?: pulumi.Input<pulumi.Input<string>[]>;
  uploads?: pulumi.Input<docker.types.input.ContainerUpload>[];
  healthcheck: string[];
  protect: boolean;
  parent: pulumi.Resource;
  /** Run as this user (uid:gid), when the image's entrypoint would otherwise chown the uploads. */
  user?: string;
}

export interface DockerStore {
  image: docker.RemoteImage;
  volume: docker.Volume;
  container: docker.Container;
}

export function dockerStore(name: string, a: DockerStoreArgs): DockerStore {
  const image = new docker.RemoteImage(
    `${name}-image`,
    { name: imageReference(a.settings), keepLocally: true },
    { parent: a.parent },
  );
  const volume = new docker.Volume(
    `${name}-data`,
    { name: `${a.containerName}-data`, labels: [{ label: "nexus-db.ephemeral", value: String(a.ephemeral) }] },
    // Data outlives the stack unless the stack is ephemeral: a destroy then forgets the volume.
    // A volume's labels cannot change in place: toggling `ephemeral` must not replace the data.
    { parent: a.parent, retainOnDelete: !a.ephemeral, protect: a.protect, ignoreChanges: ["labels"] },
  );
  const container = new docker.Container(
    `${name}-container`,
    {
      name: a.containerName,
      image: image.imageId,
      hostname: a.containerName,
      restart: "unless-stopped",
      command: a.command,
      envs: a.envs,
      user: a.user,
      memory: a.settings.memoryMb,
      cpus: String(a.settings.cpus),
      ports: [{ internal: a.containerPort, external: a.settings.hostPort, ip: a.bindAddress, protocol: "tcp" }],
      networksAdvanced: [{ name: a.network, aliases: [a.containerName] }],
      volumes: [{ volumeName: volume.name, containerPath: a.dataPath }],
      uploads: a.uploads,
      healthcheck: { tests: ["CMD-SHELL", ...a.healthcheck], interval: "5s", timeout: "5s", retries: 30, startPeriod: "10s" },
      // `pulumi up` returns only when the store is healthy: what depends on it can connect.
      wait: true,
      waitTimeout: 300,
      logDriver: "json-file",
      logOpts: { "max-size": "50m", "max-file": "3" },
    },
    { parent: a.parent, protect: a.protect, deleteBeforeReplace: true },
  );
  return { image, volume, container };
}
