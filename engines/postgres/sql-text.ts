// Where things are in a migration file: PostgreSQL reports positions in characters (1-based),
// libpg-query reports statement locations in UTF-8 bytes (0-based); both become file lines here.
import type { Node, ParseResult, RawStmt } from "libpg-query";

/** One top-level statement of a file, as the parser split it. */
export interface SqlStatement {
  /** 0-based index among the file's statements. */
  index: number;
  /** The statement's text, without its terminating semicolon. */
  text: string;
  /** UTF-16 offset of the statement's first character in the file text. */
  start: number;
  /** 1-based line of the statement's first character. */
  line: number;
  /** The parser's node for the statement. */
  node: Node;
}

/** Parsing failed: the parser's message and the 1-based line it points at. */
export class SqlSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
    this.name = "SqlSyntaxError";
  }
}

/** 1-based line of a UTF-16 offset into `text`. */
export function lineAtOffset(text: string, offset: number): number {
  let line = 1;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** UTF-16 offset of a 0-based code point index (PostgreSQL counts characters, JS counts UTF-16 units). */
export function offsetOfCodePoint(text: string, codePoint: number): number {
  let offset = 0;
  for (let cp = 0; cp < codePoint && offset < text.length; cp++) {
    const c = text.charCodeAt(offset);
    offset += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
  }
  return offset;
}

/** 1-based line of PostgreSQL's 1-based character `position` into `text`. */
export function lineAtPgPosition(text: string, position: number): number {
  return lineAtOffset(text, offsetOfCodePoint(text, Math.max(0, position - 1)));
}

/** Maps UTF-8 byte offsets of `text` to UTF-16 offsets. */
function byteToOffsetMapper(text: string): (byte: number) => number {
  const buf = Buffer.from(text, "utf8");
  if (buf.length === text.length) return (b) => b; // ASCII: identical
  return (b) => buf.subarray(0, b).toString("utf8").length;
}

let parser: typeof import("libpg-query") | undefined;
/** The real PostgreSQL parser, loaded on first use (it is a WebAssembly module). */
export async function pgParser(): Promise<typeof import("libpg-query")> {
  parser ??= require("libpg-query") as typeof import("libpg-query");
  return parser;
}

/** Parses `text` with PostgreSQL's own grammar and returns its top-level statements in order. */
export async function splitStatements(text: string): Promise<SqlStatement[]> {
  const { parse } = await pgParser();
  let result: ParseResult;
  try {
    result = await parse(text);
  } catch (err) {
    const details = (err as { sqlDetails?: { cursorPosition?: number } }).sqlDetails;
    const pos = details?.cursorPosition;
    const line = pos === undefined ? 1 : lineAtOffset(text, offsetOfCodePoint(text, pos));
    throw new SqlSyntaxError((err as Error).message, line);
  }
  const toOffset = byteToOffsetMapper(text);
  const raw: RawStmt[] = result.stmts ?? [];
  return raw.map((s, index) => {
    const startByte = s.stmt_location ?? 0;
    const start = toOffset(startByte);
    // stmt_len 0/absent means "to the end of the text".
    const end = s.stmt_len ? toOffset(startByte + s.stmt_len) : text.length;
    const slice = text.slice(start, end);
    // The parser counts leading comments into the first statement; skip them for the line.
    const lead = leadingTriviaLength(slice);
    return {
      index,
      text: slice.slice(lead).replace(/;\s*$/, ""),
      start: start + lead,
      line: lineAtOffset(text, start + lead),
      node: s.stmt as Node,
    };
  });
}

/** Length of the whitespace and `--`/`/* *\/` comments at the start of `s`. */
export function leadingTriviaLength(s: string): number {
  let i = 0;
  for (;;) {
    while (i < s.length && /\s/.test(s[i])) i++;
    if (s.startsWith("--", i)) {
      const nl = s.indexOf("\n", i);
      i = nl < 0 ? s.length : nl + 1;
    } else if (s.startsWith("/*", i)) {
      const close = s.indexOf("*/", i + 2);
      i = close < 0 ? s.length : close + 2;
    } else {
      return i;
    }
  }
}

/** The first line of a statement, shortened, for messages. */
export function excerpt(statement: string, max = 100): string {
  const one = statement.replace(/\s+/g, " ").trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
