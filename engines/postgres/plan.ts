// The decision of what a migrate run would do, as a pure function of the migration files, the
// history rows (when the database was reachable) and the settings. `migrate` runs exactly this
// plan after taking the lock; `pulumi preview` and `nexus-db pg plan` show it.
import { ALWAYS_BLOCKING, lintMigration, type LintFinding } from "./lint";
import type { MigrationSettings } from "./settings";
import type { Migration, MigrationRef } from "./source";

/** One row of the history table. */
export interface HistoryRow extends MigrationRef {
  appliedAt?: Date;
  executionMs?: number;
  appliedBy?: string;
  /** Recorded by `baselineVersion`, never run by the migrator. */
  baseline?: boolean;
}

export interface ChecksumFailure {
  version: number;
  name: string;
  file: string;
  /** The checksum in the history table. */
  recorded: string;
  /** The checksum of the file now. */
  current: string;
  /** The history row's name when the file was renamed. */
  recordedName?: string;
  message: string;
}

export type DriftKind = "applied-outside" | "removed-outside" | "changed-outside";

/** A difference between the live history table and what the caller last recorded (Pulumi state). */
export interface Drift {
  kind: DriftKind;
  version: number;
  name: string;
  message: string;
}

export interface PlanInput {
  /** Every migration, sorted or not. */
  migrations: readonly Migration[];
  /** The live history rows; `undefined` when the database was not reachable (or has no table yet: pass []). */
  history?: readonly HistoryRow[];
  /** What the caller recorded as applied last time (the resource's state), for drift. */
  recorded?: readonly MigrationRef[];
  settings: MigrationSettings;
  /** Where the files live, for messages about a missing one. */
  location?: string;
  /** Lint the migrations that would run (default true; the parser costs a little per file). */
  lint?: boolean;
}

export interface MigrationPlan {
  /** Where the applied versions came from: the live table, the caller's record, or nowhere yet. */
  appliedFrom: "database" | "recorded" | "none";
  direction: "up" | "down" | "none";
  /** The highest applied version before the run, `null` for none. */
  currentVersion: number | null;
  /** The highest version after a successful run, `null` for none. */
  targetVersion: number | null;
  /** Migrations to run, in order. */
  toApply: MigrationRef[];
  /** Migrations whose down file runs, in the order they run (newest first). */
  toRevert: MigrationRef[];
  /** Migrations to record as applied without running them (`baselineVersion`). */
  toBaseline: MigrationRef[];
  /** History rows whose checksum (and name) is updated to the file's (`repairChecksums`). */
  toRepair: ChecksumFailure[];
  checksumFailures: ChecksumFailure[];
  /** Applied versions with no file. */
  missing: HistoryRow[];
  /** Pending migrations below the latest applied version. */
  outOfOrder: MigrationRef[];
  drift: Drift[];
  /** Lint findings of the files that would run. */
  findings: LintFinding[];
  /** The findings that refuse the run: protected stack and migration not in `allowDestructive`, or a rule that always refuses. */
  blocked: LintFinding[];
  /** Why the run is refused; empty when it may go ahead. Each names the file and the way out. */
  problems: string[];
}

function ref(m: MigrationRef): MigrationRef {
  return { version: m.version, name: m.name, checksum: m.checksum };
}

export async function planMigrations(input: PlanInput): Promise<MigrationPlan> {
  const { settings } = input;
  const migrations = [...input.migrations].sort((a, b) => a.version - b.version);
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  const location = input.location ?? "the migrations directory";
  const problems: string[] = [];

  const appliedFrom = input.history !== undefined ? "database" : input.recorded !== undefined ? "recorded" : "none";
  const applied: readonly HistoryRow[] = input.history ?? input.recorded ?? [];

  // Baseline: only a database without history is adopted; afterwards the setting is a no-op.
  const toBaseline: MigrationRef[] =
    settings.baselineVersion !== undefined && applied.length === 0 && appliedFrom !== "recorded"
      ? migrations.filter((m) => m.version <= settings.baselineVersion!).map(ref)
      : [];

  const checksumFailures: ChecksumFailure[] = [];
  const toRepair: ChecksumFailure[] = [];
  const missing: HistoryRow[] = [];
  for (const row of [...applied].sort((a, b) => a.version - b.version)) {
    const m = byVersion.get(row.version);
    if (!m) {
      missing.push(row);
      problems.push(
        `${row.name} (version ${row.version}) is recorded as applied${row.appliedAt ? ` on ${row.appliedAt.toISOString()}` : ""}, but ${location} has no file for it. ` +
          `Nothing was run. Restore ${row.name}.sql: a migration that has run stays in the directory (undo it with a new migration, or with its .down.sql via targetVersion).`,
      );
      continue;
    }
    if (m.checksum === row.checksum && m.name === row.name) continue;
    const renamed = m.name !== row.name;
    const failure: ChecksumFailure = {
      version: m.version,
      name: m.name,
      file: m.file,
      recorded: row.checksum,
      current: m.checksum,
      ...(renamed ? { recordedName: row.name } : {}),
      message:
        `${m.file} was ${renamed ? `renamed (applied as ${row.name}) ` : ""}${m.checksum !== row.checksum ? `${renamed ? "and " : ""}changed ` : ""}after it was applied: ` +
        `recorded checksum ${row.checksum}, file now ${m.checksum}. Nothing was run. ` +
        `Restore the applied version of the file (e.g. from git) and put the change in a new migration; ` +
        `or, if the edit is harmless (comments, formatting), accept it with the setting repairChecksums: ["${m.name}"].`,
    };
    if (settings.repairChecksums.includes(m.name)) toRepair.push(failure);
    else {
      checksumFailures.push(failure);
      problems.push(failure.message);
    }
  }

  const appliedVersions = new Set([...applied.map((r) => r.version), ...toBaseline.map((r) => r.version)]);
  const currentVersion = appliedVersions.size > 0 ? Math.max(...appliedVersions) : null;
  const target = settings.targetVersion;

  let direction: MigrationPlan["direction"] = "none";
  let toApply: MigrationRef[] = [];
  const toRevert: MigrationRef[] = [];
  const outOfOrder: MigrationRef[] = [];
  const revertFiles: Migration[] = [];

  if (target !== undefined && currentVersion !== null && target < currentVersion) {
    const versions = [...appliedVersions].filter((v) => v > target).sort((a, b) => b - a);
    for (const v of versions) {
      const m = byVersion.get(v);
      if (!m) continue; // already reported as missing
      if (!m.down) {
        problems.push(`${m.file}: targetVersion ${target} needs ${m.name}.down.sql to undo version ${v}, and there is none. Nothing was run. Write the down file, or choose a targetVersion of ${v} or above.`);
        continue;
      }
      revertFiles.push(m);
      toRevert.push(ref(m));
    }
    direction = "down";
  } else {
    const pending = migrations.filter((m) => !appliedVersions.has(m.version) && (target === undefined || m.version <= target));
    for (const m of pending) {
      if (currentVersion !== null && m.version < currentVersion) {
        outOfOrder.push(ref(m));
        if (!settings.outOfOrder) {
          problems.push(
            `${m.file}: version ${m.version} is below the latest applied version ${currentVersion}. Nothing was run. ` +
              `Renumber the migration above ${currentVersion}, or allow it with the setting outOfOrder: true.`,
          );
        }
      }
    }
    toApply = pending.map(ref);
    if (toApply.length > 0) direction = "up";
  }

  // Lint what would run: the up files going up, the down files going down.
  const findings: LintFinding[] = [];
  if (input.lint !== false) {
    for (const r of toApply) findings.push(...(await lintMigration(byVersion.get(r.version)!)));
    for (const m of revertFiles) findings.push(...(await lintMigration({ name: m.name, file: m.down!.file, sql: m.down!.sql, transactional: m.down!.transactional })));
  }
  const blocked = findings.filter((f) => ALWAYS_BLOCKING.includes(f.rule) || (settings.protected && !settings.allowDestructive.includes(f.migration)));
  for (const f of blocked) {
    problems.push(
      ALWAYS_BLOCKING.includes(f.rule)
        ? `${f.message}. Nothing was run.`
        : `${f.message}. Blocked: this stack is protected. If this is intended, allow the migration with the setting allowDestructive: ["${f.migration}"].`,
    );
  }

  const drift = input.history !== undefined && input.recorded !== undefined ? driftBetween(input.history, input.recorded) : [];

  const targetVersion =
    direction === "down" ? target! : direction === "up" ? Math.max(currentVersion ?? 0, ...toApply.map((m) => m.version)) : currentVersion;

  return {
    appliedFrom,
    direction,
    currentVersion,
    targetVersion,
    toApply,
    toRevert,
    toBaseline,
    toRepair,
    checksumFailures,
    missing,
    outOfOrder,
    drift,
    findings,
    blocked,
    problems,
  };
}

/** Compares the live history with what was recorded: rows applied, removed or changed by someone else. */
export function driftBetween(history: readonly HistoryRow[], recorded: readonly MigrationRef[]): Drift[] {
  const live = new Map(history.map((r) => [r.version, r]));
  const rec = new Map(recorded.map((r) => [r.version, r]));
  const drift: Drift[] = [];
  for (const [v, r] of live) {
    const was = rec.get(v);
    if (!was) {
      drift.push({ kind: "applied-outside", version: v, name: r.name, message: `${r.name} was applied outside this stack${r.appliedBy ? ` by ${r.appliedBy}` : ""}${r.appliedAt ? ` on ${r.appliedAt.toISOString()}` : ""}` });
    } else if (was.checksum && was.checksum !== r.checksum) {
      drift.push({ kind: "changed-outside", version: v, name: r.name, message: `${r.name}'s history row was changed outside this stack: checksum ${was.checksum} became ${r.checksum}` });
    }
  }
  for (const [v, r] of rec) {
    if (!live.has(v)) {
      drift.push({ kind: "removed-outside", version: v, name: r.name, message: `${r.name} was removed from the history table outside this stack (a restored backup, or a manual delete); it is pending again` });
    }
  }
  return drift.sort((a, b) => a.version - b.version);
}
