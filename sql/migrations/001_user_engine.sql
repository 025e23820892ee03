-- 001_user_engine: accounts, analysis engines, authentication (sessions, API keys and their
-- rate-limit tiers), Web3 wallet connections, and the submissions (files and URLs) bounties are
-- opened on.
--
-- Conventions for every migration in this directory:
--   * the migration engine runs each file in one transaction: no BEGIN/COMMIT, no
--     CREATE INDEX CONCURRENTLY, no psql meta-commands;
--   * every object lives in schema public (see sql/README.md for why);
--   * token amounts are NUMERIC, times are timestamptz, flexible metadata is JSONB;
--   * every foreign key states its ON DELETE: CASCADE for rows that only exist as part of their
--     parent, RESTRICT for money and history, SET NULL for optional links worth keeping.

CREATE EXTENSION IF NOT EXISTS pgcrypto;  -- crypt()/gen_salt() password hashes, digest() for key hashes
CREATE EXTENSION IF NOT EXISTS citext;    -- case-insensitive usernames and e-mail addresses
CREATE EXTENSION IF NOT EXISTS pg_trgm;   -- substring search on usernames, engine names, file names

-- An amount of tokens: 18 decimals like an ERC-20 token, up to 10^20 whole tokens; never a float.
CREATE DOMAIN token_amount AS numeric(38, 18)
    CONSTRAINT token_amount_not_negative CHECK (VALUE >= 0);

-- Formula: on UPDATE, updated_at := now() (the transaction's start time) when the row changed;
-- an UPDATE that rewrites identical values leaves updated_at alone.
CREATE FUNCTION update_updated_at_column() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION update_updated_at_column() IS
    'BEFORE UPDATE trigger: updated_at := now() when the row changed.';

-- ---------------------------------------------------------------------------------------------
-- Users
-- ---------------------------------------------------------------------------------------------
CREATE TABLE users (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username            citext NOT NULL,
    email               citext NOT NULL,
    password_hash       text,                    -- bcrypt; NULL for wallet-only accounts
    wallet_address      text,                    -- primary payout wallet (EVM)
    display_name        text,
    bio                 text,
    avatar_url          text,
    role                text NOT NULL DEFAULT 'user',
    status              text NOT NULL DEFAULT 'pending_verification',
    email_verified_at   timestamptz,
    mfa_enabled         boolean NOT NULL DEFAULT false,
    last_login_at       timestamptz,
    last_login_ip       inet,
    preferences         jsonb NOT NULL DEFAULT '{}',
    metadata            jsonb NOT NULL DEFAULT '{}',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_wallet_address_key UNIQUE (wallet_address),
    CONSTRAINT users_username_format CHECK (username ~ '^[A-Za-z0-9_.-]{3,32}$'),
    CONSTRAINT users_email_format CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'),
    CONSTRAINT users_password_hash_bcrypt CHECK (password_hash ~ '^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$'),
    CONSTRAINT users_wallet_address_format CHECK (wallet_address ~ '^0x[0-9a-fA-F]{40}$'),
    CONSTRAINT users_has_credential CHECK (password_hash IS NOT NULL OR wallet_address IS NOT NULL),
    CONSTRAINT users_role_check CHECK (role IN ('user', 'analyst', 'engine_operator', 'moderator', 'admin')),
    CONSTRAINT users_status_check CHECK (status IN ('pending_verification', 'active', 'suspended', 'banned')),
    CONSTRAINT users_avatar_url_https CHECK (avatar_url ~ '^https://'),
    CONSTRAINT users_preferences_object CHECK (jsonb_typeof(preferences) = 'object'),
    CONSTRAINT users_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
);
-- Admin console: accounts by state, newest first.
CREATE INDEX users_status_created_idx ON users (status, created_at DESC);
-- Staff directory: the few non-plain accounts.
CREATE INDEX users_staff_role_idx ON users (role) WHERE role <> 'user';
-- User search box: "name contains ...", case-insensitive.
CREATE INDEX users_username_trgm_idx ON users USING gin (lower(username::text) gin_trgm_ops);
-- Dormant-account sweep.
CREATE INDEX users_last_login_idx ON users (last_login_at);

-- ---------------------------------------------------------------------------------------------
-- Engines: automated scanners and human analysts that take part in bounties
-- ---------------------------------------------------------------------------------------------
CREATE TABLE engines (
    id                       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- An engine with bounty history must outlive nothing by accident: its operator retires it.
    owner_id                 uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    name                     text NOT NULL,
    slug                     text NOT NULL,
    engine_type              text NOT NULL,
    vendor                   text,
    version                  text,
    description              text,
    status                   text NOT NULL DEFAULT 'pending_review',
    api_endpoint             text,
    max_concurrent_analyses  integer NOT NULL DEFAULT 10,
    -- Cached copy of reputation_scores.score (kept by the 004 trigger); the Redis reputation cache reads it.
    reputation_score         numeric(7, 2) NOT NULL DEFAULT 0,
    config                   jsonb NOT NULL DEFAULT '{}',
    metadata                 jsonb NOT NULL DEFAULT '{}',
    last_heartbeat_at        timestamptz,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT engines_slug_key UNIQUE (slug),
    CONSTRAINT engines_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    CONSTRAINT engines_name_length CHECK (length(name) BETWEEN 2 AND 100),
    CONSTRAINT engines_engine_type_check CHECK (engine_type IN ('automated', 'human')),
    CONSTRAINT engines_status_check CHECK (status IN ('pending_review', 'active', 'paused', 'suspended', 'retired')),
    CONSTRAINT engines_api_endpoint_https CHECK (api_endpoint ~ '^https://'),
    CONSTRAINT engines_automated_has_endpoint CHECK (engine_type = 'human' OR api_endpoint IS NOT NULL),
    CONSTRAINT engines_max_concurrent_check CHECK (max_concurrent_analyses BETWEEN 1 AND 10000),
    CONSTRAINT engines_reputation_score_range CHECK (reputation_score BETWEEN 0 AND 1000),
    CONSTRAINT engines_config_object CHECK (jsonb_typeof(config) = 'object')
);
CREATE INDEX engines_owner_id_idx ON engines (owner_id);
-- Bounty matching and the reputation cache warmup: active engines, best first.
CREATE INDEX engines_active_reputation_idx ON engines (reputation_score DESC) WHERE status = 'active';
CREATE INDEX engines_type_status_idx ON engines (engine_type, status);
-- Engine directory search.
CREATE INDEX engines_name_trgm_idx ON engines USING gin (lower(name) gin_trgm_ops);
-- Health monitor: active engines whose heartbeat is overdue.
CREATE INDEX engines_heartbeat_idx ON engines (last_heartbeat_at) WHERE status = 'active';

-- What an engine can analyse; bounty matching looks engines up by artifact kind.
CREATE TABLE engine_capabilities (
    engine_id             uuid NOT NULL REFERENCES engines (id) ON DELETE CASCADE,
    artifact_kind         text NOT NULL,
    max_file_size_bytes   bigint,
    avg_analysis_seconds  integer,
    is_enabled            boolean NOT NULL DEFAULT true,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (engine_id, artifact_kind),
    CONSTRAINT engine_capabilities_kind_check CHECK (artifact_kind IN
        ('pe', 'elf', 'macho', 'apk', 'ipa', 'pdf', 'office', 'script', 'archive', 'email', 'url', 'other')),
    CONSTRAINT engine_capabilities_max_size_check CHECK (max_file_size_bytes > 0),
    CONSTRAINT engine_capabilities_avg_seconds_check CHECK (avg_analysis_seconds >= 0)
);
CREATE INDEX engine_capabilities_kind_idx ON engine_capabilities (artifact_kind) WHERE is_enabled;

-- ---------------------------------------------------------------------------------------------
-- Authentication: sessions, one-time tokens, API keys and their rate-limit tiers
-- ---------------------------------------------------------------------------------------------
CREATE TABLE user_sessions (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash          text NOT NULL,           -- hex SHA-256 of the session token
    refresh_token_hash  text,
    ip_address          inet,
    user_agent          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_seen_at        timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL,
    revoked_at          timestamptz,
    CONSTRAINT user_sessions_token_hash_key UNIQUE (token_hash),
    CONSTRAINT user_sessions_refresh_token_hash_key UNIQUE (refresh_token_hash),
    CONSTRAINT user_sessions_token_hash_format CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT user_sessions_refresh_hash_format CHECK (refresh_token_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT user_sessions_expiry_after_start CHECK (expires_at > created_at),
    CONSTRAINT user_sessions_revoked_after_start CHECK (revoked_at >= created_at)
);
-- "Your active sessions", revoke-all on password change, and the cascade when an account goes.
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id);
-- Purge of expired sessions.
CREATE INDEX user_sessions_expires_at_idx ON user_sessions (expires_at);

-- E-mail verification, password reset and e-mail change links; only hashes are stored.
CREATE TABLE user_verification_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose      text NOT NULL,
    token_hash   text NOT NULL,
    new_email    citext,
    expires_at   timestamptz NOT NULL,
    consumed_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_verification_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT user_verification_tokens_purpose_check CHECK (purpose IN ('email_verification', 'password_reset', 'email_change')),
    CONSTRAINT user_verification_tokens_hash_format CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT user_verification_tokens_new_email CHECK ((purpose = 'email_change') = (new_email IS NOT NULL)),
    CONSTRAINT user_verification_tokens_expiry CHECK (expires_at > created_at)
);
-- Issuing a new link invalidates the user's outstanding ones of the same purpose.
CREATE INDEX user_verification_tokens_user_purpose_idx ON user_verification_tokens (user_id, purpose);
CREATE INDEX user_verification_tokens_expires_idx ON user_verification_tokens (expires_at);

-- Rate-limit tiers: the source of truth for the Redis rate-limit database (DB 1).
CREATE TABLE api_rate_limit_tiers (
    code                        text PRIMARY KEY,
    name                        text NOT NULL,
    requests_per_minute         integer NOT NULL,
    requests_per_hour           integer NOT NULL,
    requests_per_day            integer NOT NULL,
    burst_size                  integer NOT NULL,
    max_concurrent_submissions  integer NOT NULL,
    max_file_size_bytes         bigint NOT NULL,
    monthly_submission_quota    integer,             -- NULL: unlimited
    is_default                  boolean NOT NULL DEFAULT false,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT api_rate_limit_tiers_code_format CHECK (code ~ '^[a-z][a-z0-9_]{1,31}$'),
    CONSTRAINT api_rate_limit_tiers_positive CHECK (requests_per_minute > 0 AND burst_size > 0
        AND max_concurrent_submissions > 0 AND max_file_size_bytes > 0),
    CONSTRAINT api_rate_limit_tiers_windows_ordered CHECK (requests_per_hour >= requests_per_minute
        AND requests_per_day >= requests_per_hour),
    CONSTRAINT api_rate_limit_tiers_quota_check CHECK (monthly_submission_quota > 0)
);
-- At most one tier is the default for new keys.
CREATE UNIQUE INDEX api_rate_limit_tiers_one_default_idx ON api_rate_limit_tiers (is_default) WHERE is_default;

-- Reference data the API gateway needs in every environment; operators tune the numbers later.
INSERT INTO api_rate_limit_tiers (code, name, requests_per_minute, requests_per_hour, requests_per_day,
                                  burst_size, max_concurrent_submissions, max_file_size_bytes,
                                  monthly_submission_quota, is_default)
VALUES ('free',       'Free',          60,    1000,    10000,  10,   2,   33554432,   500,  true),
       ('pro',        'Professional', 600,   20000,   200000,  50,  10,  268435456, 20000, false),
       ('enterprise', 'Enterprise',  3000,  150000,  2000000, 200,  50, 1073741824,  NULL, false),
       ('engine',     'Engine',      1200,   60000,  1000000, 100, 100, 1073741824,  NULL, false)
ON CONFLICT (code) DO NOTHING;

CREATE TABLE api_keys (
    id                            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- A key is a credential of its user (or of the user's engine) and dies with them.
    user_id                       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    engine_id                     uuid REFERENCES engines (id) ON DELETE CASCADE,
    name                          text NOT NULL,
    key_prefix                    text NOT NULL,  -- shown in the UI; identifies the key without revealing it
    key_hash                      text NOT NULL,  -- hex SHA-256 of the whole key; the key itself is never stored
    scopes                        text[] NOT NULL DEFAULT '{submissions:read}',
    -- Tiers are removed only after their keys moved elsewhere.
    tier_code                     text NOT NULL REFERENCES api_rate_limit_tiers (code) ON DELETE RESTRICT ON UPDATE CASCADE,
    requests_per_minute_override  integer,
    daily_quota_override          integer,
    allowed_cidrs                 cidr[],         -- NULL: any address
    expires_at                    timestamptz,
    last_used_at                  timestamptz,
    last_used_ip                  inet,
    revoked_at                    timestamptz,
    revoked_reason                text,
    -- Rotation chain; the predecessor row may be purged later.
    rotated_from_id               uuid REFERENCES api_keys (id) ON DELETE SET NULL,
    created_at                    timestamptz NOT NULL DEFAULT now(),
    updated_at                    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash),
    CONSTRAINT api_keys_key_prefix_key UNIQUE (key_prefix),
    CONSTRAINT api_keys_key_hash_format CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT api_keys_key_prefix_format CHECK (key_prefix ~ '^nxs_[A-Za-z0-9]{8}$'),
    CONSTRAINT api_keys_scopes_check CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY[
        'submissions:read', 'submissions:write', 'bounties:read', 'bounties:write',
        'analysis:submit', 'rewards:read', 'governance:vote', 'admin']::text[]),
    CONSTRAINT api_keys_overrides_positive CHECK (requests_per_minute_override > 0 AND daily_quota_override > 0),
    CONSTRAINT api_keys_expiry_after_creation CHECK (expires_at > created_at),
    CONSTRAINT api_keys_revocation_reason CHECK (revoked_reason IS NULL OR revoked_at IS NOT NULL),
    CONSTRAINT api_keys_not_rotated_from_self CHECK (rotated_from_id <> id)
);
-- "Your keys" page (live and revoked keys), and the cascade when an account goes.
CREATE INDEX api_keys_user_idx ON api_keys (user_id);
CREATE INDEX api_keys_engine_id_idx ON api_keys (engine_id) WHERE engine_id IS NOT NULL;
-- Moving keys between tiers, and the rate-limit warmup by tier.
CREATE INDEX api_keys_tier_code_idx ON api_keys (tier_code);
-- Expiry reminder and sweep of live keys.
CREATE INDEX api_keys_expires_at_idx ON api_keys (expires_at) WHERE revoked_at IS NULL AND expires_at IS NOT NULL;
CREATE INDEX api_keys_rotated_from_idx ON api_keys (rotated_from_id) WHERE rotated_from_id IS NOT NULL;
CREATE INDEX api_keys_scopes_idx ON api_keys USING gin (scopes);

-- Daily usage counters per key, flushed from Redis; billing and quota reports read them.
CREATE TABLE api_key_usage (
    api_key_id        uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    usage_date        date NOT NULL,
    request_count     bigint NOT NULL DEFAULT 0,
    error_count       bigint NOT NULL DEFAULT 0,
    throttled_count   bigint NOT NULL DEFAULT 0,
    submission_count  integer NOT NULL DEFAULT 0,
    bytes_uploaded    bigint NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (api_key_id, usage_date),
    CONSTRAINT api_key_usage_counts_check CHECK (request_count >= 0 AND error_count >= 0 AND throttled_count >= 0
        AND submission_count >= 0 AND bytes_uploaded >= 0 AND error_count <= request_count)
);
-- Platform-wide daily usage report.
CREATE INDEX api_key_usage_date_idx ON api_key_usage (usage_date);

-- ---------------------------------------------------------------------------------------------
-- Web3 wallets
-- ---------------------------------------------------------------------------------------------
CREATE TABLE wallet_connections (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    wallet_address   text NOT NULL,
    chain_id         bigint NOT NULL,            -- EIP-155 chain id the wallet connected on
    wallet_provider  text NOT NULL,
    is_primary       boolean NOT NULL DEFAULT false,
    signed_message   text,                       -- the sign-in message (EIP-4361) that proved ownership
    signature        text,
    verified_at      timestamptz,
    connected_at     timestamptz NOT NULL DEFAULT now(),
    disconnected_at  timestamptz,
    last_used_at     timestamptz,
    metadata         jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- A wallet belongs to one account per chain.
    CONSTRAINT wallet_connections_address_chain_key UNIQUE (wallet_address, chain_id),
    CONSTRAINT wallet_connections_address_format CHECK (wallet_address ~ '^0x[0-9a-fA-F]{40}$'),
    CONSTRAINT wallet_connections_chain_id_check CHECK (chain_id > 0),
    CONSTRAINT wallet_connections_provider_check CHECK (wallet_provider IN
        ('metamask', 'walletconnect', 'coinbase_wallet', 'ledger', 'trezor', 'safe', 'other')),
    CONSTRAINT wallet_connections_signature_format CHECK (signature ~ '^0x[0-9a-fA-F]{130}$'),
    CONSTRAINT wallet_connections_verified_has_signature CHECK (verified_at IS NULL OR signature IS NOT NULL),
    CONSTRAINT wallet_connections_disconnect_after_connect CHECK (disconnected_at >= connected_at)
);
CREATE INDEX wallet_connections_user_id_idx ON wallet_connections (user_id);
-- One primary wallet per user among connected ones.
CREATE UNIQUE INDEX wallet_connections_one_primary_idx ON wallet_connections (user_id)
    WHERE is_primary AND disconnected_at IS NULL;

-- ---------------------------------------------------------------------------------------------
-- Security audit trail
-- ---------------------------------------------------------------------------------------------
CREATE TABLE security_audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The trail outlives the account it mentions.
    user_id      uuid REFERENCES users (id) ON DELETE SET NULL,
    action       text NOT NULL,                  -- e.g. auth.login_failed, api_key.revoked
    entity_type  text,
    entity_id    text,
    success      boolean NOT NULL,
    ip_address   inet,
    user_agent   text,
    details      jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT security_audit_log_action_format CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    CONSTRAINT security_audit_log_entity_pair CHECK ((entity_type IS NULL) = (entity_id IS NULL))
);
CREATE INDEX security_audit_log_user_time_idx ON security_audit_log (user_id, created_at DESC) WHERE user_id IS NOT NULL;
CREATE INDEX security_audit_log_action_time_idx ON security_audit_log (action, created_at DESC);
CREATE INDEX security_audit_log_entity_idx ON security_audit_log (entity_type, entity_id) WHERE entity_type IS NOT NULL;
-- Append-only and time-ordered: BRIN serves retention and time-range scans at a tiny size.
CREATE INDEX security_audit_log_created_brin ON security_audit_log USING brin (created_at);
-- Brute-force detection: failed attempts from one address.
CREATE INDEX security_audit_log_failed_ip_idx ON security_audit_log (ip_address, created_at DESC) WHERE NOT success;

-- ---------------------------------------------------------------------------------------------
-- Submissions: what is analysed. A file is stored once (file_artifacts) however often submitted.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE file_artifacts (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sha256           text NOT NULL,
    sha1             text NOT NULL,
    md5              text NOT NULL,
    ssdeep           text,
    file_size_bytes  bigint NOT NULL,
    file_kind        text NOT NULL,
    mime_type        text,
    storage_uri      text NOT NULL,              -- object-store location of the sample
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT file_artifacts_sha256_key UNIQUE (sha256),
    CONSTRAINT file_artifacts_sha256_format CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    CONSTRAINT file_artifacts_sha1_format CHECK (sha1 ~ '^[0-9a-f]{40}$'),
    CONSTRAINT file_artifacts_md5_format CHECK (md5 ~ '^[0-9a-f]{32}$'),
    CONSTRAINT file_artifacts_size_check CHECK (file_size_bytes > 0),
    CONSTRAINT file_artifacts_kind_check CHECK (file_kind IN
        ('pe', 'elf', 'macho', 'apk', 'ipa', 'pdf', 'office', 'script', 'archive', 'email', 'other')),
    CONSTRAINT file_artifacts_seen_order CHECK (last_seen_at >= first_seen_at)
);
-- Threat-intel lookups arrive with whichever hash the analyst has.
CREATE INDEX file_artifacts_sha1_idx ON file_artifacts (sha1);
CREATE INDEX file_artifacts_md5_idx ON file_artifacts (md5);
CREATE INDEX file_artifacts_kind_idx ON file_artifacts (file_kind, first_seen_at DESC);

CREATE TABLE submissions (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Submissions carry bounties and payouts: accounts are suspended, not deleted, while they exist.
    submitter_id         uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    api_key_id           uuid REFERENCES api_keys (id) ON DELETE SET NULL,
    submission_type      text NOT NULL,
    file_artifact_id     uuid REFERENCES file_artifacts (id) ON DELETE RESTRICT,
    file_name            text,
    url                  text,
    url_sha256           text,                   -- hex SHA-256 of the normalized URL, for deduplication
    status               text NOT NULL DEFAULT 'pending',
    priority             smallint NOT NULL DEFAULT 3,
    tlp                  text NOT NULL DEFAULT 'amber',
    is_public            boolean NOT NULL DEFAULT false,
    tags                 text[] NOT NULL DEFAULT '{}',
    metadata             jsonb NOT NULL DEFAULT '{}',
    analysis_started_at  timestamptz,
    completed_at         timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT submissions_type_check CHECK (submission_type IN ('file', 'url')),
    CONSTRAINT submissions_target_matches_type CHECK (
        (submission_type = 'file' AND file_artifact_id IS NOT NULL AND url IS NULL AND url_sha256 IS NULL)
        OR (submission_type = 'url' AND url IS NOT NULL AND url_sha256 IS NOT NULL AND file_artifact_id IS NULL)),
    CONSTRAINT submissions_url_scheme CHECK (url ~* '^(https?|ftp)://'),
    CONSTRAINT submissions_url_sha256_format CHECK (url_sha256 ~ '^[0-9a-f]{64}$'),
    CONSTRAINT submissions_status_check CHECK (status IN ('pending', 'analyzing', 'completed', 'failed', 'expired')),
    CONSTRAINT submissions_priority_check CHECK (priority BETWEEN 1 AND 5),
    CONSTRAINT submissions_tlp_check CHECK (tlp IN ('clear', 'green', 'amber', 'red')),
    CONSTRAINT submissions_public_is_shareable CHECK (NOT is_public OR tlp IN ('clear', 'green')),
    CONSTRAINT submissions_times_ordered CHECK (analysis_started_at >= created_at AND completed_at >= created_at),
    CONSTRAINT submissions_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
);
-- "My submissions", newest first.
CREATE INDEX submissions_submitter_created_idx ON submissions (submitter_id, created_at DESC);
CREATE INDEX submissions_file_artifact_idx ON submissions (file_artifact_id) WHERE file_artifact_id IS NOT NULL;
CREATE INDEX submissions_url_sha256_idx ON submissions (url_sha256) WHERE url_sha256 IS NOT NULL;
CREATE INDEX submissions_api_key_idx ON submissions (api_key_id) WHERE api_key_id IS NOT NULL;
-- Dispatcher queue: open work by priority, oldest first.
CREATE INDEX submissions_queue_idx ON submissions (priority, created_at) WHERE status IN ('pending', 'analyzing');
-- Public feed.
CREATE INDEX submissions_public_feed_idx ON submissions (created_at DESC) WHERE is_public;
CREATE INDEX submissions_tags_idx ON submissions USING gin (tags);
CREATE INDEX submissions_metadata_idx ON submissions USING gin (metadata jsonb_path_ops);
CREATE INDEX submissions_file_name_trgm_idx ON submissions USING gin (file_name gin_trgm_ops) WHERE file_name IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Effective rate limits of every usable API key: what the Redis rate-limit warmup loads.
-- ---------------------------------------------------------------------------------------------
CREATE VIEW api_key_rate_limits AS
SELECT k.id                                                     AS api_key_id,
       k.key_hash,
       k.key_prefix,
       k.user_id,
       k.engine_id,
       k.tier_code,
       COALESCE(k.requests_per_minute_override, t.requests_per_minute) AS requests_per_minute,
       t.requests_per_hour,
       COALESCE(k.daily_quota_override, t.requests_per_day)    AS requests_per_day,
       t.burst_size,
       t.max_concurrent_submissions,
       t.max_file_size_bytes,
       t.monthly_submission_quota,
       k.scopes,
       k.expires_at
  FROM api_keys k
  JOIN api_rate_limit_tiers t ON t.code = k.tier_code
  JOIN users u ON u.id = k.user_id
  LEFT JOIN engines e ON e.id = k.engine_id
 WHERE k.revoked_at IS NULL
   AND (k.expires_at IS NULL OR k.expires_at > now())
   AND u.status = 'active'
   AND (k.engine_id IS NULL OR e.status = 'active');

-- ---------------------------------------------------------------------------------------------
-- updated_at triggers
-- ---------------------------------------------------------------------------------------------
CREATE TRIGGER set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON engines
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON engine_capabilities
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON api_rate_limit_tiers
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON api_key_usage
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON wallet_connections
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON file_artifacts
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON submissions
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
