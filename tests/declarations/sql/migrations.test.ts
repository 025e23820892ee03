// The migrations against a real PostgreSQL: they apply to an empty database, the catalog has
// what the spec asks for, schema.sql produces the same schema, and every .down.sql undoes its
// migration exactly.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabase, withClient, type FreshDatabase } from "../../helpers/pg";
import {
  applyMigrations,
  migrationFiles,
  psqlFile,
  revertMigration,
  schemaDump,
  SCHEMA_FILE,
} from "../../helpers/sql";

const SPEC_FUNCTIONS = [
  "update_updated_at_column",
  "get_user_total_stake",
  "calculate_voting_power",
  "calculate_reputation_score",
  "update_performance_metrics",
];
const SPEC_VIEWS = ["bounty_stats", "blockchain_activity", "reputation_overview"];
const SPEC_TABLES = [
  "users", "engines", "user_sessions", "api_keys", "wallet_connections",
  "bounties", "submissions", "bounty_participations", "analysis_results", "consensus_results", "reward_distributions",
  "blockchain_networks", "smart_contracts", "blockchain_transactions", "token_balances", "staking_pools",
  "governance_proposals", "governance_votes",
  "reputation_events", "reputation_scores", "performance_metrics", "user_expertise", "trust_relationships", "leaderboards",
];

describe("migrations on an empty database", () => {
  let db: FreshDatabase;
  const q = async <T = Record<string, unknown>>(sql: string): Promise<T[]> =>
    withClient(db.url, async (c) => (await c.query(sql)).rows as T[]);

  beforeAll(async () => {
    db = await freshDatabase("sqlmig");
    await applyMigrations(db.url);
  });
  afterAll(async () => db?.drop());

  it("applies 001 to 005 in order", () => {
    expect(migrationFiles().map((m) => m.version)).toEqual([1, 2, 3, 4, 5]);
  });

  it("has 40+ tables, 100+ indexes, the spec's functions and views", async () => {
    const [counts] = await q<{ tables: number; indexes: number; secondary: number; functions: number; views: number; triggers: number }>(`
      SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')::int AS tables,
             (SELECT count(*) FROM pg_indexes WHERE schemaname = 'public')::int AS indexes,
             (SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND NOT i.indisprimary)::int AS secondary,
             (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE n.nspname = 'public'
                 AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e'))::int AS functions,
             (SELECT count(*) FROM pg_views WHERE schemaname = 'public')::int AS views,
             (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND NOT t.tgisinternal)::int AS triggers`);
    expect(counts.tables).toBeGreaterThanOrEqual(40);
    expect(counts.indexes).toBeGreaterThanOrEqual(100);
    // Even without primary keys, the indexes alone pass the figure.
    expect(counts.secondary).toBeGreaterThanOrEqual(100);

    const tables = (await q<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)).map((r) => r.tablename);
    expect(tables).toEqual(expect.arrayContaining(SPEC_TABLES));
    expect(tables).not.toContain("schema_migrations"); // the migration engine's table

    const fns = (await q<{ proname: string }>(`SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace`)).map((r) => r.proname);
    expect(fns).toEqual(expect.arrayContaining(SPEC_FUNCTIONS));
    const views = (await q<{ viewname: string }>(`SELECT viewname FROM pg_views WHERE schemaname = 'public'`)).map((r) => r.viewname);
    expect(views).toEqual(expect.arrayContaining(SPEC_VIEWS));
    console.info(`schema catalog: ${JSON.stringify(counts)}`);
  });

  it("documents the formula of each spec function in a comment", async () => {
    const rows = await q<{ proname: string; description: string | null }>(`
      SELECT p.proname, obj_description(p.oid, 'pg_proc') AS description
        FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace`);
    const sources = migrationFiles().map((m) => readFileSync(m.upPath, "utf8")).join("\n");
    for (const name of SPEC_FUNCTIONS) {
      expect(rows.find((r) => r.proname === name)?.description, `COMMENT ON FUNCTION ${name}`).toBeTruthy();
      // The comment block right above the CREATE FUNCTION states the formula.
      const at = sources.indexOf(`CREATE FUNCTION ${name}(`);
      expect(at, name).toBeGreaterThan(0);
      const lines = sources.slice(0, at).split("\n").slice(0, -1);
      const block: string[] = [];
      while (lines.length > 0 && lines[lines.length - 1].startsWith("--")) block.unshift(lines.pop()!);
      expect(block.join("\n"), name).toMatch(/Formula/);
    }
  });

  it("puts an updated_at trigger on every table that has the column", async () => {
    const missing = await q(`
      SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
       WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attname = 'updated_at' AND NOT a.attisdropped
         AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid
                          AND t.tgfoid = 'update_updated_at_column'::regproc)`);
    expect(missing).toEqual([]);
  });

  it("states a deliberate ON DELETE on every foreign key and indexes its columns", async () => {
    const noAction = await q(`
      SELECT conrelid::regclass::text AS tbl, conname FROM pg_constraint
       WHERE contype = 'f' AND connamespace = 'public'::regnamespace AND confdeltype = 'a'`);
    expect(noAction).toEqual([]);
    // Every foreign key leads some index that serves the parent-side lookup (a partial index
    // counts only when its predicate is "<column> IS NOT NULL", which the lookup implies).
    const unindexed = await q(`
      SELECT c.conrelid::regclass::text AS tbl, c.conname
        FROM pg_constraint c
       WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
         AND NOT EXISTS (
               SELECT 1 FROM pg_index i
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = (i.indkey::int2[])[0]
                WHERE i.indrelid = c.conrelid
                  AND a.attnum = ANY (c.conkey)
                  AND (i.indpred IS NULL
                       OR pg_get_expr(i.indpred, i.indrelid) = '(' || quote_ident(a.attname) || ' IS NOT NULL)'))`);
    expect(unindexed).toEqual([]);
  });

  it("uses timestamptz, never float, and NUMERIC for every token amount", async () => {
    const bad = await q(`
      SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
         AND a.atttypid IN ('timestamp'::regtype, 'float4'::regtype, 'float8'::regtype, 'money'::regtype, 'json'::regtype)`);
    expect(bad).toEqual([]);
    const amounts = await q<{ type: string }>(`
      SELECT DISTINCT format_type(a.atttypid, a.atttypmod) AS type
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND NOT a.attisdropped
         AND (a.attname ~ '(amount|stake|staked|balance|reward|rewards)$' OR a.attname ~ '^votes_')`);
    expect(amounts.map((r) => r.type).sort()).toEqual(["token_amount"]);
  });

  it("installs only extensions that ship with PostgreSQL's contrib", async () => {
    const ext = (await q<{ extname: string }>(`SELECT extname FROM pg_extension ORDER BY 1`)).map((r) => r.extname);
    expect(ext).toEqual(["citext", "pg_trgm", "pgcrypto", "plpgsql"]);
  });

  it("keeps migration files runnable by the engine: no transaction control, CONCURRENTLY or psql commands", () => {
    for (const m of migrationFiles()) {
      for (const file of [m.upPath, m.downPath].filter((f): f is string => !!f)) {
        const code = readFileSync(file, "utf8")
          .replace(/--.*$/gm, "")
          .replace(/\$\$[^]*?\$\$/g, "$$$$");
        expect(code, file).not.toMatch(/^\s*(BEGIN|COMMIT|ROLLBACK|START TRANSACTION)\s*;/im);
        expect(code, file).not.toMatch(/\bCONCURRENTLY\b|\bCREATE\s+DATABASE\b/i);
        expect(code, file).not.toMatch(/^\s*\\/m);
      }
    }
  });
});

describe("schema.sql through psql", () => {
  it("produces the same schema as the migrations", async () => {
    const viaMigrations = await freshDatabase("sqlmiga");
    const viaPsql = await freshDatabase("sqlpsql");
    try {
      await applyMigrations(viaMigrations.url);
      await psqlFile(viaPsql.url, SCHEMA_FILE);
      const [a, b] = await Promise.all([schemaDump(viaMigrations.url), schemaDump(viaPsql.url)]);
      expect(a.length).toBeGreaterThan(10_000);
      expect(b).toEqual(a);
    } finally {
      await Promise.all([viaMigrations.drop(), viaPsql.drop()]);
    }
  });
});

describe("down migrations", () => {
  it("each .down.sql brings the schema back to the dump before its migration, and up again matches", async () => {
    const db = await freshDatabase("sqldown");
    try {
      const versions = migrationFiles().map((m) => m.version);
      const dumps: string[] = [await schemaDump(db.url)]; // dumps[i] = after migration i
      for (const v of versions) {
        await applyMigrations(db.url, { from: v, through: v });
        dumps.push(await schemaDump(db.url));
      }
      for (const v of [...versions].reverse()) {
        await revertMigration(db.url, v);
        expect(await schemaDump(db.url), `after ${v}.down.sql`).toEqual(dumps[versions.indexOf(v)]);
      }
      await applyMigrations(db.url);
      expect(await schemaDump(db.url)).toEqual(dumps[dumps.length - 1]);
    } finally {
      await db.drop();
    }
  });
});
