// The PostgreSQL part of an archive on its own: the dump reaches the archive whole however late the
// archive starts taking it, the manifest's counts are of the dumped snapshot, and a restore's
// verification counts a large database on several connections.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArchiveWriter, openArchive, readArchive, type PartHeader } from "../../../engines/backup/container";
import { newArchiveKey } from "../../../engines/backup/crypto";
import { backupPostgres, balanceBySize, verifyPostgresRestore, type PostgresManifest } from "../../../engines/backup/postgres";
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

/** The manifest of a database the verification tests built by hand: only its tables matter. */
function manifestOf(tables: PostgresManifest["tables"]): PostgresManifest {
  return {
    database: "x",
    server: "x",
    serverVersionNum: 150000,
    pgDump: { version: "15", major: 15 },
    historyTable: "public.schema_migrations",
    schemaVersion: null,
    migrations: [],
    databaseBytes: 0,
    part: "postgres.dump",
    tables,
  };
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

  it("splits the verification's tables by size: the largest first, each to the lightest group", () => {
    const t = (table: string, bytes: number) => ({ table, bytes });
    expect(balanceBySize([t("a", 10), t("b", 60), t("c", 30), t("d", 25), t("e", 5)], 2)).toEqual([
      [t("b", 60), t("e", 5)],
      [t("c", 30), t("d", 25), t("a", 10)],
    ]);
    expect(balanceBySize([t("a", 1)], 4)).toEqual([[t("a", 1)]]);
    expect(balanceBySize([t("a", 1), t("b", 2)], 0)).toEqual([[t("b", 2), t("a", 1)]]);
  });

  it("sizes a partitioned table by its partitions when splitting the verification", async () => {
    const target = await freshDatabase("bk_verify_part");
    try {
      await withClient(target.url, async (c) => {
        await c.query("CREATE TABLE events (id int) PARTITION BY RANGE (id)");
        await c.query("CREATE TABLE events_1 PARTITION OF events FOR VALUES FROM (0) TO (5000)");
        await c.query("CREATE TABLE events_2 PARTITION OF events FOR VALUES FROM (5000) TO (10000)");
        await c.query("INSERT INTO events SELECT generate_series(0, 9999)");
        await c.query("CREATE TABLE small AS SELECT 1 AS id");
      });
      const m = manifestOf([
        { table: "public.events", rows: 10000 },
        { table: "public.small", rows: 1 },
      ]);
      let groups: string[][] = [];
      expect(await verifyPostgresRestore(target.url, m, undefined, { bytesPerConnection: 8192, onGroups: (g) => (groups = g) })).toEqual([]);
      // The partitioned parent has no storage of its own: sized by its own fork, it would come last.
      expect(groups).toEqual([["public.events"], ["public.small"]]);
    } finally {
      await target.drop();
    }
  });

  it("verifies a restored database on several connections at once, and names a table whose count differs", async () => {
    const target = await freshDatabase("bk_verify");
    try {
      await withClient(target.url, async (c) => {
        for (const n of ["a", "b", "c", "d", "e"]) await c.query(`CREATE TABLE ${n} AS SELECT g AS id FROM generate_series(1, 100 * ${n.charCodeAt(0) - 96}) g`);
      });
      const m = manifestOf(["a", "b", "c", "d", "e"].map((n) => ({ table: `public.${n}`, rows: 100 * (n.charCodeAt(0) - 96) })));
      const connections = async () => withClient(target.url, async (c) => Number((await c.query("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE 'nexus-db restore verify%' AND datname = current_database()")).rows[0].n));
      // One byte per connection: as many connections as allowed (4), each counting its share.
      let groups: string[][] = [];
      expect(await verifyPostgresRestore(target.url, m, undefined, { bytesPerConnection: 1, onGroups: (g) => (groups = g) })).toEqual([]);
      expect(groups).toHaveLength(4);
      expect(groups.flat().sort()).toEqual(m.tables.map((t) => t.table));
      await withClient(target.url, (c) => c.query("DELETE FROM d WHERE id <= 3"));
      expect(await verifyPostgresRestore(target.url, m, undefined, { bytesPerConnection: 1 })).toEqual(["public.d: 397 rows, the archive has 400"]);
      expect(await connections()).toBe(0); // every connection closed
    } finally {
      await target.drop();
    }
  });
});
