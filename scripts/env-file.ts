// `npm run env [-- <stack>] [--out <file>] [--from-json <file>]`: writes the backend's .env (the
// spec's DATABASE_URL, DATABASE_MAX_CONNECTIONS, MONGODB_URL, REDIS_URL) from a stack's outputs,
// readable by its owner only. With a CA in the outputs, the CA goes to `.env.ca.pem` and the URLs
// point at it (sslrootcert, tlsCAFile), so TLS verification works without further setup.
//
// The outputs come from `pulumi stack output --json --show-secrets --stack <stack>` (default stack
// `local`), run with scripts/env.sh sourced, or from a JSON file of the same shape (--from-json).
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

/** The stack outputs the .env is made of (index.ts exports them). */
export interface StackOutputs {
  DATABASE_URL?: string;
  DATABASE_MAX_CONNECTIONS?: number | string;
  MONGODB_URL?: string;
  REDIS_URL?: string;
  caCertPem?: string;
  [other: string]: unknown;
}

const REQUIRED = ["DATABASE_URL", "DATABASE_MAX_CONNECTIONS", "MONGODB_URL", "REDIS_URL"] as const;

/** A dotenv value: bare when it is plainly safe, else double-quoted with `\`, `"` and `$` escaped. */
export function envValue(v: string): string {
  return /^[A-Za-z0-9_./:@%?&=+,~-]*$/.test(v) ? v : `"${v.replace(/[\\"$]/g, (c) => `\\${c}`).replace(/\n/g, "\\n")}"`;
}

/** `url` with a query parameter set (only when the URL uses TLS: `test` decides). */
function withParam(url: string, key: string, value: string, usesTls: (u: URL) => boolean): string {
  const u = new URL(url);
  if (!usesTls(u)) return url;
  u.searchParams.set(key, value);
  return u.toString();
}

/**
 * The .env text for the outputs. `caFile` is where the CA will be written (when the outputs hold
 * one): DATABASE_URL gets `sslrootcert`, MONGODB_URL `tlsCAFile`, and the path is also given as
 * NEXUS_DB_CA_FILE (Redis clients take the CA as an option, not in the URL) and PGSSLROOTCERT.
 * Throws naming every missing output.
 */
export function formatEnvFile(outputs: StackOutputs, opts: { stack: string; caFile?: string }): string {
  const missing = REQUIRED.filter((k) => outputs[k] === undefined || outputs[k] === null || outputs[k] === "");
  if (missing.length > 0) {
    throw new Error(`stack "${opts.stack}" has no output ${missing.join(", ")}: run \`pulumi up --stack ${opts.stack}\` first`);
  }
  const ca = outputs.caCertPem && opts.caFile ? opts.caFile : undefined;
  let databaseUrl = String(outputs.DATABASE_URL);
  let mongoUrl = String(outputs.MONGODB_URL);
  if (ca) {
    databaseUrl = withParam(databaseUrl, "sslrootcert", ca, (u) => (u.searchParams.get("sslmode") ?? "disable") !== "disable");
    mongoUrl = withParam(mongoUrl, "tlsCAFile", ca, (u) => u.searchParams.get("tls") === "true" || u.searchParams.get("ssl") === "true");
  }
  const lines = [
    `# Written by \`npm run env\` from the outputs of the stack "${opts.stack}". It holds passwords: do not commit it.`,
    "",
    "# PostgreSQL",
    `DATABASE_URL=${envValue(databaseUrl)}`,
    `DATABASE_MAX_CONNECTIONS=${envValue(String(outputs.DATABASE_MAX_CONNECTIONS))}`,
    "",
    "# MongoDB",
    `MONGODB_URL=${envValue(mongoUrl)}`,
    "",
    "# Redis",
    `REDIS_URL=${envValue(String(outputs.REDIS_URL))}`,
  ];
  if (ca) lines.push("", "# The CA the stores' certificates are signed with", `NEXUS_DB_CA_FILE=${envValue(ca)}`, `PGSSLROOTCERT=${envValue(ca)}`);
  return lines.join("\n") + "\n";
}

/** Writes `file` readable by its owner only, replacing it in one step. */
function writePrivate(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600); // the umask may have narrowed it; never widened
  renameSync(tmp, file);
}

/** Writes the .env (0600) and, with a CA in the outputs, the CA file next to it; removes a stale CA file. */
export function writeEnvFiles(outputs: StackOutputs, opts: { stack: string; envFile: string }): { envFile: string; caFile?: string } {
  const envFile = resolve(opts.envFile);
  const caFile = `${envFile}.ca.pem`;
  const text = formatEnvFile(outputs, { stack: opts.stack, caFile });
  if (outputs.caCertPem) writePrivate(caFile, String(outputs.caCertPem));
  else if (existsSync(caFile)) rmSync(caFile);
  writePrivate(envFile, text);
  return { envFile, caFile: outputs.caCertPem ? caFile : undefined };
}

/** The stack's outputs from the pulumi CLI, with the project's Pulumi environment (scripts/env.sh). */
export function readStackOutputs(stack: string, projectDir: string): StackOutputs {
  const script = '. "$0/scripts/env.sh" && exec pulumi stack output --json --show-secrets --stack "$1"';
  try {
    const out = execFileSync("bash", ["-c", script, projectDir, stack], { cwd: projectDir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return JSON.parse(out) as StackOutputs;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`could not read the outputs of stack "${stack}": ${(err.stderr || err.message).trim()}`);
  }
}

export interface EnvArgs {
  stack: string;
  out: string;
  fromJson?: string;
}

export function parseArgs(argv: string[]): EnvArgs {
  const a: EnvArgs = { stack: "local", out: ".env" };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--stack" || arg === "-s") a.stack = next();
    else if (arg === "--out" || arg === "-o") a.out = next();
    else if (arg === "--from-json") a.fromJson = next();
    else if (!arg.startsWith("-")) a.stack = arg;
    else throw new Error(`unknown option ${arg} (usage: npm run env -- [stack] [--out .env] [--from-json outputs.json])`);
  }
  return a;
}

export function main(argv: string[], projectDir: string): string {
  const args = parseArgs(argv);
  const outputs = args.fromJson ? (JSON.parse(readFileSync(args.fromJson, "utf8")) as StackOutputs) : readStackOutputs(args.stack, projectDir);
  const written = writeEnvFiles(outputs, { stack: args.stack, envFile: resolve(projectDir, args.out) });
  return `wrote ${written.envFile}${written.caFile ? ` and ${written.caFile}` : ""} from stack "${args.stack}"`;
}

if (require.main === module) {
  try {
    console.log(main(process.argv.slice(2), resolve(__dirname, "..")));
  } catch (e) {
    console.error(`npm run env: ${(e as Error).message}`);
    process.exit(1);
  }
}
