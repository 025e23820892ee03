// Child process of the concurrency and crash tests: `tsx postgres-child.ts URL DIR SETTINGS_JSON`
// runs one migrate and prints its result as JSON; progress lines go to stderr.
import { DirectoryMigrationSource, migrate } from "../../../engines/postgres";

async function main(): Promise<number> {
  const [url, dir, settings] = process.argv.slice(2);
  const result = await migrate({
    connection: url,
    source: new DirectoryMigrationSource(dir),
    settings: JSON.parse(settings ?? "{}"),
    onProgress: (e) => process.stderr.write(`${e.phase} ${e.migration.name}\n`),
  });
  process.stdout.write(
    JSON.stringify({ ok: result.ok, applied: result.applied.map((m) => m.version), error: result.error?.message, kind: result.error?.kind }) + "\n",
  );
  return result.ok ? 0 : 1;
}

main().then((code) => process.exit(code));
