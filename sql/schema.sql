-- Master script for psql users: applies every migration in order, in one transaction.
--   psql -v ON_ERROR_STOP=1 -d nexus_security -f sql/schema.sql
-- It applies migrations only; test data is loaded separately (sql/seeds/test_data.sql).
-- A database set up this way is adopted by the migration engine with its baseline setting.
-- Adding a migration: add its file under migrations/ and one \ir line here.
\set ON_ERROR_STOP on
BEGIN;
\ir migrations/001_user_engine.sql
\ir migrations/002_bounty_system.sql
\ir migrations/003_blockchain.sql
\ir migrations/004_reputation_system.sql
\ir migrations/005_fix_user_schema.sql
COMMIT;
