// Seed data (dev and test stacks only): each sql/seeds/*.sql runs as the owner, whole, in its own
// transaction. Seed files are written to be loaded again harmlessly (ON CONFLICT), so the provider
// reloads them when their checksum changes and never deletes rows.
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { checksumOf } from "./source";
import { connect, type ConnectionInput } from "./migrator";
import { isPgError } from "./errors";
import { lineAtPgPosition } from "./sql-text";

export interface SeedFile {
  name: string;
  file: string;
  checksum: string;
}

/** The seed files of `dir`, in name order, with their sha256. */
export function listSeeds(dir: string): SeedFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((f) => {
      const file = path.join(dir, f);
      return { name: f.replace(/\.sql$/, ""), file, checksum: checksumOf(readFileSync(file)) };
    });
}

/** Runs the seed files in order; a failure names the file and line and leaves that file's rows out. */
export async function loadSeeds(connection: ConnectionInput, seeds: SeedFile[]): Promise<{ loaded: string[] }> {
  const c = await connect(connection, "seed");
  const loaded: string[] = [];
  try {
    for (const s of seeds) {
      const sql = readFileSync(s.file, "utf8");
      if (checksumOf(sql) !== s.checksum) {
        throw new Error(`${s.file} changed while being planned (checksum ${checksumOf(sql)} ≠ ${s.checksum}); run again`);
      }
      // The file may carry its own BEGIN/COMMIT (it is also meant for psql): a simple-protocol
      // query runs it as one implicit transaction either way.
      try {
        await c.query(sql);
      } catch (err) {
        await c.query("ROLLBACK").catch(() => undefined);
        const where = isPgError(err) && err.position ? `:${lineAtPgPosition(sql, Number(err.position))}` : "";
        const code = isPgError(err) ? ` (SQLSTATE ${err.code})` : "";
        throw new Error(`seed ${s.file}${where} failed: ${(err as Error).message}${code}`);
      }
      loaded.push(s.name);
    }
  } finally {
    await c.end().catch(() => undefined);
  }
  return { loaded };
}
