// Shared pieces of the Mongo suites: a client whose commands are recorded, per-test databases, and
// capability sets with one feature forced on (to see the exact command the reconciler would send).
import { MongoClient, type CommandStartedEvent, type Document } from "mongodb";
import type { Capabilities, MongoFeature } from "../../../engines/mongo";
import { MONGODB_URL, uniqueSuffix } from "../../helpers/env";

export const WRITE_COMMANDS = new Set([
  "create", "createIndexes", "collMod", "drop", "dropIndexes", "dropDatabase", "insert", "update", "delete",
  "findAndModify", "createUser", "updateUser", "dropUser", "grantRolesToUser", "revokeRolesFromUser", "renameCollection",
]);

export interface Recorder {
  client: MongoClient;
  /** Commands sent to `db` since the last reset, in order. */
  commands(db: string): CommandStartedEvent[];
  writes(db: string): { name: string; command: Document }[];
  reset(): void;
}

export async function recordingClient(url = MONGODB_URL): Promise<Recorder> {
  const client = new MongoClient(url, { monitorCommands: true, serverSelectionTimeoutMS: 10_000 });
  const log: CommandStartedEvent[] = [];
  client.on("commandStarted", (e) => log.push(e));
  await client.connect();
  return {
    client,
    commands: (db) => log.filter((e) => e.databaseName === db),
    writes: (db) =>
      log.filter((e) => e.databaseName === db && WRITE_COMMANDS.has(e.commandName)).map((e) => ({ name: e.commandName, command: stripDriverFields(e.command) })),
    reset: () => {
      log.length = 0;
    },
  };
}

/** The command as the reconciler built it, without what the driver adds ($db, lsid, $clusterTime…). */
export function stripDriverFields(cmd: Document): Document {
  return Object.fromEntries(
    Object.entries(cmd).filter(([k]) => !k.startsWith("$") && !["lsid", "txnNumber", "writeConcern", "readConcern", "apiVersion", "ordered"].includes(k)),
  );
}

export function testDatabase(): string {
  return `nexus_mongo_${uniqueSuffix()}`;
}

export function missingFeatures(caps: Capabilities): MongoFeature[] {
  return (Object.keys(caps.has) as MongoFeature[]).filter((f) => !caps.has[f]);
}

/** `caps` with `features` claimed present, so the reconciler sends their commands whatever the server says. */
export function forcing(caps: Capabilities, ...features: MongoFeature[]): Capabilities {
  return {
    ...caps,
    has: { ...caps.has, ...Object.fromEntries(features.map((f) => [f, true])) },
    ttlInPlace: caps.ttlInPlace || (features.includes("ttlIndexes") && features.includes("collMod")),
  };
}

/** Why an enforcement test is skipped on this server. */
export function lacks(caps: Capabilities, ...features: MongoFeature[]): string {
  const missing = features.filter((f) => !caps.has[f]);
  return `${caps.server} lacks ${missing.map((f) => `${f} (${caps.missing[f] ?? "not available"})`).join("; ")}`;
}
