// Lint of migration files with PostgreSQL's own parser (libpg-query): statements that lose data
// or hold long locks on tables that already have rows. "Existed before" means "not created by an
// earlier statement of the same migration": the linter does not need a database.
import type { RangeVar } from "libpg-query";
import type { Migration } from "./source";
import { excerpt, splitStatements, SqlSyntaxError } from "./sql-text";

export type LintRule =
  | "drop-table"
  | "drop-column"
  | "drop-schema"
  | "alter-column-type"
  | "set-not-null"
  | "create-index-blocking"
  | "truncate"
  | "delete-without-where"
  | "update-without-where"
  | "transaction-control"
  | "syntax";

/** Rules that refuse a migration in every stack: they break the migrator's own guarantees. */
export const ALWAYS_BLOCKING: readonly LintRule[] = ["transaction-control"];

export interface LintFinding {
  rule: LintRule;
  /** The migration's name, the key `allowDestructive` takes. */
  migration: string;
  file: string;
  /** 1-based line of the statement in `file`. */
  line: number;
  message: string;
  /** The statement, shortened. */
  statement: string;
}

const WHY: Record<LintRule, string> = {
  "drop-table": "drops a table and its data",
  "drop-column": "drops a column and its data",
  "drop-schema": "drops a schema and everything in it",
  "alter-column-type": "changes a column's type: rewrites the table under an ACCESS EXCLUSIVE lock, and may lose data",
  "set-not-null": "sets NOT NULL on an existing column: scans the whole table under an ACCESS EXCLUSIVE lock, and fails if a NULL exists",
  "create-index-blocking": "creates an index without CONCURRENTLY on an existing table: blocks writes while it builds (use CREATE INDEX CONCURRENTLY in a `-- nexus:no-transaction` migration)",
  truncate: "truncates a table: deletes every row",
  "delete-without-where": "DELETE without WHERE: deletes every row",
  "update-without-where": "UPDATE without WHERE: rewrites every row",
  "transaction-control":
    "ends or starts a transaction: each migration already runs in its own, and a COMMIT inside it would record half a migration. Remove it (or mark the file `-- nexus:no-transaction`)",
  syntax: "does not parse",
};

/** Lints one migration's up file. */
export async function lintMigration(migration: Pick<Migration, "name" | "file" | "sql"> & { transactional?: boolean }): Promise<LintFinding[]> {
  const findings: LintFinding[] = [];
  const add = (rule: LintRule, line: number, statement: string, what?: string) =>
    findings.push({
      rule,
      migration: migration.name,
      file: migration.file,
      line,
      message: `${migration.file}:${line}: ${what ? `${what}: ` : ""}${WHY[rule]}`,
      statement: excerpt(statement),
    });

  let statements;
  try {
    statements = await splitStatements(migration.sql);
  } catch (err) {
    if (!(err instanceof SqlSyntaxError)) throw err;
    findings.push({ rule: "syntax", migration: migration.name, file: migration.file, line: err.line, message: `${migration.file}:${err.line}: ${err.message}`, statement: "" });
    return findings;
  }

  // What this migration itself creates: changing those cannot hurt existing data.
  const createdTables = new Set<string>();
  const addedColumns = new Set<string>();
  const isNew = (rel: RangeVar | undefined) => rel !== undefined && createdTables.has(tableKey(rel.schemaname, rel.relname));
  const columnIsNew = (rel: RangeVar | undefined, column: string | undefined) =>
    isNew(rel) || (rel !== undefined && addedColumns.has(`${tableKey(rel.schemaname, rel.relname)}.${column}`));

  for (const s of statements) {
    // libpg-query's AST is untyped JSON: one key per node kind.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const node = s.node as Record<string, any>;
    const [kind] = Object.keys(node);
    const stmt = node[kind];

    if (kind === "DropStmt") {
      if (stmt.removeType === "OBJECT_SCHEMA") {
        for (const o of stmt.objects ?? []) add("drop-schema", s.line, s.text, `schema ${o.String?.sval}`);
      } else if (stmt.removeType === "OBJECT_TABLE") {
        for (const o of stmt.objects ?? []) {
          const parts: string[] = (o.List?.items ?? []).map((i: { String?: { sval: string } }) => i.String?.sval ?? "");
          const key = parts.length > 1 ? tableKey(parts[0], parts[1]) : tableKey(undefined, parts[0]);
          if (!createdTables.has(key)) add("drop-table", s.line, s.text, `table ${parts.join(".")}`);
        }
      }
    } else if (kind === "AlterTableStmt" && stmt.objtype === "OBJECT_TABLE") {
      const rel = stmt.relation as RangeVar;
      const table = qualified(rel);
      for (const c of stmt.cmds ?? []) {
        const cmd = c.AlterTableCmd;
        if (!cmd) continue;
        switch (cmd.subtype) {
          case "AT_DropColumn":
            if (!columnIsNew(rel, cmd.name)) add("drop-column", s.line, s.text, `column ${table}.${cmd.name}`);
            break;
          case "AT_AlterColumnType":
            if (!columnIsNew(rel, cmd.name)) add("alter-column-type", s.line, s.text, `column ${table}.${cmd.name}`);
            break;
          case "AT_SetNotNull":
            if (!columnIsNew(rel, cmd.name)) add("set-not-null", s.line, s.text, `column ${table}.${cmd.name}`);
            break;
          case "AT_AddColumn": {
            const name = cmd.def?.ColumnDef?.colname;
            if (name) addedColumns.add(`${tableKey(rel.schemaname, rel.relname)}.${name}`);
            break;
          }
        }
      }
    } else if (kind === "IndexStmt") {
      if (!stmt.concurrent && !isNew(stmt.relation)) add("create-index-blocking", s.line, s.text, `index on ${qualified(stmt.relation)}`);
    } else if (kind === "TransactionStmt") {
      if (migration.transactional !== false && TRANSACTION_ENDS.has(stmt.kind)) add("transaction-control", s.line, s.text);
    } else if (kind === "TruncateStmt") {
      for (const r of stmt.relations ?? []) if (!isNew(r.RangeVar)) add("truncate", s.line, s.text, `table ${qualified(r.RangeVar)}`);
    }

    // DELETE/UPDATE can hide in CTEs, so look through the whole statement.
    walk(s.node, (n) => {
      const del = n.DeleteStmt as { relation?: RangeVar; whereClause?: unknown } | undefined;
      if (del && !del.whereClause && !isNew(del.relation)) add("delete-without-where", s.line, s.text, `table ${qualified(del.relation)}`);
      const upd = n.UpdateStmt as { relation?: RangeVar; whereClause?: unknown } | undefined;
      if (upd && !upd.whereClause && !isNew(upd.relation)) add("update-without-where", s.line, s.text, `table ${qualified(upd.relation)}`);
    });

    if (kind === "CreateStmt") createdTables.add(tableKey(stmt.relation?.schemaname, stmt.relation?.relname));
    if (kind === "CreateTableAsStmt") createdTables.add(tableKey(stmt.into?.rel?.schemaname, stmt.into?.rel?.relname));
  }
  return findings;
}

/** Transaction statements that would end the migrator's transaction (savepoints are fine). */
const TRANSACTION_ENDS = new Set(["TRANS_STMT_BEGIN", "TRANS_STMT_START", "TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_PREPARE", "TRANS_STMT_COMMIT_PREPARED", "TRANS_STMT_ROLLBACK_PREPARED"]);

/** Lints several migrations, in order. */
export async function lintMigrations(migrations: readonly (Pick<Migration, "name" | "file" | "sql"> & { transactional?: boolean })[]): Promise<LintFinding[]> {
  const all: LintFinding[] = [];
  for (const m of migrations) all.push(...(await lintMigration(m)));
  return all;
}

/** Unqualified names and `public.` names are the same table (the default search_path). */
function tableKey(schema: string | undefined, table: string | undefined): string {
  return !schema || schema === "public" ? `${table}` : `${schema}.${table}`;
}

function qualified(rel: RangeVar | undefined): string {
  return rel ? (rel.schemaname ? `${rel.schemaname}.${rel.relname}` : `${rel.relname}`) : "?";
}

function walk(node: unknown, visit: (n: Record<string, unknown>) => void): void {
  if (Array.isArray(node)) {
    for (const n of node) walk(n, visit);
  } else if (node && typeof node === "object") {
    visit(node as Record<string, unknown>);
    for (const v of Object.values(node)) walk(v, visit);
  }
}

