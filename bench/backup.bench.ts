// The PostgreSQL part of `nexus-db backup` and `restore` against bare `pg_dump -Fc` and
// `pg_restore` of the same database, rotating rounds, at two data sizes. Goal: ≤ 1.1× each. Ours is
// measured three ways: with a generated key (`nexus-db backup-key`, no scrypt), as one CLI run with
// it; with a passphrase, its key derived first (scrypt, as one CLI run does); and with a passphrase
// whose key was derived before in the same process (the scheduled backup container; a restore of
// its own archive).
// Ours includes what the bare tools do not: the exported snapshot and row counts, encryption and
// SHA-256 (backup); the authentication pass over the whole archive, the target checks, one
// transaction and the row-count verification (restore). The peak RSS of a backup process is
// measured in a child process per size: flat means streaming (a bigger database, same memory).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createBackup, findPgTool, restoreBackup } from "../engines/backup";
import { forgetDerivedKeys, generateArchiveKey } from "../engines/backup/crypto";
import { DATABASE_URL } from "../tests/helpers/env";
import { freshDatabase, withClient, type FreshDatabase } from "../tests/helpers/pg";
import { generateRows, platformSchema } from "../tests/engines/backup/data";
import { median, report, timeMs } from "./run";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const SIZES = (process.env.BENCH_BACKUP_USERS ?? "8000,40000").split(",").map(Number);
const KEY = "benchmark key, long enough to pass";
const GENERATED = generateArchiveKey();

/**
 * The server's dirty pages written out before a timed phase: the last round's DROP DATABASEs and
 * restores leave a checkpoint's worth of writes that would otherwise land on whichever side runs first.
 */
async function settle(): Promise<void> {
  await withClient(DATABASE_URL, (c) => c.query("CHECKPOINT"));
}

// This process's own garbage (the archives the restores before read, the rows the checks fetched)
// is collected before each timed call, as a CLI run starts without any: otherwise a major GC lands
// inside whichever call comes next.
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

function run(file: string, args: string[]): void {
  const r = spawnSync(file, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${path.basename(file)} failed: ${r.stderr}`);
}

/** A child process that only backs up, and reports its peak RSS (the bench's own memory left out). */
function backupRss(url: string, file: string): { rssMb: number; ms: number } {
  const code = `
    const { createBackup } = require(${JSON.stringify(path.join(__dirname, "../engines/backup"))});
    const t = Date.now();
    createBackup({ file: ${JSON.stringify(file)}, passphrase: ${JSON.stringify(KEY)}, targets: { postgres: { url: ${JSON.stringify(url)} } } })
      .then(() => console.log(JSON.stringify({ rssKb: process.resourceUsage().maxRSS, ms: Date.now() - t })))
      .catch((e) => { console.error(e); process.exit(1); });`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", code], { encoding: "utf8", cwd: path.join(__dirname, "..") });
  if (r.status !== 0) throw new Error(`backup child failed: ${r.stderr}`);
  const j = JSON.parse(r.stdout.trim().split("\n").pop()!) as { rssKb: number; ms: number };
  return { rssMb: j.rssKb / 1024, ms: j.ms };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "nexus-bench-backup-"));
  const sources: FreshDatabase[] = [];
  const rss: string[] = [];
  try {
    for (const users of SIZES) {
      const src = await freshDatabase("bench_bk");
      sources.push(src);
      await platformSchema(src.url);
      const rows = await generateRows(src.url, users);
      const pgDump = findPgTool("pg_dump", 0).path;
      const pgRestore = findPgTool("pg_restore", 0).path;
      const archive = path.join(dir, `ours-${users}.nxdb`);
      const generatedArchive = path.join(dir, `ours-generated-${users}.nxdb`);
      const dump = path.join(dir, `bare-${users}.dump`);
      const variants = ["Generated", "Cold", "Warm"] as const;
      const times = Object.fromEntries(
        ["dump", "pgRestore", ...variants.flatMap((v) => [`backup${v}`, `restore${v}`])].map((k) => [k, [] as number[]]),
      ) as Record<"dump" | "pgRestore" | `${"backup" | "restore"}${(typeof variants)[number]}`, number[]>;
      const timed = (fn: () => Promise<unknown>) => (collectGarbage(), timeMs(fn));
      for (let round = 0; round <= ROUNDS; round++) {
        // Round 0 warms the page cache and every code path; it is not counted. The order rotates.
        // "cold": the archive key is derived from the passphrase first (scrypt), as in one CLI run;
        // "warm": the process has derived it before (the scheduled backup container, a restore of
        // an archive it wrote) — each archive still gets a key of its own.
        const backups: [keyof typeof times, () => Promise<unknown>][] = [
          ["dump", async () => run(pgDump, ["-Fc", "-f", dump, "-d", src.url])],
          ["backupCold", () => (forgetDerivedKeys(), createBackup({ file: archive, passphrase: KEY, targets: { postgres: { url: src.url } } }))],
          ["backupWarm", () => createBackup({ file: archive, passphrase: KEY, targets: { postgres: { url: src.url } } })],
          ["backupGenerated", () => createBackup({ file: generatedArchive, passphrase: GENERATED, targets: { postgres: { url: src.url } } })],
        ];
        const got: Partial<Record<keyof typeof times, number>> = {};
        await settle();
        for (let i = 0; i < backups.length; i++) {
          const [k, fn] = backups[(i + round) % backups.length];
          got[k] = await timed(fn);
        }
        const targets = await Promise.all([freshDatabase("bench_rs"), freshDatabase("bench_rs"), freshDatabase("bench_rs"), freshDatabase("bench_rs")]);
        try {
          const ours = (url: string, file = archive, passphrase = KEY) => async () => {
            const r = await restoreBackup({ file, passphrase, targets: { postgres: { url } } });
            if (r.mismatches.length) throw new Error(r.mismatches.join("; "));
          };
          const restores: [keyof typeof times, () => Promise<unknown>][] = [
            ["pgRestore", async () => run(pgRestore, ["--exit-on-error", "-d", targets[0].url, dump])],
            ["restoreCold", () => (forgetDerivedKeys(), ours(targets[1].url)())],
            ["restoreWarm", ours(targets[2].url)],
            ["restoreGenerated", ours(targets[3].url, generatedArchive, GENERATED)],
          ];
          await settle();
          for (let i = 0; i < restores.length; i++) {
            const [k, fn] = restores[(i + round) % restores.length];
            got[k] = await timed(fn);
          }
        } finally {
          await Promise.all(targets.map((t) => t.drop()));
        }
        const f = (k: keyof typeof times) => got[k]!.toFixed(0);
        console.log(
          `${rows} rows, round ${round}${round === 0 ? " (warm-up)" : ""}: backup ${f("backupGenerated")} generated key / ${f("backupCold")} passphrase / ${f("backupWarm")} passphrase derived before, ms, vs pg_dump ${f("dump")} ms; ` +
            `restore ${f("restoreGenerated")} / ${f("restoreCold")} / ${f("restoreWarm")} ms vs pg_restore ${f("pgRestore")} ms`,
        );
        if (round > 0) for (const k of Object.keys(times) as (keyof typeof times)[]) times[k].push(got[k]!);
      }
      const m = backupRss(src.url, path.join(dir, `rss-${users}.nxdb`));
      rss.push(`${rows} rows (${(statSync(dump).size / 1048576).toFixed(1)} MiB dump): ${m.rssMb.toFixed(0)} MiB`);
      console.log(`peak RSS of a backup process, ${rows} rows: ${m.rssMb.toFixed(0)} MiB (${m.ms} ms)`);
      const sizes = `archive ${(statSync(archive).size / 1048576).toFixed(1)} MiB, pg_dump -Fc ${(statSync(dump).size / 1048576).toFixed(1)} MiB`;
      const list = (k: keyof typeof times) => times[k].map((x) => x.toFixed(0)).join(", ");
      for (const [variant, what] of [
        ["Generated", "generated key, as one CLI run"],
        ["Cold", "passphrase, key derived first, as one CLI run"],
        ["Warm", "passphrase, key derived before in this process, as the scheduled container"],
      ] as const) {
        report({
          name: `backup, PostgreSQL part, ${rows} generated rows, ${what}: nexus-db vs pg_dump -Fc`,
          ours: median(times[`backup${variant}`]),
          baseline: median(times.dump),
          unit: "ms",
          goal: 1.1,
          note: `median of ${ROUNDS} rotating rounds; ${sizes}; peak RSS of a backup process ${m.rssMb.toFixed(0)} MiB; ours ${list(`backup${variant}`)}, pg_dump ${list("dump")}`,
        });
        report({
          name: `restore, PostgreSQL part, ${rows} generated rows, ${what}: nexus-db vs pg_restore`,
          ours: median(times[`restore${variant}`]),
          baseline: median(times.pgRestore),
          unit: "ms",
          goal: 1.1,
          note: `median of ${ROUNDS} rotating rounds; ours includes the authentication pass, target checks, one transaction and the row-count check; ours ${list(`restore${variant}`)}, pg_restore ${list("pgRestore")}`,
        });
      }
    }
    console.log(`peak RSS of the backup process by data size: ${rss.join("; ")}`);
  } finally {
    for (const s of sources) await s.drop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
