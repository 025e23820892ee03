// Where migrations come from: `NNN_name.sql` files (and optional `NNN_name.down.sql`) in one
// directory. The migrator only sees the `MigrationSource` interface, so tests and the provider can
// hand it migrations from anywhere.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { MigrationError } from "./errors";

/** What the history table and the Pulumi state record about a migration. */
export interface MigrationRef {
  /** The number before the first underscore of the file name, e.g. 3 for `003_blockchain.sql`. */
  version: number;
  /** The file name without `.sql`, e.g. `003_blockchain`; settings refer to migrations by it. */
  name: string;
  /** `sha256:<hex>` of the file's bytes. */
  checksum: string;
}

/** One migration with its text: the up file and, when there is one, its down file. */
export interface Migration extends MigrationRef {
  /** Path of the up file for messages, relative to the working directory when inside it. */
  file: string;
  sql: string;
  /** False when the file starts with `-- nexus:no-transaction` (e.g. CREATE INDEX CONCURRENTLY). */
  transactional: boolean;
  down?: {
    file: string;
    sql: string;
    checksum: string;
    transactional: boolean;
  };
}

/** Supplies the migrations, sorted by version. */
export interface MigrationSource {
  /** Where the migrations live, for messages (a directory for files). */
  readonly location: string;
  getMigrations(): Promise<Migration[]>;
}

const UP = /^(\d+)_([A-Za-z0-9][A-Za-z0-9_-]*)\.sql$/;
const DOWN = /^(\d+)_([A-Za-z0-9][A-Za-z0-9_-]*)\.down\.sql$/;
const DIRECTIVE = /^--\s*nexus:([a-z-]+)\s*$/;
const KNOWN_DIRECTIVES = new Set(["no-transaction"]);

/** `sha256:<hex>` of `content`. */
export function checksumOf(content: string | Buffer): string {
  return `sha256:${createHash("sha256").update(content).digest("hex")}`;
}

/** A path for messages: relative to the working directory when it is inside it. */
export function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : p;
}

/**
 * Reads the `-- nexus:…` directives from the comment lines at the top of a file. Unknown ones
 * are an error, so a typo cannot silently put a CONCURRENTLY index inside a transaction.
 */
export function directivesOf(sql: string, file: string): Set<string> {
  const found = new Set<string>();
  const lines = sql.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    if (!line.startsWith("--")) break;
    const m = DIRECTIVE.exec(line);
    if (!m) continue;
    if (!KNOWN_DIRECTIVES.has(m[1])) {
      throw new MigrationError("source", `${file}:${i + 1}: unknown directive "-- nexus:${m[1]}" (known: ${[...KNOWN_DIRECTIVES].map((d) => `-- nexus:${d}`).join(", ")})`, { file, line: i + 1 });
    }
    found.add(m[1]);
  }
  return found;
}

/** Builds a migration from file contents (the directory source and tests use it). */
export function migrationFromText(args: {
  version: number;
  name: string;
  file: string;
  content: Buffer | string;
  down?: { file: string; content: Buffer | string };
}): Migration {
  const sql = stripBom(args.content.toString());
  const migration: Migration = {
    version: args.version,
    name: args.name,
    checksum: checksumOf(args.content),
    file: args.file,
    sql,
    transactional: !directivesOf(sql, args.file).has("no-transaction"),
  };
  if (args.down) {
    const downSql = stripBom(args.down.content.toString());
    migration.down = {
      file: args.down.file,
      sql: downSql,
      checksum: checksumOf(args.down.content),
      transactional: !directivesOf(downSql, args.down.file).has("no-transaction"),
    };
  }
  return migration;
}

function stripBom(s: string): string {
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

/** Migrations from `NNN_name.sql` / `NNN_name.down.sql` files in `dir`. */
export class DirectoryMigrationSource implements MigrationSource {
  readonly location: string;
  constructor(readonly dir: string) {
    this.location = displayPath(dir);
  }

  async getMigrations(): Promise<Migration[]> {
    return this.readSync();
  }

  /** The migrations, read synchronously (the Pulumi program needs the list while it registers resources). */
  readSync(): Migration[] {
    let entries: string[];
    try {
      entries = readdirSync(this.dir);
    } catch (err) {
      throw new MigrationError("source", `cannot read the migrations directory ${this.location}: ${(err as Error).message}`, { file: this.location });
    }
    const ups = new Map<number, { name: string; file: string }>();
    const downs = new Map<number, { name: string; file: string }>();
    const problems: string[] = [];
    for (const entry of entries.sort()) {
      if (!entry.endsWith(".sql")) continue; // READMEs and the like live here too
      const full = path.join(this.dir, entry);
      const down = DOWN.exec(entry);
      const up = down ? null : UP.exec(entry);
      const m = down ?? up;
      if (!m) {
        problems.push(`${displayPath(full)}: not a migration file name; expected NNN_name.sql or NNN_name.down.sql`);
        continue;
      }
      const version = Number(m[1]);
      const into = down ? downs : ups;
      const other = into.get(version);
      if (other) {
        problems.push(`${displayPath(full)}: version ${version} is also used by ${displayPath(other.file)}; each version must be unique`);
        continue;
      }
      into.set(version, { name: `${m[1]}_${m[2]}`, file: full });
    }
    for (const [version, d] of downs) {
      const up = ups.get(version);
      if (!up) problems.push(`${displayPath(d.file)}: down file without an up file ${d.name}.sql`);
      else if (up.name !== d.name) problems.push(`${displayPath(d.file)}: down file does not match its up file ${displayPath(up.file)} (names differ)`);
    }
    if (problems.length > 0) {
      throw new MigrationError("source", `invalid migrations in ${this.location}:\n  ${problems.join("\n  ")}`, { file: this.location });
    }
    const versions = [...ups.keys()].sort((a, b) => a - b);
    // Synchronous reads: a thousand small files read this way take a tenth of the time that as
    // many promise-based reads (four thread-pool hops each) do, and this is every preview's cost.
    return versions.map((version) => {
      const up = ups.get(version)!;
      const down = downs.get(version);
      return migrationFromText({
        version,
        name: up.name,
        file: displayPath(up.file),
        content: readFileSync(up.file),
        down: down ? { file: displayPath(down.file), content: readFileSync(down.file) } : undefined,
      });
    });
  }
}

/** Migrations given in memory (tests, generated benchmarks). */
export class StaticMigrationSource implements MigrationSource {
  constructor(
    private readonly migrations: Migration[],
    readonly location = "(in memory)",
  ) {}
  async getMigrations(): Promise<Migration[]> {
    return [...this.migrations].sort((a, b) => a.version - b.version);
  }
}

/** The (version, name, checksum) list that the Pulumi resource carries as an input. */
export function migrationRefs(migrations: readonly Migration[]): MigrationRef[] {
  return migrations.map(({ version, name, checksum }) => ({ version, name, checksum }));
}
