// `npm run env [-- <stack>] [--out .env] [--toml config.toml] [--from-json <file>]`: writes what the
// backend receives (config/backend-handoff.ts) from a stack's output `backend`, twice — `.env`
// and `config.toml` — readable by their owner only. With a CA in the outputs, the CA goes to
// `<out>.ca.pem` and the URLs and `[tls] ca_file` point at it, so TLS verification works as is.
//
// The outputs come from `pulumi stack output --json --show-secrets --stack <stack>` (default stack
// `local`), run with scripts/env.sh sourced, or from a JSON file of the same shape (--from-json).
//
// `npx tsx scripts/env-file.ts --examples [--check]` writes (or checks) the committed
// .env.example and config.example.toml, rendered from the same description with placeholders.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { exampleFiles, renderConfigToml, renderEnvFile, withCaFile, type BackendHandoff } from "../config/backend-handoff";

export const ROOT = resolve(__dirname, "..");

/** The stack outputs the files are made of (index.ts exports them). */
export interface StackOutputs {
  backend?: BackendHandoff;
  DATABASE_URL?: string;
  DATABASE_MAX_CONNECTIONS?: number | string;
  MONGODB_URL?: string;
  REDIS_URL?: string;
  caCertPem?: string;
  [other: string]: unknown;
}

/** The handoff in the outputs; throws naming what is missing (an older stack, or no `up` yet). */
export function handoffFromOutputs(outputs: StackOutputs, stack: string): BackendHandoff {
  const b = outputs.backend;
  const missing = !b ? ["backend"] : (["postgres", "mongo", "redis", "tls", "jwt"] as const).filter((k) => !b[k]).map((k) => `backend.${k}`);
  if (missing.length > 0) {
    throw new Error(`stack "${stack}" has no output ${missing.join(", ")}: run \`npm run up -- ${stack}\` (or \`pulumi up --stack ${stack}\`) first`);
  }
  return b!;
}

/** Writes `file` readable by its owner only, replacing it in one step. */
function writePrivate(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600); // the umask may have narrowed it; never widened
  renameSync(tmp, file);
}

export interface WrittenFiles {
  envFile: string;
  tomlFile: string;
  caFile?: string;
}

/** Writes .env and config.toml (0600) and, with a CA, the CA file next to .env; removes a stale CA file. */
export function writeBackendFiles(outputs: StackOutputs, opts: { stack: string; envFile: string; tomlFile: string }): WrittenFiles {
  const envFile = resolve(opts.envFile);
  const tomlFile = resolve(opts.tomlFile);
  const caFile = `${envFile}.ca.pem`;
  const raw = handoffFromOutputs(outputs, opts.stack);
  const h = withCaFile(raw, caFile);
  const header = (what: string) => [`${what} written by \`npm run env\` from the outputs of the stack "${opts.stack}". It holds passwords: do not commit it.`];
  // Render both before writing either: a value no .env can hold leaves the old files in place.
  const envText = renderEnvFile(h, header("The backend's environment,"));
  const tomlText = renderConfigToml(h, header("The backend's configuration,"));
  if (raw.tls.caCertPem) writePrivate(caFile, raw.tls.caCertPem);
  else if (existsSync(caFile)) rmSync(caFile);
  writePrivate(envFile, envText);
  writePrivate(tomlFile, tomlText);
  return { envFile, tomlFile, ...(raw.tls.caCertPem ? { caFile } : {}) };
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

/** The committed examples: each file's current text and what the description renders. */
export function exampleFileStates(root = ROOT): { file: string; current: string | undefined; wanted: string }[] {
  return exampleFiles().map(({ file, text }) => {
    const p = resolve(root, file);
    return { file, current: existsSync(p) ? readFileSync(p, "utf8") : undefined, wanted: text };
  });
}

export interface EnvArgs {
  stack: string;
  out: string;
  toml: string;
  fromJson?: string;
  examples?: boolean;
  check?: boolean;
}

const USAGE = "usage: npm run env -- [stack] [--out .env] [--toml config.toml] [--from-json outputs.json] | --examples [--check]";

export function parseArgs(argv: string[]): EnvArgs {
  const a: EnvArgs = { stack: "local", out: ".env", toml: "config.toml" };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--stack" || arg === "-s") a.stack = next();
    else if (arg === "--out" || arg === "-o") a.out = next();
    else if (arg === "--toml") a.toml = next();
    else if (arg === "--from-json") a.fromJson = next();
    else if (arg === "--examples") a.examples = true;
    else if (arg === "--check") a.check = true;
    else if (!arg.startsWith("-")) a.stack = arg;
    else throw new Error(`unknown option ${arg} (${USAGE})`);
  }
  return a;
}

export function main(argv: string[], projectDir: string): string {
  const args = parseArgs(argv);
  if (args.examples) {
    const stale = exampleFileStates(projectDir).filter((f) => f.current !== f.wanted);
    if (args.check) {
      if (stale.length > 0) throw new Error(`${stale.map((f) => f.file).join(" and ")} out of date: run \`npx tsx scripts/env-file.ts --examples\` and commit`);
      return "examples up to date";
    }
    for (const f of stale) writeFileSync(resolve(projectDir, f.file), f.wanted);
    return stale.length ? `wrote ${stale.map((f) => f.file).join(", ")}` : "examples already up to date";
  }
  const outputs = args.fromJson ? (JSON.parse(readFileSync(args.fromJson, "utf8")) as StackOutputs) : readStackOutputs(args.stack, projectDir);
  const w = writeBackendFiles(outputs, { stack: args.stack, envFile: resolve(projectDir, args.out), tomlFile: resolve(projectDir, args.toml) });
  return `wrote ${w.envFile}, ${w.tomlFile}${w.caFile ? ` and ${w.caFile}` : ""} from stack "${args.stack}"`;
}

if (require.main === module) {
  try {
    console.log(main(process.argv.slice(2), ROOT));
  } catch (e) {
    console.error(`npm run env: ${(e as Error).message}`);
    process.exit(1);
  }
}
