// The retention of scheduled backups on real files: keep the newest archive of each of the last N
// days and of each of the last M ISO weeks, remove the rest, never touch another file.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { archiveStamp, archiveTime, isoWeek, nextDailyRun, pruneArchives, selectRetained } from "../../../engines/backup/retention";

const PREFIX = "nexus-db-dev";
const at = (iso: string) => `${PREFIX}-${archiveStamp(new Date(iso))}.nxdb`;

describe("retention of scheduled backups", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "nexus-retention-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps the newest archive of the last 7 days and of the last 4 ISO weeks, removes the rest, and leaves other files alone", () => {
    // One archive a day at 02:30 from 3 October to 1 December 2026, and two extra runs.
    const names: string[] = [];
    for (let d = new Date("2026-10-03T02:30:00Z"); d <= new Date("2026-12-01T02:30:00Z"); d = new Date(d.getTime() + 86_400_000)) names.push(at(d.toISOString()));
    names.push(at("2026-12-01T14:00:00Z"), at("2026-11-29T10:00:00Z"));
    for (const n of names) writeFileSync(path.join(dir, n), "archive");
    const others = ["nexus-db-staging-20261001T023000Z.nxdb", `${PREFIX}-20261001T023000Z.nxdb.partial`, `${PREFIX}-latest.nxdb`, "notes.txt"];
    for (const n of others) writeFileSync(path.join(dir, n), "not ours");

    const r = pruneArchives(dir, PREFIX, { keepDaily: 7, keepWeekly: 4 });
    // 1 December is a Tuesday: its ISO week began on Monday 30 November.
    const kept = [
      at("2026-12-01T14:00:00Z"), // day 1 and this week's newest
      at("2026-11-30T02:30:00Z"),
      at("2026-11-29T10:00:00Z"), // day 3 and the newest of the week of 23–29 November
      at("2026-11-28T02:30:00Z"),
      at("2026-11-27T02:30:00Z"),
      at("2026-11-26T02:30:00Z"),
      at("2026-11-25T02:30:00Z"),
      at("2026-11-22T02:30:00Z"), // week of 16–22 November
      at("2026-11-15T02:30:00Z"), // week of 9–15 November
    ];
    expect(r.kept).toEqual(kept);
    expect(r.removed).toHaveLength(names.length - kept.length);
    expect(r.removed).toContain(at("2026-12-01T02:30:00Z")); // an older run of a day that has a newer one
    expect(readdirSync(dir).sort()).toEqual([...kept, ...others].sort());

    // Applying the policy again changes nothing.
    expect(pruneArchives(dir, PREFIX, { keepDaily: 7, keepWeekly: 4 })).toEqual({ kept, removed: [] });
  });

  it("keeps only the newest with keepDaily 1 and no weeks; refuses a policy that would remove everything", () => {
    for (const iso of ["2026-11-01T02:30:00Z", "2026-11-02T02:30:00Z", "2026-11-03T02:30:00Z"]) writeFileSync(path.join(dir, at(iso)), "a");
    expect(pruneArchives(dir, PREFIX, { keepDaily: 1, keepWeekly: 0 }).kept).toEqual([at("2026-11-03T02:30:00Z")]);
    expect(readdirSync(dir)).toEqual([at("2026-11-03T02:30:00Z")]);
    expect(() => pruneArchives(dir, PREFIX, { keepDaily: 0, keepWeekly: 4 })).toThrow(/keep daily must be a whole number of at least 1/);
    expect(existsSync(path.join(dir, at("2026-11-03T02:30:00Z")))).toBe(true);
  });

  it("reads the stamp of an archive name, and nothing else", () => {
    expect(archiveTime(`${PREFIX}-20261201T023000Z.nxdb`, PREFIX)?.toISOString()).toBe("2026-12-01T02:30:00.000Z");
    expect(archiveTime(`${PREFIX}-20261301T023000Z.nxdb`, PREFIX)).toBeUndefined();
    expect(archiveTime(`${PREFIX}-20261201T023000Z.nxdb.partial`, PREFIX)).toBeUndefined();
    expect(archiveTime(`nexus-db-dev2-20261201T023000Z.nxdb`, PREFIX)).toBeUndefined();
    expect(selectRetained([], { keepDaily: 3, keepWeekly: 2 })).toEqual({ keep: [], remove: [] });
  });

  it("ISO weeks across year ends, and the next daily run", () => {
    expect(isoWeek(new Date("2026-01-01T12:00:00Z"))).toBe("2026-W01"); // a Thursday
    expect(isoWeek(new Date("2024-12-30T00:00:00Z"))).toBe("2025-W01"); // Monday of the week holding 2 January 2025
    expect(isoWeek(new Date("2027-01-03T23:59:59Z"))).toBe("2026-W53");
    expect(nextDailyRun(new Date("2026-12-01T02:29:59Z"), "02:30").toISOString()).toBe("2026-12-01T02:30:00.000Z");
    expect(nextDailyRun(new Date("2026-12-01T02:30:00Z"), "02:30").toISOString()).toBe("2026-12-02T02:30:00.000Z");
    expect(nextDailyRun(new Date("2026-12-31T23:00:00Z"), "00:15").toISOString()).toBe("2027-01-01T00:15:00.000Z");
    expect(() => nextDailyRun(new Date(), "24:00")).toThrow(/not a UTC time of day/);
  });
});
