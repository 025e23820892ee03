-- 005_fix_user_schema: follow-up fixes to the user tables of 001, found once 003 and the login
-- service used them.
--
-- 1. Wallet addresses: 001 accepted EIP-55 mixed case, so one wallet could be registered twice
--    (0xAbC.. and 0xabc..) and joins with the lowercase chain data of 003 missed. Existing
--    addresses are lowercased and only lowercase is accepted from now on. If two accounts hold
--    the same wallet in different case, this migration stops on the unique constraint: resolve
--    the duplicate by hand, then run it again.
-- 2. Account deletion: accounts with bounty or payout history cannot be hard-deleted (RESTRICT
--    keys), so deletion is a soft delete (deleted_at, status 'deleted'). Username, e-mail and
--    wallet become reusable once an account is deleted, and deleting one revokes its sessions,
--    API keys, wallet connections and delegations in the same transaction.
-- 3. Brute-force protection for the login service: failed_login_attempts, locked_until,
--    password_changed_at (sessions issued before it are treated as stale).
-- 4. Notification settings move out of the free-form users.preferences JSON into a table the
--    notifier can query by event and channel.
-- 5. reputation_overview no longer lists deleted accounts.
--
-- Note for deploys: the indexes below are built on the existing users/wallet_connections tables
-- without CONCURRENTLY (this migration runs in one transaction); both tables are small.

-- 1. Lowercase wallet addresses ------------------------------------------------------------------
UPDATE users SET wallet_address = lower(wallet_address) WHERE wallet_address <> lower(wallet_address);
UPDATE wallet_connections SET wallet_address = lower(wallet_address) WHERE wallet_address <> lower(wallet_address);

ALTER TABLE users DROP CONSTRAINT users_wallet_address_format;
ALTER TABLE users ADD CONSTRAINT users_wallet_address_format CHECK (wallet_address ~ '^0x[0-9a-f]{40}$');
ALTER TABLE wallet_connections DROP CONSTRAINT wallet_connections_address_format;
ALTER TABLE wallet_connections ADD CONSTRAINT wallet_connections_address_format CHECK (wallet_address ~ '^0x[0-9a-f]{40}$');

-- 2. Soft delete -------------------------------------------------------------------------------
ALTER TABLE users ADD COLUMN deleted_at timestamptz;
ALTER TABLE users DROP CONSTRAINT users_status_check;
ALTER TABLE users ADD CONSTRAINT users_status_check
    CHECK (status IN ('pending_verification', 'active', 'suspended', 'banned', 'deleted'));
ALTER TABLE users ADD CONSTRAINT users_deleted_status CHECK ((status = 'deleted') = (deleted_at IS NOT NULL));

-- Identities are unique among live accounts only.
ALTER TABLE users DROP CONSTRAINT users_username_key;
ALTER TABLE users DROP CONSTRAINT users_email_key;
ALTER TABLE users DROP CONSTRAINT users_wallet_address_key;
CREATE UNIQUE INDEX users_username_live_key ON users (username) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX users_email_live_key ON users (email) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX users_wallet_address_live_key ON users (wallet_address) WHERE deleted_at IS NULL;
-- Purge job for personal data of deleted accounts after the retention period.
CREATE INDEX users_deleted_at_idx ON users (deleted_at) WHERE deleted_at IS NOT NULL;

-- A wallet is bound to one account per chain while connected; a disconnected one may move.
ALTER TABLE wallet_connections DROP CONSTRAINT wallet_connections_address_chain_key;
CREATE UNIQUE INDEX wallet_connections_live_address_key ON wallet_connections (wallet_address, chain_id)
    WHERE disconnected_at IS NULL;
-- "Which accounts has this wallet been connected to" (abuse investigations).
CREATE INDEX wallet_connections_address_idx ON wallet_connections (wallet_address);

-- Deleting an account (deleted_at set) revokes everything that lets it act: live sessions and
-- API keys (revoked_at := now()), wallet connections (disconnected, no longer primary) and
-- governance delegations from or to it.
CREATE FUNCTION revoke_deleted_user_access() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE user_sessions SET revoked_at = now()
     WHERE user_id = NEW.id AND revoked_at IS NULL;
    UPDATE api_keys SET revoked_at = now(), revoked_reason = 'account deleted'
     WHERE user_id = NEW.id AND revoked_at IS NULL;
    UPDATE wallet_connections SET disconnected_at = GREATEST(now(), connected_at), is_primary = false
     WHERE user_id = NEW.id AND disconnected_at IS NULL;
    UPDATE governance_delegations SET revoked_at = GREATEST(now(), created_at)
     WHERE (delegator_id = NEW.id OR delegate_id = NEW.id) AND revoked_at IS NULL;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_revoke_access_on_delete AFTER UPDATE OF deleted_at ON users
    FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
    EXECUTE FUNCTION revoke_deleted_user_access();

-- 3. Login protection --------------------------------------------------------------------------
ALTER TABLE users ADD COLUMN failed_login_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until timestamptz;
ALTER TABLE users ADD COLUMN password_changed_at timestamptz;
ALTER TABLE users ADD CONSTRAINT users_failed_login_attempts_check CHECK (failed_login_attempts >= 0);

-- 4. Notification preferences ------------------------------------------------------------------
CREATE TABLE user_notification_preferences (
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_type   text NOT NULL,
    channel      text NOT NULL,
    enabled      boolean NOT NULL DEFAULT true,
    webhook_url  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, event_type, channel),
    CONSTRAINT user_notification_preferences_event_check CHECK (event_type IN
        ('analysis_completed', 'consensus_reached', 'bounty_resolved', 'reward_paid', 'dispute_updated',
         'governance_proposal', 'security_alert')),
    CONSTRAINT user_notification_preferences_channel_check CHECK (channel IN ('email', 'in_app', 'webhook')),
    CONSTRAINT user_notification_preferences_webhook_url CHECK ((channel = 'webhook') = (webhook_url IS NOT NULL)),
    CONSTRAINT user_notification_preferences_webhook_https CHECK (webhook_url ~ '^https://'),
    -- Security alerts by e-mail cannot be switched off.
    CONSTRAINT user_notification_preferences_security_email CHECK (
        NOT (event_type = 'security_alert' AND channel = 'email' AND NOT enabled))
);
-- Notifier fan-out: who wants this event on this channel.
CREATE INDEX user_notification_preferences_fanout_idx ON user_notification_preferences (event_type, channel)
    WHERE enabled;
CREATE TRIGGER set_updated_at BEFORE UPDATE ON user_notification_preferences
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- 5. Rankings without deleted accounts ---------------------------------------------------------
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
         WHERE u.deleted_at IS NULL
        UNION ALL
        SELECT 'engine'::text, e.id, e.name, e.status,
               rs.score, rs.tier_code, rs.accuracy, rs.analyses_resolved, rs.event_points,
               rs.total_events, rs.last_event_at
          FROM reputation_scores rs
          JOIN engines e ON e.id = rs.engine_id) s
  JOIN reputation_tiers t ON t.code = s.tier_code;
