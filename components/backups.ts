// `nexus:db:ScheduledBackups`: the docker stacks' daily backups as a stack resource — a container of
// the project's backup image on the stack's network that runs `nexus-db backup --daily-at` (the
// same engine as the CLI) over the stores on the docker backend, writes encrypted archives to a
// named volume or a host folder and applies the retention (keep N daily, M weekly). The archive key
// (the secret `backupKey`) and the stores' credentials reach it as secret uploads and environment,
// as every other container's passwords do: never plain text in the state.
import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import { DOCKER_PLUGIN, imageReference, keptVolume, shellQuote } from "./docker-store";
import { sdk } from "./sdk";

/** Where the archives are, inside the container. */
export const ARCHIVE_DIR = "/backups";
/** The uid the backup runs as (the image's `nexus` user): the key and the archives are its alone. */
export const BACKUP_UID = 10001;
/** The backup user's home in the image (where the CLI is installed). */
const BACKUP_HOME = "/opt/nexus-db";
const FILES = "/etc/nexus-db/files";
const KEY_FILE = "/run/nexus-db/backup.key";
const CA_FILE = "/etc/nexus-db/ca.pem";

/** The archives' file names start with this (the retention touches no other file). */
export function archiveLabel(stack: string): string {
  return `nexus-db-${stack}`;
}

/** The `nexus-db backup` command line of the container: the schedule, the retention, the files. */
export function scheduledBackupCommand(cfg: StackConfig): string[] {
  const b = cfg.backups;
  return [
    "nexus-db",
    "backup",
    "--env",
    "--ca",
    CA_FILE,
    "--key-file",
    KEY_FILE,
    "--out-dir",
    ARCHIVE_DIR,
    "--label",
    archiveLabel(cfg.stack),
    "--keep-daily",
    String(b.keepDaily),
    "--keep-weekly",
    String(b.keepWeekly),
    "--daily-at",
    b.dailyAt,
    ...(b.runOnStart ? ["--now"] : []),
  ];
}

/**
 * The container's command: as root, install the key (owner-only) and the CA from the uploads and
 * hand the archive folder to the backup user; then run the schedule as that user.
 */
export function scheduledBackupStart(cfg: StackConfig): string[] {
  const script = [
    "set -eu",
    `chmod -R go-rwx ${FILES}`,
    `install -D -o ${BACKUP_UID} -g ${BACKUP_UID} -m 0400 ${FILES}${KEY_FILE} ${KEY_FILE}`,
    `install -D -o 0 -g 0 -m 0644 ${FILES}${CA_FILE} ${CA_FILE}`,
    `chown ${BACKUP_UID}:${BACKUP_UID} ${ARCHIVE_DIR} && chmod 0700 ${ARCHIVE_DIR}`,
    // HOME is the backup user's: libpq refuses to run when it cannot look into ~/.postgresql (root's).
    `exec setpriv --reuid=${BACKUP_UID} --regid=${BACKUP_UID} --clear-groups env HOME=${BACKUP_HOME} ${scheduledBackupCommand(cfg).map(shellQuote).join(" ")}`,
  ].join("\n");
  return ["sh", "-c", script];
}

/** The stores the container backs up, each by a URL that names its container on the stack's network (secrets). */
export interface ScheduledBackupStores {
  postgres?: pulumi.Input<string>;
  mongo?: pulumi.Input<string>;
  redis?: pulumi.Input<string>;
}

export interface ScheduledBackupsArgs {
  /** The parsed stack config (`backups`, the stack's name, `ephemeral`, `protected`). Required. */
  config: StackConfig;
  /** The stack's docker network. Required. */
  network: pulumi.Input<string>;
  /** The CA the stores' certificates are checked against. Required (the docker stores use TLS). */
  caCertPem: pulumi.Input<string>;
  /** The archive key (the secret `backupKey`). Required. */
  backupKey: pulumi.Input<string>;
  /** At least one store. */
  stores: ScheduledBackupStores;
}

export class ScheduledBackups extends pulumi.ComponentResource {
  readonly container: docker.Container;
  /** The named volume holding the archives (absent with `backups.hostPath`). */
  readonly volume?: docker.Volume;
  /** Where the archives are: "volume <name>" or "host folder <path>". */
  readonly destination: string;

  constructor(name: string, args: ScheduledBackupsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("nexus:db:ScheduledBackups", name, {}, opts);
    const cfg = args.config;
    const b = cfg.backups;
    if (!b.image) throw new Error("nexus-db:backups.image: required when backups.enabled (bash scripts/images.sh config <stack>)");
    const envs = (
      [
        ["DATABASE_URL", args.stores.postgres],
        ["MONGODB_URL", args.stores.mongo],
        ["REDIS_URL", args.stores.redis],
      ] as const
    )
      .filter(([, url]) => url !== undefined)
      .map(([k, url]) => pulumi.secret(pulumi.interpolate`${k}=${url}`));
    if (envs.length === 0) throw new Error("nexus-db:backups.enabled: no store on the docker backend to back up");

    const image = new sdk.docker.RemoteImage(`${name}-image`, { name: imageReference({ image: b.image }), keepLocally: true }, { ...DOCKER_PLUGIN, parent: this });
    let mount: docker.types.input.ContainerVolume;
    if (b.hostPath) {
      mount = { hostPath: b.hostPath, containerPath: ARCHIVE_DIR };
      this.destination = `host folder ${b.hostPath}`;
    } else {
      // The archives outlive the stack unless it is ephemeral, as the stores' data does.
      this.volume = keptVolume(`${name}-archives`, `${cfg.stack}-backups`, { ephemeral: cfg.ephemeral, protect: cfg.protected, parent: this });
      mount = { volumeName: this.volume.name, containerPath: ARCHIVE_DIR };
      this.destination = `volume ${cfg.stack}-backups`;
    }

    this.container = new sdk.docker.Container(
      `${name}-container`,
      {
        name: `${cfg.stack}-backup`,
        image: image.imageId,
        hostname: `${cfg.stack}-backup`,
        restart: "unless-stopped",
        command: scheduledBackupStart(cfg),
        envs,
        uploads: [
          { file: `${FILES}${KEY_FILE}`, content: pulumi.secret(args.backupKey) },
          { file: `${FILES}${CA_FILE}`, content: args.caCertPem },
        ],
        memory: b.memoryMb,
        memorySwap: b.memoryMb,
        // No published port: it only connects out, to the stores on the stack's network.
        networksAdvanced: [{ name: args.network, aliases: [`${cfg.stack}-backup`] }],
        volumes: [mount],
        logDriver: "json-file",
        logOpts: { "max-size": "10m", "max-file": "3" },
      },
      // The policy pack counts every container of a protected stack as data-bearing.
      { ...DOCKER_PLUGIN, parent: this, deleteBeforeReplace: true, protect: cfg.protected },
    );
    this.registerOutputs({ destination: this.destination });
  }
}
