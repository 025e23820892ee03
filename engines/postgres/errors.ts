// One error type for everything the migrator refuses or fails at, so the CLI, the provider and
// tests can tell a checksum problem from a failed statement without parsing messages.

export type MigrationErrorKind =
  /** The migration files themselves are unusable (bad names, unreadable directory, bad directive). */
  | "source"
  /** A check before anything ran: checksum, missing file, out of order, missing down file, lint. */
  | "validation"
  /** The advisory lock could not be taken in time. */
  | "lock"
  /** A statement failed; the migration was rolled back. */
  | "sql"
  /** Could not reach or talk to the database outside a migration. */
  | "connection";

export interface MigrationErrorDetails {
  /** The file the problem is in, as shown to people. */
  file?: string;
  /** 1-based line in `file`. */
  line?: number;
  /** PostgreSQL's SQLSTATE, e.g. `42P01`. */
  sqlstate?: string;
  /** Every problem found, when a validation failed for several reasons at once. */
  problems?: string[];
  cause?: unknown;
}

export class MigrationError extends Error {
  readonly file?: string;
  readonly line?: number;
  readonly sqlstate?: string;
  readonly problems: string[];

  constructor(
    readonly kind: MigrationErrorKind,
    message: string,
    details: MigrationErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "MigrationError";
    this.file = details.file;
    this.line = details.line;
    this.sqlstate = details.sqlstate;
    this.problems = details.problems ?? [message];
  }
}

/** The fields of a `pg` DatabaseError that the messages use. */
export interface PgErrorFields {
  message: string;
  code?: string;
  position?: string;
  detail?: string;
  hint?: string;
  where?: string;
  internalPosition?: string;
  internalQuery?: string;
}

export function isPgError(err: unknown): err is PgErrorFields & Error {
  return err instanceof Error && typeof (err as { code?: unknown }).code === "string" && "severity" in err;
}
