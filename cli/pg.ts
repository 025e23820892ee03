// `nexus-db pg <status|plan|migrate|lint>`: the migration engine for operators and CI. Same engine
// and same messages as `pulumi up`; exit status 1 on any error, 2 on bad usage.
import * as path from "node:path";
import { parseCommand } from "./args";
import { CA_OPTION, CA_USAGE, caFile, pgUrlWithCa } from "./tls";
import {
  ALWAYS_BLOCKING,
  DirectoryMigrationSource,
  lintMigrations,
  migrate,
  MigrationError,
  parseMigrationSettings,
  planAgainstDatabase,
  redactUrl,
  type HistoryRow,
  type LintFinding,
  type MigrationPlan,
  type MigrationSettingsInput,
} from "../engines/postgres";

const PROJECT = path.resolve(__dirname, "..");

const USAGE = `usage: nexus-db pg <status|plan|migrate|lint> --url <DATABASE_URL> [--dir sql/migrations] [options]
  status    applied and pending versions with their checksums
  plan      what migrate would run, and the lint findings of those files
  migrate   apply pending migrations (or revert down to --target)
  lint      lint every migration file (no database needed)
options:
  --url URL                 the database (default: $DATABASE_URL)
  --dir DIR                 migration files (default: this project's sql/migrations, wherever you run it)
  --target N                stop at version N; below the current version, run down files
  --baseline N              adopt a hand-applied database: record versions <= N without running them
  --out-of-order            apply a new migration below the latest applied version
  --repair NAME             accept the edited file of migration NAME (repeatable)
  --allow-destructive NAME  allow lint findings in migration NAME (repeatable)
  --protected               lint findings block plan and migrate (production)
  --lock-timeout MS         wait this long for another migrate's lock (default 60000)
  --statement-lock-timeout MS  fail a migration statement that waits longer for a table lock
  --history-table S.T       history table (default public.schema_migrations)
  --json                    print the result as JSON
${CA_USAGE}`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand(
    "pg",
    args,
    {
      url: { type: "string" },
      dir: { type: "string" },
      target: { type: "string" },
      baseline: { type: "string" },
      "out-of-order": { type: "boolean" },
      repair: { type: "string", multiple: true },
      "allow-destructive": { type: "string", multiple: true },
      protected: { type: "boolean" },
      "lock-timeout": { type: "string" },
      "statement-lock-timeout": { type: "string" },
      "history-table": { type: "string" },
      json: { type: "boolean" },
      ...CA_OPTION,
    } as const,
    ["status", "plan", "migrate", "lint"],
    USAGE,
  );
  if ("exit" in parsed) return parsed.exit;
  const { values: o, command } = parsed;

  const int = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new UsageError(`--${name} takes a whole number, not "${v}"`);
    return Number(v);
  };
  let settingsInput: MigrationSettingsInput;
  try {
    settingsInput = {
      targetVersion: int("target", o.target),
      baselineVersion: int("baseline", o.baseline),
      outOfOrder: o["out-of-order"] ?? false,
      repairChecksums: o.repair ?? [],
      allowDestructive: o["allow-destructive"] ?? [],
      protected: o.protected ?? false,
      lockTimeoutMs: int("lock-timeout", o["lock-timeout"]),
      statementLockTimeoutMs: int("statement-lock-timeout", o["statement-lock-timeout"]),
      historyTable: o["history-table"],
    };
    parseMigrationSettings(settingsInput, "options");
  } catch (err) {
    console.error(`nexus-db pg: ${(err as Error).message}`);
    return 2;
  }

  const source = new DirectoryMigrationSource(o.dir ?? path.join(PROJECT, "sql/migrations"));
  const json = o.json ?? false;
  try {
    if (command === "lint") return await lint(source, settingsInput.allowDestructive ?? [], json);
    const given = o.url ?? process.env.DATABASE_URL;
    if (!given) {
      console.error(`nexus-db pg ${command}: --url is required (or set DATABASE_URL)`);
      return 2;
    }
    let url: string;
    try {
      url = pgUrlWithCa(given, caFile(o.ca));
    } catch (err) {
      console.error(`nexus-db pg ${command}: ${(err as Error).message}`);
      return 2;
    }
    if (command === "migrate") return await runMigrate(url, source, settingsInput, json);
    return await statusOrPlan(command as "status" | "plan", url, source, settingsInput, json);
  } catch (err) {
    console.error(`nexus-db pg ${command}: ${err instanceof MigrationError ? err.message : (err as Error).stack ?? String(err)}`);
    return 1;
  }
}

class UsageError extends Error {}

async function runMigrate(url: string, source: DirectoryMigrationSource, settings: MigrationSettingsInput, json: boolean): Promise<number> {
  const started = Date.now();
  const result = await migrate({
    connection: url,
    source,
    settings,
    onProgress: json
      ? undefined
      : (e) => {
          if (e.phase === "start") process.stdout.write(`${e.direction === "up" ? "apply " : "revert"} ${e.migration.name} … `);
          else if (e.phase === "done") process.stdout.write(`ok (${e.executionMs} ms)\n`);
          else process.stdout.write("FAILED\n");
        },
  });
  if (json) {
    console.log(JSON.stringify({ ...result, error: result.error && { kind: result.error.kind, message: result.error.message, file: result.error.file, line: result.error.line, sqlstate: result.error.sqlstate } }, null, 2));
  } else {
    for (const r of result.repaired) console.log(`repaired checksum of ${r.name} → ${r.checksum}`);
    if (result.baselined.length > 0) console.log(`baselined (recorded, not run): ${result.baselined.map((m) => m.name).join(", ")}`);
    for (const f of result.plan?.findings ?? []) if (!result.plan?.blocked.includes(f)) console.log(`lint: ${f.message}`);
    if (result.ok) {
      const did = result.applied.length + result.reverted.length;
      console.log(did === 0 && result.baselined.length === 0 ? `nothing to do: ${redactUrl(url)} is at ${v(result.currentVersion)}` : `${redactUrl(url)} is now at ${v(result.currentVersion)} (${Date.now() - started} ms)`);
    }
  }
  if (result.error) {
    console.error(result.error.message);
    if (result.notRun.length > 0) console.error(`not run: ${result.notRun.map((m) => m.name).join(", ")}`);
    return 1;
  }
  return 0;
}

async function statusOrPlan(command: "status" | "plan", url: string, source: DirectoryMigrationSource, settings: MigrationSettingsInput, json: boolean): Promise<number> {
  const { migrations, plan, history, unreachable } = await planAgainstDatabase({ connection: url, source, settings, requireDatabase: true });
  void unreachable;
  if (json) {
    console.log(JSON.stringify(command === "plan" ? plan : { history, plan }, null, 2));
  } else if (command === "status") {
    printStatus(migrations, history ?? [], plan);
  } else {
    printPlan(plan);
  }
  if (plan.problems.length > 0) {
    console.error(plan.problems.join("\n"));
    return 1;
  }
  return 0;
}

function printStatus(migrations: { version: number; name: string; checksum: string }[], history: HistoryRow[], plan: MigrationPlan): void {
  const rows: string[][] = [];
  const applied = new Map(history.map((r) => [r.version, r]));
  const pending = new Set(plan.toApply.map((m) => m.version));
  const versions = [...new Set([...migrations.map((m) => m.version), ...history.map((r) => r.version)])].sort((a, b) => a - b);
  for (const version of versions) {
    const m = migrations.find((x) => x.version === version);
    const h = applied.get(version);
    const state = !m
      ? "MISSING FILE"
      : h && h.checksum !== m.checksum
        ? "CHANGED"
        : h
          ? h.baseline
            ? "baselined"
            : "applied"
          : pending.has(version)
            ? "pending"
            : "not targeted";
    rows.push([
      String(version),
      m?.name ?? h!.name,
      state,
      short(h?.checksum ?? m!.checksum),
      h?.appliedAt ? h.appliedAt.toISOString().replace(/\.\d+Z$/, "Z") : "",
      h?.appliedBy ?? "",
      h?.executionMs !== undefined && !h.baseline ? `${h.executionMs} ms` : "",
    ]);
  }
  table(["version", "name", "state", "checksum", "applied at", "applied by", "took"], rows);
  console.log(`current version: ${v(plan.currentVersion)}; pending: ${plan.toApply.length}`);
}

function printPlan(plan: MigrationPlan): void {
  if (plan.toRepair.length > 0) console.log(`repair checksums: ${plan.toRepair.map((m) => m.name).join(", ")}`);
  if (plan.toBaseline.length > 0) console.log(`baseline (record without running): ${plan.toBaseline.map((m) => m.name).join(", ")}`);
  for (const m of plan.toRevert) console.log(`revert ${m.name}`);
  for (const m of plan.toApply) console.log(`apply  ${m.name}  ${short(m.checksum)}`);
  if (plan.direction === "none" && plan.toBaseline.length === 0) console.log(`nothing to do: at ${v(plan.currentVersion)}`);
  else console.log(`${v(plan.currentVersion)} → ${v(plan.targetVersion)}`);
  printFindings(plan.findings, plan.blocked);
}

async function lint(source: DirectoryMigrationSource, allowed: string[], json: boolean): Promise<number> {
  const migrations = await source.getMigrations();
  const findings = await lintMigrations(migrations);
  const blocking = findings.filter((f) => ALWAYS_BLOCKING.includes(f.rule) || !allowed.includes(f.migration));
  if (json) console.log(JSON.stringify(findings, null, 2));
  else {
    printFindings(findings, blocking);
    console.log(`${migrations.length} migration(s), ${findings.length} finding(s)${findings.length > blocking.length ? `, ${findings.length - blocking.length} allowed` : ""}`);
  }
  return blocking.length > 0 ? 1 : 0;
}

function printFindings(findings: LintFinding[], blocking: LintFinding[]): void {
  for (const f of findings) {
    console.log(`${blocking.includes(f) ? "error" : "warning"} [${f.rule}] ${f.message}\n    ${f.statement}`);
  }
}

function short(checksum: string): string {
  return checksum.replace(/^sha256:/, "").slice(0, 12);
}

function v(version: number | null): string {
  return version === null ? "no version" : `version ${version}`;
}

function table(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}
