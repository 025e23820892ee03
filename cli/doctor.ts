// `nexus-db doctor`: the troubleshooting list as OK/WARN/FAIL lines with the next step; exit 1 on FAIL.
import * as path from "node:path";
import { DirectoryMigrationSource } from "../engines/postgres";
import { doctor, doctorExitCode, type DoctorInput } from "../engines/ops/doctor";
import { nexusCollections } from "../mongo/collections";
import { parseOptions } from "./args";
import { fail, resolveTargets, TARGET_OPTIONS, TARGET_USAGE, UsageError } from "./targets";

const PROJECT = path.resolve(__dirname, "..");

const USAGE = `usage: nexus-db doctor (--stack S | --env | --url URL…) [options]
  Checks each store: reachable, TLS and certificate expiry, version, logins per role (with --stack),
  connections vs the limit, long transactions and lock waits, pending migrations and drift, Mongo
  collections/validators/indexes vs mongo/, Redis memory vs maxmemory, evictions, warmup markers.
  Each line is OK, WARN or FAIL with the next step; the exit status is 1 when any check FAILs.
${TARGET_USAGE}
options:
  --dir DIR                 migration files (default: this project's sql/migrations, wherever you run it)
  --cert-warn-days N        warn this many days before a certificate expires (default 30)
  --long-transaction S      a transaction open longer than S seconds warns (default 300)
  --json                    print the checks as JSON`;

export async function runDoctor(args: string[]): Promise<number> {
  const parsed = parseOptions("doctor", args, { ...TARGET_OPTIONS, dir: { type: "string" }, "cert-warn-days": { type: "string" }, "long-transaction": { type: "string" } }, USAGE);
  if ("exit" in parsed) return parsed.exit;
  const o = parsed.values;
  let resolved;
  try {
    const int = (name: string, v: string | undefined) => {
      if (v === undefined) return undefined;
      if (!/^\d+$/.test(v)) throw new UsageError(`--${name} takes a whole number, not "${v}"`);
      return Number(v);
    };
    resolved = resolveTargets(o, PROJECT);
    const t = resolved.targets;
    if (!t.postgres && !t.mongo && !t.redis) throw new UsageError(`no store given\n${USAGE}`);
    const roles = resolved.roleUrls;
    const input: DoctorInput = {
      certificateWarnDays: int("cert-warn-days", o["cert-warn-days"]),
      longTransactionSeconds: int("long-transaction", o["long-transaction"]),
      postgres: t.postgres && { url: t.postgres.url, historyTable: t.postgres.historyTable, migrations: new DirectoryMigrationSource(o.dir ?? path.join(PROJECT, "sql/migrations")), roles: roles.postgres },
      mongo: t.mongo && { ...t.mongo, collections: nexusCollections(), roles: roles.mongo },
      redis: t.redis && { url: t.redis.url, options: t.redis.options, markers: t.redis.markers as { db: number; key: string; name: string }[], roles: roles.redis },
    };
    const checks = await doctor(input);
    if (o.json) console.log(JSON.stringify(checks, null, 2));
    else {
      const width = Math.max(...checks.map((c) => `${c.store} ${c.check}`.length));
      for (const c of checks) {
        console.log(`${c.status.padEnd(4)}  ${`${c.store} ${c.check}`.padEnd(width)}  ${c.detail}`);
        if (c.next && c.status !== "OK") console.log(`${" ".repeat(width + 8)}→ ${c.next}`);
      }
      const count = (s: string) => checks.filter((c) => c.status === s).length;
      console.log(`${count("OK")} OK, ${count("WARN")} WARN, ${count("FAIL")} FAIL (${resolved.source})`);
    }
    return doctorExitCode(checks);
  } catch (err) {
    return fail("doctor", err);
  } finally {
    resolved?.cleanup();
  }
}
