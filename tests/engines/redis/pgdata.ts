// The warmup's source of truth for tests: the project's real migrations and seed data, applied in
// order to a fresh PostgreSQL database, plus one verdict reached an hour ago (the seed's bounties
// are resolved at fixed dates, and the analysis cache only loads the last 24 hours).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { Client } from "pg";
import { freshDatabase, type FreshDatabase } from "../../helpers/pg";

const SQL_DIR = path.join(__dirname, "..", "..", "..", "sql");

export function migrationFiles(): string[] {
  const dir = path.join(SQL_DIR, "migrations");
  return readdirSync(dir)
    .filter((f) => /^\d{3}_.+\.sql$/.test(f) && !f.endsWith(".down.sql"))
    .sort()
    .map((f) => path.join(dir, f));
}

export const SEED_FILE = path.join(SQL_DIR, "seeds", "test_data.sql");

/** Applies sql/migrations/NNN_*.sql in order, then the seed file. */
export async function loadSchemaAndSeeds(c: Client): Promise<{ seeded: boolean }> {
  for (const f of migrationFiles()) {
    try {
      await c.query(`BEGIN; ${readFileSync(f, "utf8")}\n; COMMIT;`);
    } catch (e) {
      await c.query("ROLLBACK").catch(() => undefined);
      throw new Error(`${path.basename(f)}: ${(e as Error).message}`);
    }
  }
  if (!existsSync(SEED_FILE)) return { seeded: false };
  await c.query(readFileSync(SEED_FILE, "utf8"));
  return { seeded: true };
}

/** A fresh database (its name tagged) with the schema's migrations and the seed data. */
export async function seededDatabase(tag: string): Promise<FreshDatabase> {
  const db = await freshDatabase(tag);
  const c = new Client({ connectionString: db.url });
  await c.connect();
  try {
    await loadSchemaAndSeeds(c);
  } finally {
    await c.end();
  }
  return db;
}

/** A file verdict reached `hoursAgo` hours ago; returns the file's SHA-256. */
export async function addVerdict(c: Client, tag: string, hoursAgo = 1): Promise<string> {
  const { rows } = await c.query<{ sha256: string }>(
    `WITH u AS (
       INSERT INTO users (username, email, password_hash, status)
       VALUES ($1::text, $1::text || '@example.test', crypt('TestPassword123!', gen_salt('bf', 4)), 'active')
       RETURNING id),
     f AS (
       INSERT INTO file_artifacts (sha256, sha1, md5, file_size_bytes, file_kind, storage_uri)
       VALUES (encode(digest($1::text, 'sha256'), 'hex'), encode(digest($1::text, 'sha1'), 'hex'), md5($1::text), 4096, 'pe', 's3://samples/' || $1)
       RETURNING id, sha256),
     s AS (
       INSERT INTO submissions (submitter_id, submission_type, file_artifact_id, file_name, created_at)
       SELECT u.id, 'file', f.id, $1 || '.exe', now() - make_interval(hours => $2::int + 1) FROM u, f
       RETURNING id, submitter_id)
     INSERT INTO bounties (submission_id, creator_id, title, reward_amount, status, deadline, created_at)
     SELECT s.id, s.submitter_id, 'Verdict for ' || $1, 10, 'open', now() + interval '1 day', now() - make_interval(hours => $2::int + 1) FROM s
     RETURNING (SELECT sha256 FROM f)`,
    [tag, hoursAgo],
  );
  await c.query(
    `INSERT INTO consensus_results (bounty_id, final_verdict, confidence, agreement_ratio, participating_engines, malicious_count, reached_at)
     SELECT b.id, 'malicious', 0.9500, 1.0000, 1, 1, now() - make_interval(hours => $2::int)
       FROM bounties b WHERE b.title = 'Verdict for ' || $1::text`,
    [tag, hoursAgo],
  );
  return rows[0].sha256;
}

/** An active engine owned by a new user, with a live API key for the engine; returns their ids. */
export async function addEngineWithKey(c: Client, tag: string, score = 500): Promise<{ engineId: string; keyHash: string }> {
  const { rows } = await c.query<{ engine_id: string; key_hash: string }>(
    `WITH u AS (
       INSERT INTO users (username, email, password_hash, status)
       VALUES ($1::text, $1::text || '@example.test', crypt('TestPassword123!', gen_salt('bf', 4)), 'active')
       RETURNING id),
     e AS (
       INSERT INTO engines (owner_id, name, slug, engine_type, api_endpoint, status, reputation_score)
       SELECT u.id, 'Engine ' || $1::text, replace($1::text, '_', '-'), 'automated', 'https://' || replace($1::text, '_', '-') || '.example.test/scan', 'active', $2::numeric
         FROM u
       RETURNING id, owner_id)
     INSERT INTO api_keys (user_id, engine_id, name, key_prefix, key_hash, tier_code)
     SELECT e.owner_id, e.id, 'engine key', 'nxs_' || substr(md5($1::text), 1, 8), encode(digest('key-' || $1::text, 'sha256'), 'hex'), 'engine'
       FROM e
     RETURNING engine_id, key_hash`,
    [tag, score],
  );
  return { engineId: rows[0].engine_id, keyHash: rows[0].key_hash };
}
