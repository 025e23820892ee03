// The warmup's source rows, streamed from PostgreSQL with COPY … TO STDOUT: rows arrive in chunks
// as PostgreSQL produces them and are handed on as byte slices (no row objects, no text decoding
// of the values), so reading overlaps with the Redis writes and memory does not grow with the rows.
import type { Client as PgClient } from "pg";

const TEXT_TYPES = new Set([25, 1043, 1042, 19]); // text, varchar, char, name
const TIME_TYPES = new Set([1184, 1114]); // timestamptz, timestamp

export class SourceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SourceError";
  }
}

/** Checks a set's query returns `key` and `value` as text (and `expires_at` as a timestamp, if at all). */
export async function describeQuery(pg: PgClient, setName: string, query: string): Promise<{ hasExpiry: boolean }> {
  let fields: { name: string; dataTypeID: number }[];
  try {
    fields = (await pg.query(`SELECT * FROM (${query}) q LIMIT 0`)).fields;
  } catch (e) {
    throw new SourceError(`warmup set "${setName}": its query failed on PostgreSQL: ${(e as Error).message}`, { cause: e });
  }
  const type = (n: string) => fields.find((f) => f.name === n)?.dataTypeID;
  for (const col of ["key", "value"]) {
    const t = type(col);
    if (t === undefined) throw new SourceError(`warmup set "${setName}": the query returns no column "${col}" (it must return text columns key and value)`);
    if (!TEXT_TYPES.has(t)) throw new SourceError(`warmup set "${setName}": column "${col}" is not text (type oid ${t}): cast it with ::text`);
  }
  const exp = type("expires_at");
  if (exp !== undefined && !TIME_TYPES.has(exp)) throw new SourceError(`warmup set "${setName}": column "expires_at" must be a timestamptz (type oid ${exp})`);
  return { hasExpiry: exp !== undefined };
}

/** Undoes COPY text-format escaping in buf[start, end). */
function unescape(buf: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  let n = 0;
  for (let i = start; i < end; i++) {
    let c = buf[i];
    if (c === 0x5c && i + 1 < end) {
      const e = buf[++i];
      c = e === 0x6e ? 10 : e === 0x72 ? 13 : e === 0x74 ? 9 : e === 0x62 ? 8 : e === 0x66 ? 12 : e === 0x76 ? 11 : e;
    }
    out[n++] = c;
  }
  return out.subarray(0, n);
}

const isNull = (buf: Buffer, start: number, end: number) => end - start === 2 && buf[start] === 0x5c && buf[start + 1] === 0x4e; // \N

function hasBackslash(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] === 0x5c) return true;
  return false;
}

/** A field in place: buf[start, end) — unescaped into a buffer of its own only when it has escapes. */
export interface Field {
  buf: Buffer;
  start: number;
  end: number;
  /** COPY's NULL. */
  null?: boolean;
}

/** `escapes`: whether the chunk has a backslash at all (most have none: no field is then scanned). */
function field(buf: Buffer, start: number, end: number, out: Field, escapes: boolean): void {
  if (escapes && hasBackslash(buf, start, end)) {
    const b = unescape(buf, start, end);
    out.buf = b;
    out.start = 0;
    out.end = b.length;
  } else {
    out.buf = buf;
    out.start = start;
    out.end = end;
  }
}

/** Whether a field is COPY's NULL (`\N`). */
export const isNullField = (f: Field) => f.null === true;

/**
 * Streams the rows of `sql` — a SELECT whose first column is the row key — with COPY (inside the
 * caller's transaction): `onRow(fields, row)` per row with `columns` fields in place (reused for
 * the next row: copy what you keep); when it returns a promise, the next row waits for it.
 * `afterChunk()` is awaited after each network chunk (backpressure: the next chunk is read only
 * when it resolves). Returns the number of rows.
 */
export async function streamRows(
  pg: PgClient,
  setName: string,
  sql: string,
  columns: number,
  onRow: (fields: Field[], row: number) => void | Promise<void>,
  afterChunk: () => Promise<void>,
): Promise<number> {
  const { to } = require("pg-copy-streams") as typeof import("pg-copy-streams");
  const stream = pg.query(to(`COPY (${sql}) TO STDOUT`));
  let rest: Buffer | undefined;
  let rows = 0;
  const fields: Field[] = Array.from({ length: columns }, () => ({ buf: Buffer.alloc(0), start: 0, end: 0 }));
  // A failure of the consumer or of a row's shape stops the rows, not the COPY: the rest is read
  // and dropped, so the connection is usable afterwards (ROLLBACK, a pass started over).
  let failure: { error: unknown } | undefined;
  const rowsOf = async (buf: Buffer): Promise<number> => {
    let start = 0;
    const escapes = buf.includes(0x5c);
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) return start;
      rows++;
      let from = start;
      for (let c = 0; c < columns; c++) {
        const to = c === columns - 1 ? nl : buf.indexOf(0x09, from);
        if (to < 0 || to > nl) throw new SourceError(`warmup set "${setName}": row ${rows}: unexpected COPY row shape`);
        fields[c].null = escapes && isNull(buf, from, to);
        field(buf, from, to, fields[c], escapes);
        from = to + 1;
      }
      const key = fields[0];
      if (key.end === key.start || isNullField(key)) throw new SourceError(`warmup set "${setName}": row ${rows} has an empty or NULL key; the query must return a non-empty text key`);
      const wait = onRow(fields, rows);
      if (wait) await wait;
      start = nl + 1;
    }
  };
  try {
    for await (const piece of stream as AsyncIterable<Buffer>) {
      if (failure) continue;
      try {
        let buf = piece;
        if (rest) {
          // The row cut by the chunk boundary is joined alone; the rest of the chunk is read in place.
          const nl = piece.indexOf(0x0a);
          if (nl < 0) buf = Buffer.concat([rest, piece]);
          else {
            await rowsOf(Buffer.concat([rest, piece.subarray(0, nl + 1)]));
            buf = piece.subarray(nl + 1);
          }
        }
        const start = await rowsOf(buf);
        rest = start < buf.length ? Buffer.from(buf.subarray(start)) : undefined;
        await afterChunk();
      } catch (e) {
        failure = { error: e };
      }
    }
  } catch (e) {
    if (failure) throw failure.error; // PostgreSQL's error after ours: ours is the cause
    throw new SourceError(`warmup set "${setName}": reading its rows from PostgreSQL failed: ${(e as Error).message}`, { cause: e });
  }
  if (failure) throw failure.error;
  return rows;
}
