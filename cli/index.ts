// `npx nexus-db <store> <command> [options]` — the operators' and CI's door to the same engines
// that the Pulumi providers use. Each store's commands live in cli/<store>.ts and export `run`;
// the day-2 commands over all three stores (backup, restore, doctor, stats) are top-level.
import { existsSync } from "node:fs";
import * as path from "node:path";
import { loadEnvFiles } from "./tls";

const STORES = ["pg", "mongo", "redis"] as const;

/** Top-level commands over every store: the module that runs each, its exported function, and whether it takes stores (`--env` and the like). */
const DAY2: Record<string, { file: string; fn: string; noTargets?: true }> = {
  backup: { file: "backup", fn: "runBackup" },
  restore: { file: "backup", fn: "runRestore" },
  "backup-key": { file: "backup", fn: "runBackupKey", noTargets: true },
  doctor: { file: "doctor", fn: "runDoctor" },
  stats: { file: "stats", fn: "runStats" },
};

function usage(): string {
  return [
    "usage: nexus-db <store> <command> [options]",
    "  nexus-db pg <status|plan|migrate|lint> --url <DATABASE_URL> [--dir sql/migrations]",
    "  nexus-db mongo <plan|apply|status> --url <MONGODB_URL>",
    "  nexus-db redis <render|warm|status|layout>",
    "  nexus-db backup  (--stack S | --env | --url URL…) [--out FILE]   encrypted archive of the three stores",
    "  nexus-db restore FILE (--stack S | --env | --url URL…) [--replace]",
    "  nexus-db backup-key   a new generated archive key, for the stack's backupKey secret",
    "  nexus-db doctor  (--stack S | --env | --url URL…)   OK/WARN/FAIL checks, exit 1 on FAIL",
    "  nexus-db stats   (--stack S | --env | --url URL…) [--json]",
    "Every command takes --ca FILE (default: $NEXUS_DB_CA_FILE) and --env-file FILE (the .env of `npm run env`).",
    "Run `nexus-db <store|command> --help` for its options.",
  ].join("\n");
}

/**
 * A day-2 command given `--env-file` and no other place for its stores takes them from that file,
 * as `--env` would: `nexus-db doctor --env-file .env` checks the stores the .env names.
 */
function withEnvTargets(args: string[]): string[] {
  const placed = args.some((a) => /^--(env|stack|url)(=|$)/.test(a) || /^-s/.test(a));
  return placed ? args : [...args, "--env"];
}

export async function main(argv: string[]): Promise<number> {
  let args: string[];
  let envFiles: string[];
  try {
    ({ args, files: envFiles } = loadEnvFiles(argv));
  } catch (err) {
    console.error(`nexus-db: ${(err as Error).message}`);
    return 2;
  }
  const [store, ...rest] = args;
  if (!store || store === "--help" || store === "-h") {
    console.log(usage());
    return store ? 0 : 2;
  }
  const day2 = DAY2[store];
  if (day2) {
    // require, not import(): the CLI runs under tsx's require hook only (bin/nexus-db.cjs).
    const mod = require(path.join(__dirname, `${day2.file}.ts`)) as Record<string, (args: string[]) => Promise<number>>;
    return mod[day2.fn](envFiles.length > 0 && !day2.noTargets ? withEnvTargets(rest) : rest);
  }
  if (!(STORES as readonly string[]).includes(store)) {
    console.error(`nexus-db: unknown store "${store}"\n${usage()}`);
    return 2;
  }
  const file = path.join(__dirname, `${store}.ts`);
  if (!existsSync(file)) {
    console.error(`nexus-db: the ${store} commands are not part of this build`);
    return 2;
  }
  const mod = require(file) as { run(args: string[]): Promise<number> };
  return mod.run(rest);
}

/** Runs the CLI with these arguments and exits the process with its status. */
export function runCli(argv: string[]): void {
  main(argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`nexus-db: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}

if (require.main === module) runCli(process.argv.slice(2));
