// `npx nexus-db <store> <command> [options]` — the operators' and CI's door to the same engines
// that the Pulumi providers use. Each store's commands live in cli/<store>.ts and export `run`.
import { existsSync } from "node:fs";
import * as path from "node:path";

const STORES = ["pg", "mongo", "redis"] as const;

function usage(): string {
  return [
    "usage: nexus-db <store> <command> [options]",
    "  nexus-db pg <status|plan|migrate|lint> --url <DATABASE_URL> [--dir sql/migrations]",
    "  nexus-db mongo <plan|apply|status> --url <MONGODB_URL>",
    "  nexus-db redis <render|warm|status>",
    "Run `nexus-db <store> --help` for a store's options.",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [store, ...rest] = argv;
  if (!store || store === "--help" || store === "-h") {
    console.log(usage());
    return store ? 0 : 2;
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
  const mod = (await import(file)) as { run(args: string[]): Promise<number> };
  return mod.run(rest);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`nexus-db: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
