-- Undoes 005_fix_user_schema. Schema only: lowercased wallet addresses stay lowercase (the
-- restored 001 checks accept them). Fails on the restored unique constraints if a deleted
-- account and a live one share a username, e-mail or wallet: resolve that first.

CREATE OR REPLACE VIEW reputation_overview AS
SELECT s.entity_type,
       s.entity_id,
       s.name,
       s.status,
       s.score,
       s.tier_code,
       t.name                                                            AS tier_name,
       t.reward_multiplier,
       s.accuracy,
       s.analyses_resolved,
       s.event_points,
       s.total_events,
       s.last_event_at,
       rank() OVER (PARTITION BY s.entity_type ORDER BY s.score DESC)     AS rank
  FROM (SELECT 'user'::text AS entity_type, u.id AS entity_id, u.username::text AS name, u.status,
               rs.score, rs.tier_code, rs.accuracy, rs.analyses_resolved, rs.event_points,
               rs.total_events, rs.last_event_at
          FROM reputation_scores rs
          JOIN users u ON u.id = rs.user_id
        UNION ALL
        SELECT 'engine'::text, e.id, e.name, e.status,
               rs.score, rs.tier_code, rs.accuracy, rs.analyses_resolved, rs.event_points,
               rs.total_events, rs.last_event_at
          FROM reputation_scores rs
          JOIN engines e ON e.id = rs.engine_id) s
  JOIN reputation_tiers t ON t.code = s.tier_code;

DROP TABLE user_notification_preferences;

ALTER TABLE users DROP CONSTRAINT users_failed_login_attempts_check;
ALTER TABLE users DROP COLUMN password_changed_at;
ALTER TABLE users DROP COLUMN locked_until;
ALTER TABLE users DROP COLUMN failed_login_attempts;

DROP TRIGGER users_revoke_access_on_delete ON users;
DROP FUNCTION revoke_deleted_user_access();

DROP INDEX wallet_connections_address_idx;
DROP INDEX wallet_connections_live_address_key;
ALTER TABLE wallet_connections ADD CONSTRAINT wallet_connections_address_chain_key UNIQUE (wallet_address, chain_id);

DROP INDEX users_deleted_at_idx;
DROP INDEX users_wallet_address_live_key;
DROP INDEX users_email_live_key;
DROP INDEX users_username_live_key;
ALTER TABLE users ADD CONSTRAINT users_username_key UNIQUE (username);
ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);
ALTER TABLE users ADD CONSTRAINT users_wallet_address_key UNIQUE (wallet_address);

ALTER TABLE users DROP CONSTRAINT users_deleted_status;
ALTER TABLE users DROP CONSTRAINT users_status_check;
ALTER TABLE users ADD CONSTRAINT users_status_check
    CHECK (status IN ('pending_verification', 'active', 'suspended', 'banned'));
ALTER TABLE users DROP COLUMN deleted_at;

ALTER TABLE wallet_connections DROP CONSTRAINT wallet_connections_address_format;
ALTER TABLE wallet_connections ADD CONSTRAINT wallet_connections_address_format CHECK (wallet_address ~ '^0x[0-9a-fA-F]{40}$');
ALTER TABLE users DROP CONSTRAINT users_wallet_address_format;
ALTER TABLE users ADD CONSTRAINT users_wallet_address_format CHECK (wallet_address ~ '^0x[0-9a-fA-F]{40}$');
