// `nexus-db backup` and `nexus-db restore`: one encrypted archive of the three stores, and its
// restore (verified first, every target checked before anything is written or committed).
import { existsSync, rmSync } from "node:fs";
import * as path from "node:path";
import { createBackup, restoreBackup, verifyBackup, type BackupManifest, type ProgressEvent, type StoreTargets } from "../engines/backup";
import { generateArchiveKey } from "../engines/backup/crypto";
import { archiveStamp, nextDailyRun, pruneArchives, type RetentionPolicy } from "../engines/backup/retention";
import { parseOptions } from "./args";
import { fail, humanBytes, resolveKey, resolveTargets, table, TARGET_OPTIONS, TARGET_USAGE, UsageError } from "./targets";

const PROJECT = path.resolve(__dirname, "..");

const BACKUP_USAGE = `usage: nexus-db backup (--stack S | --env | --url URL…) [--out FILE] [options]
  Writes one encrypted archive of every store given: the PostgreSQL dump (pg_dump -Fc), each
  MongoDB collection with its options, validator and indexes, every Redis key with its TTL, and a
  manifest (versions, schema version, migration checksums, warmup version, counts, SHA-256 of each part).
${TARGET_USAGE}
options:
  --out FILE                the archive (default: <label>-<UTC time>.nxdb in --out-dir or here)
  --out-dir DIR             the folder the archive is written to, named <label>-<UTC time>.nxdb
  --label NAME              the archive name's prefix (default: nexus-db-<stack or "backup">)
  --keep-daily N            with --out-dir: afterwards, keep the newest archive of each of the last N
                            days (UTC) and, with --keep-weekly M, of each of the last M ISO weeks;
                            remove the label's other archives there (nothing else is touched)
  --keep-weekly M           see --keep-daily (default 0)
  --daily-at HH:MM          keep running: one backup (and pruning) every day at HH:MM UTC; a failed
                            run is reported and the next one still happens (the scheduled backup container)
  --now                     with --daily-at: also take one backup at once
  --key-file FILE           the key: a generated one (\`nexus-db backup-key\`) or a passphrase of 16+
                            characters (default: $NEXUS_BACKUP_KEY, or the stack's backupKey secret)
  --quiet                   no progress lines
  --json                    print the manifest as JSON`;

const KEY_USAGE = `usage: nexus-db backup-key
  Prints a new generated archive key (nxdbk1- and 32 random bytes) for the stack's backupKey secret:
    pulumi config set --secret backupKey "$(npx nexus-db backup-key)" --stack S
  A generated key seals and opens archives at once; a passphrase is stretched with scrypt first
  (some 80 ms of CPU per run). Keep the key: an archive opens with the key it was written with only.`;

/** \`nexus-db backup-key\`: a new generated archive key on stdout. */
export async function runBackupKey(args: string[]): Promise<number> {
  const parsed = parseOptions("backup-key", args, {}, KEY_USAGE);
  if ("exit" in parsed) return parsed.exit;
  console.log(generateArchiveKey());
  return 0;
}

const RESTORE_USAGE = `usage: nexus-db restore FILE (--stack S | --env | --url URL…) [options]
  Authenticates the whole archive (wrong key, damage, truncation: refused, nothing written),
  checks every target (empty; not at a newer schema version; client tools new enough), then
  restores and compares the counts with the manifest. PostgreSQL is loaded while the archive is
  authenticated, in one transaction that commits only after all of it and every target passed.
${TARGET_USAGE}
options:
  --key-file FILE           the key the archive was written with (default: $NEXUS_BACKUP_KEY, or the
                            stack's backupKey secret)
  --replace                 restore into non-empty targets: PostgreSQL objects of the archive are
                            dropped and recreated, its Mongo collections dropped and reloaded, its
                            Redis keys overwritten; nothing else is touched. Never onto a newer schema.
  --no-owner                PostgreSQL: leave out ownership and grants (the target lacks the roles)
  --verify-only             authenticate the archive and print its manifest; touch no store
  --quiet                   no progress lines
  --json                    print the result as JSON`;

export async function runBackup(args: string[]): Promise<number> {
  const parsed = parseOptions(
    "backup",
    args,
    {
      ...TARGET_OPTIONS,
      out: { type: "string", short: "o" },
      "out-dir": { type: "string" },
      label: { type: "string" },
      "keep-daily": { type: "string" },
      "keep-weekly": { type: "string" },
      "daily-at": { type: "string" },
      now: { type: "boolean" },
      "key-file": { type: "string" },
      quiet: { type: "boolean" },
    },
    BACKUP_USAGE,
  );
  if ("exit" in parsed) return parsed.exit;
  const o = parsed.values;
  let resolved;
  try {
    const plan = backupPlan(o);
    resolved = resolveTargets(o, PROJECT);
    if (!resolved.targets.postgres && !resolved.targets.mongo && !resolved.targets.redis) throw new UsageError(`no store given\n${BACKUP_USAGE}`);
    const passphrase = resolveKey(o, PROJECT);
    const targets = resolved.targets;
    const source = resolved.source;
    let current: string | undefined;
    const once = async () => {
      const file = plan.file(new Date());
      current = file;
      const progress = o.quiet || o.json || plan.dailyAt ? undefined : progressPrinter();
      const started = Date.now();
      const r = await createBackup({ file, passphrase, targets, tool: `nexus-db ${version()}`, onProgress: progress });
      progress?.({ done: true });
      if (o.json) console.log(JSON.stringify(r.manifest, null, 2));
      else {
        if (!plan.dailyAt) printManifest(r.manifest);
        console.log(`wrote ${r.file} (${humanBytes(r.bytes)}, encrypted) in ${((Date.now() - started) / 1000).toFixed(1)} s from ${source}`);
      }
      if (plan.retention) {
        const p = pruneArchives(plan.dir, plan.label, plan.retention);
        console.log(`retention (${plan.retention.keepDaily} daily, ${plan.retention.keepWeekly} weekly): kept ${p.kept.length}, removed ${p.removed.length}${p.removed.length ? `: ${p.removed.join(", ")}` : ""}`);
      }
    };
    if (!plan.dailyAt) {
      await once();
      return 0;
    }
    console.log(`scheduled: a backup of ${storesOf(targets)} every day at ${plan.dailyAt} UTC into ${plan.dir}`);
    // Stopped (docker stop, Ctrl-C) in the middle of a run: no half-written archive is left behind.
    for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
      process.once(signal, () => {
        if (current) rmSync(`${current}.partial`, { force: true });
        process.exit(code);
      });
    }
    for (let first = true; ; first = false) {
      if (!(first && o.now)) {
        const next = nextDailyRun(new Date(), plan.dailyAt);
        await new Promise((r) => setTimeout(r, next.getTime() - Date.now()));
      }
      // A failed run is reported; the schedule goes on (the next day's run may well succeed).
      await once().catch((err: unknown) => console.error(`nexus-db backup: the run of ${new Date().toISOString()} failed: ${err instanceof Error ? err.message : String(err)}`));
    }
  } catch (err) {
    return fail("backup", err);
  } finally {
    resolved?.cleanup();
  }
}

interface BackupPlan {
  dir: string;
  label: string;
  file(at: Date): string;
  retention?: RetentionPolicy;
  dailyAt?: string;
}

/** Where the archives go, how many are kept, when it runs; usage errors before anything connects. */
function backupPlan(o: { out?: string; "out-dir"?: string; label?: string; stack?: string; "keep-daily"?: string; "keep-weekly"?: string; "daily-at"?: string; now?: boolean }): BackupPlan {
  const count = (flag: string, v: string | undefined, min: number) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`--${flag} ${v}: a whole number of at least ${min}`);
    return Number(v);
  };
  const label = o.label ?? `nexus-db-${o.stack ?? "backup"}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(label)) throw new UsageError(`--label ${label}: letters, digits, '.', '_' and '-' only (it starts every archive's file name)`);
  if (o.out && o["out-dir"]) throw new UsageError("give --out FILE or --out-dir DIR, not both");
  const keepDaily = count("keep-daily", o["keep-daily"], 1);
  const keepWeekly = count("keep-weekly", o["keep-weekly"], 0);
  if (keepWeekly !== undefined && keepDaily === undefined) throw new UsageError("--keep-weekly needs --keep-daily (the newest archive is always kept)");
  if ((keepDaily !== undefined || o["daily-at"]) && !o["out-dir"]) throw new UsageError("--keep-daily and --daily-at need --out-dir DIR (the folder the archives are kept in)");
  if (o.now && !o["daily-at"]) throw new UsageError("--now goes with --daily-at");
  if (o["daily-at"]) {
    try {
      nextDailyRun(new Date(), o["daily-at"]);
    } catch (e) {
      throw new UsageError(`--daily-at: ${(e as Error).message}`);
    }
  }
  const dir = path.resolve(o["out-dir"] ?? ".");
  if (o["out-dir"] && !existsSync(dir)) throw new UsageError(`--out-dir ${dir} does not exist`);
  return {
    dir,
    label,
    file: (at) => (o.out ? path.resolve(o.out) : path.join(dir, `${label}-${archiveStamp(at)}.nxdb`)),
    retention: keepDaily === undefined ? undefined : { keepDaily, keepWeekly: keepWeekly ?? 0 },
    dailyAt: o["daily-at"],
  };
}

function storesOf(t: StoreTargets): string {
  return [t.postgres && "PostgreSQL", t.mongo && "MongoDB", t.redis && "Redis"].filter(Boolean).join(", ");
}

export async function runRestore(args: string[]): Promise<number> {
  const parsed = parseOptions(
    "restore",
    args,
    { ...TARGET_OPTIONS, "key-file": { type: "string" }, replace: { type: "boolean" }, "no-owner": { type: "boolean" }, "verify-only": { type: "boolean" }, quiet: { type: "boolean" } },
    RESTORE_USAGE,
    true,
  );
  if ("exit" in parsed) return parsed.exit;
  const o = parsed.values;
  if (parsed.positionals.length !== 1) {
    console.error(`nexus-db restore: give exactly one archive\n${RESTORE_USAGE}`);
    return 2;
  }
  const file = path.resolve(parsed.positionals[0]);
  let resolved;
  try {
    const passphrase = resolveKey(o, PROJECT);
    if (o["verify-only"]) {
      const m = await verifyBackup(file, passphrase);
      if (o.json) console.log(JSON.stringify(m, null, 2));
      else {
        printManifest(m);
        console.log(`${file}: authentic and complete (${m.parts.length} parts)`);
      }
      return 0;
    }
    resolved = resolveTargets(o, PROJECT);
    if (!resolved.targets.postgres && !resolved.targets.mongo && !resolved.targets.redis) throw new UsageError(`no target given\n${RESTORE_USAGE}`);
    const progress = o.quiet || o.json ? undefined : progressPrinter();
    const started = Date.now();
    const r = await restoreBackup({ file, passphrase, targets: resolved.targets, replace: o.replace, noOwner: o["no-owner"], onProgress: progress });
    progress?.({ done: true });
    if (o.json) console.log(JSON.stringify({ restored: r.restored, skipped: r.skipped, mismatches: r.mismatches, manifest: r.manifest }, null, 2));
    else {
      for (const s of r.skipped) console.log(`skipped ${s}`);
      const what = [
        r.restored.postgres && `PostgreSQL (schema version ${r.manifest.postgres?.schemaVersion ?? "none"})`,
        r.restored.mongoDocuments !== undefined && `${r.restored.mongoDocuments} MongoDB documents`,
        r.restored.redisKeys !== undefined && `${r.restored.redisKeys} Redis keys`,
      ].filter(Boolean);
      console.log(`restored ${what.join(", ") || "nothing"} from ${file} (taken ${r.manifest.startedAt}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      for (const m of r.mismatches) console.error(`MISMATCH ${m}`);
      if (r.mismatches.length === 0) console.log("every count matches the manifest");
    }
    return r.mismatches.length > 0 ? 1 : 0;
  } catch (err) {
    return fail("restore", err);
  } finally {
    resolved?.cleanup();
  }
}

function version(): string {
  try {
    return (require(path.join(PROJECT, "package.json")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** One progress line per store, at most every half second, on stderr. */
function progressPrinter(): (e: ProgressEvent | { done: true }) => void {
  let last = 0;
  let lastStore = "";
  return (e) => {
    if ("done" in e) return;
    const now = Date.now();
    if (e.store === lastStore && now - last < 500) return;
    last = now;
    lastStore = e.store;
    const what = e.store === "postgres" ? humanBytes(e.bytes) : e.store === "mongo" ? `${e.documents} documents` : `${e.keys} keys`;
    process.stderr.write(`  ${e.store}: ${what}\n`);
  };
}

export function printManifest(m: BackupManifest): void {
  console.log(`archive of ${m.startedAt} → ${m.finishedAt} (${m.tool})`);
  if (m.postgres) {
    const p = m.postgres;
    console.log(`PostgreSQL ${p.database}: ${p.server.split(" on ")[0]}, schema version ${p.schemaVersion ?? "none"} (${p.migrations.length} migrations), dumped with pg_dump ${p.pgDump.version}`);
    console.log(table(["table", "rows"], p.tables.map((t) => [t.table, String(t.rows)])).replace(/^/gm, "  "));
  }
  if (m.mongo) {
    console.log(`MongoDB ${m.mongo.database}: ${m.mongo.server}`);
    console.log(table(["collection", "documents", "indexes"], m.mongo.collections.map((c) => [c.name + (c.type === "view" ? " (view)" : ""), String(c.documents), String(c.indexes)])).replace(/^/gm, "  "));
  }
  if (m.redis) {
    console.log(`Redis: ${m.redis.server}, warmup version ${m.warmupVersion ?? "(no marker)"}`);
    console.log(table(["db", "keys"], m.redis.databases.map((d) => [String(d.db), String(d.keys)])).replace(/^/gm, "  "));
  }
  console.log(table(["part", "bytes", "sha256"], m.parts.map((p) => [p.name, String(p.bytes), p.sha256])).replace(/^/gm, "  "));
}
