// The PostgreSQL part of an archive on its own: the dump reaches the archive whole however late the
// archive starts taking it, and the manifest's counts are of the dumped snapshot.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArchiveWriter, openArchive, readArchive, type PartHeader } from "../../../engines/backup/container";
import { newArchiveKey } from "../../../engines/backup/crypto";
import { backupPostgres } from "../../../engines/backup/postgres";
import { freshDatabase, withClient, type FreshDatabase } from "../../helpers/pg";

const PASS = "postgres part test passphrase";

/** An archive writer whose first part starts only after `delayMs`: what a slow key derivation looks like. */
class LateWriter extends ArchiveWriter {
  constructor(
    file: string,
    key: Parameters<typeof newArchiveKey>[0],
    private readonly delayMs: number,
  ) {
    super(file, newArchiveKey(key, { scryptLog2N: 10 }));
  }
  override async beginPart(header: PartHeader): Promise<void> {
    await new Promise((r) => setTimeout(r, this.delayMs));
    return super.beginPart(header);
  }
}

async function dumpBytes(file: string): Promise<Buffer> {
  const key = await openArchive(file, PASS);
  const bufs: Buffer[] = [];
  await readArchive(file, key, async (p) => {
    for await (const c of p.chunks()) bufs.push(c);
  });
  return Buffer.concat(bufs);
}

describe("the PostgreSQL part", () => {
  let db: FreshDatabase;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "nexus-backup-pgpart-"));
    db = await freshDatabase("bk_part");
    await withClient(db.url, async (c) => {
      await c.query("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)");
      await c.query("INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, 250) g");
    });
  });
  afterAll(async () => {
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("keeps a small database's dump when pg_dump has exited before the part starts", async () => {
    const file = path.join(dir, "late.nxdb");
    // pg_dump of 250 rows is done in well under two seconds; the part starts only then.
    const writer = new LateWriter(file, PASS, 2000);
    const m = await backupPostgres(writer, { url: db.url });
    await writer.finish({ parts: writer.parts });
    expect(m.tables).toEqual([{ table: "public.notes", rows: 250 }]);
    const dump = await dumpBytes(file);
    expect(dump.subarray(0, 5).toString()).toBe("PGDMP");
    expect(writer.parts[0].bytes).toBe(dump.length);
  });
});
