// The part every store's command line shares: parse, `--help`, one known command, exit status 2
// with the usage on a mistake.
import { parseArgs, type ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** What a store's `run` gets back: the command and its options, or the exit status to return. */
export type ParsedCommand<O extends Options> =
  | { command: string; values: ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true }>>["values"] }
  | { exit: number };

export function parseCommand<O extends Options>(store: string, args: string[], options: O, commands: readonly string[], usage: string): ParsedCommand<O> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { ...options, help: { type: "boolean", short: "h" } } as O });
  } catch (err) {
    console.error(`nexus-db ${store}: ${(err as Error).message}\n${usage}`);
    return { exit: 2 };
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if ((values as { help?: boolean }).help || !command) {
    console.log(usage);
    return { exit: (values as { help?: boolean }).help ? 0 : 2 };
  }
  if (!commands.includes(command) || positionals.length > 1) {
    console.error(`nexus-db ${store}: unknown command "${positionals.join(" ")}"\n${usage}`);
    return { exit: 2 };
  }
  return { command, values };
}

type OptionsWithHelp<O extends Options> = O & { help: { type: "boolean"; short: "h" } };

/** What a command without sub-commands gets back: its options (and positionals), or the exit status to return. */
export type ParsedOptions<O extends Options> =
  | { values: ReturnType<typeof parseArgs<{ args: string[]; options: OptionsWithHelp<O>; allowPositionals: true }>>["values"]; positionals: string[] }
  | { exit: number };

/**
 * The prelude of `nexus-db backup`, `restore`, `doctor`, `stats`: parse (with `--help`), the usage
 * and exit status 2 on a mistake, the usage and 0 on `--help`. Positionals are refused unless allowed.
 */
export function parseOptions<O extends Options>(command: string, args: string[], options: O, usage: string, allowPositionals = false): ParsedOptions<O> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals, options: { ...options, help: { type: "boolean", short: "h" } } as OptionsWithHelp<O> });
  } catch (err) {
    console.error(`nexus-db ${command}: ${(err as Error).message}\n${usage}`);
    return { exit: 2 };
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage);
    return { exit: 0 };
  }
  return { values: parsed.values, positionals: parsed.positionals } as ParsedOptions<O>;
}
