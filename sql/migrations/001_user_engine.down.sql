-- Undoes 001_user_engine, back to an empty database. It drops the extensions 001 installs:
-- if a DBA had installed one of them before 001 ran, re-create it after this script.

DROP VIEW api_key_rate_limits;

DROP TABLE submissions;
DROP TABLE file_artifacts;
DROP TABLE security_audit_log;
DROP TABLE wallet_connections;
DROP TABLE api_key_usage;
DROP TABLE api_keys;
DROP TABLE api_rate_limit_tiers;
DROP TABLE user_verification_tokens;
DROP TABLE user_sessions;
DROP TABLE engine_capabilities;
DROP TABLE engines;
DROP TABLE users;

DROP FUNCTION update_updated_at_column();
DROP DOMAIN token_amount;

DROP EXTENSION pg_trgm;
DROP EXTENSION citext;
DROP EXTENSION pgcrypto;
