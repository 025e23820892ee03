// Which archives of a scheduled backup to keep: the newest of each of the last N days that have one
// and the newest of each of the last M ISO weeks that have one (an archive either rule keeps stays),
// and the daily schedule's next run. Plain functions over names and times; `pruneArchives` applies
// the choice to a folder, touching only files named like the schedule's own archives.
import { readdirSync, rmSync, statSync } from "node:fs";
import * as path from "node:path";

export interface RetentionPolicy {
  /** Days (UTC) whose newest archive is kept. At least 1: the newest archive is never removed. */
  keepDaily: number;
  /** ISO weeks (UTC) whose newest archive is kept. */
  keepWeekly: number;
}

export interface DatedArchive {
  name: string;
  time: Date;
}

/** The UTC stamp the CLI puts in an archive's name: 20261201T023000Z. */
export function archiveStamp(t: Date): string {
  return t.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/** `<prefix>-<stamp>.nxdb` → its time; undefined for any other name. */
export function archiveTime(name: string, prefix: string): Date | undefined {
  if (!name.startsWith(`${prefix}-`) || !name.endsWith(".nxdb")) return undefined;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(name.slice(prefix.length + 1, -".nxdb".length));
  if (!m) return undefined;
  const t = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  // Date.UTC rolls month 13 or day 32 over: only a stamp that reads back the same is a time.
  return !Number.isNaN(t.getTime()) && archiveStamp(t) === `${m[1]}${m[2]}${m[3]}T${m[4]}${m[5]}${m[6]}Z` ? t : undefined;
}

/** ISO 8601 week of a UTC time, as "2026-W49" (weeks start on Monday; week 1 holds the year's first Thursday). */
export function isoWeek(t: Date): string {
  const d = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()));
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day); // the Thursday of this week decides its year
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((d.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

export function checkPolicy(p: RetentionPolicy): void {
  if (!Number.isInteger(p.keepDaily) || p.keepDaily < 1) throw new Error(`keep daily must be a whole number of at least 1 (got ${p.keepDaily}): the newest archive is always kept`);
  if (!Number.isInteger(p.keepWeekly) || p.keepWeekly < 0) throw new Error(`keep weekly must be a whole number of at least 0 (got ${p.keepWeekly})`);
}

/** Splits archives into those the policy keeps and those it lets go, each newest first. */
export function selectRetained(archives: DatedArchive[], policy: RetentionPolicy): { keep: DatedArchive[]; remove: DatedArchive[] } {
  checkPolicy(policy);
  const newestFirst = [...archives].sort((a, b) => b.time.getTime() - a.time.getTime() || b.name.localeCompare(a.name));
  const kept = new Set<DatedArchive>();
  const newestPerBucket = (bucket: (t: Date) => string, count: number) => {
    const seen = new Set<string>();
    for (const a of newestFirst) {
      if (seen.size >= count) break;
      const b = bucket(a.time);
      if (seen.has(b)) continue;
      seen.add(b);
      kept.add(a);
    }
  };
  newestPerBucket((t) => t.toISOString().slice(0, 10), policy.keepDaily);
  newestPerBucket(isoWeek, policy.keepWeekly);
  return { keep: newestFirst.filter((a) => kept.has(a)), remove: newestFirst.filter((a) => !kept.has(a)) };
}

/**
 * Applies the policy to the archives `<prefix>-<stamp>.nxdb` in `dir`: removes those it lets go.
 * Other files (another stack's archives, anything else) are never touched.
 */
export function pruneArchives(dir: string, prefix: string, policy: RetentionPolicy): { kept: string[]; removed: string[] } {
  checkPolicy(policy);
  const archives: DatedArchive[] = [];
  for (const name of readdirSync(dir)) {
    const time = archiveTime(name, prefix);
    if (time && statSync(path.join(dir, name)).isFile()) archives.push({ name, time });
  }
  const { keep, remove } = selectRetained(archives, policy);
  for (const a of remove) rmSync(path.join(dir, a.name), { force: true });
  return { kept: keep.map((a) => a.name), removed: remove.map((a) => a.name) };
}

/** The next time of day `hhmm` (UTC) strictly after `now`. */
export function nextDailyRun(now: Date, hhmm: string): Date {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  if (!m) throw new Error(`"${hhmm}" is not a UTC time of day like 02:30`);
  const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), +m[1], +m[2]));
  if (next.getTime() <= now.getTime()) next.setUTCDate(next.getUTCDate() + 1);
  return next;
}
