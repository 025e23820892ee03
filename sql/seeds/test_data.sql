-- Development and test data for the Nexus-Security schema (never for production).
--   psql -v ON_ERROR_STOP=1 -d nexus_security -f sql/seeds/test_data.sql
-- Loading it again changes nothing: every row has a fixed key and is inserted with
-- ON CONFLICT DO NOTHING (or NOT EXISTS where the key is generated), and the derived figures
-- (totals, reputation, metrics) come from the schema's triggers on the first load only.
--
-- The story the data tells (the SQL tests check the resulting figures):
--   * 5 users, password "TestPassword123!" stored as a bcrypt hash; wallets are the first five
--     accounts of the local Hardhat/Anvil test chain.
--   * 5 engines (4 automated, 1 human analyst), API keys in the rate-limit tiers.
--   * 4 submissions (3 files, 1 URL) and 4 bounties on them:
--       B1 resolved "malicious" (ClamAV and YARA right, Sandbox wrong, Carol never answered)
--       B2 in progress (ClamAV answered, Carol registered)
--       B3 resolved "benign" (Sandbox and Heuristic ML right, Carol wrong)
--       B4 open (Heuristic ML registered)
--   * Networks Ethereum, Polygon, BNB Smart Chain and the local test chain; the contract suite
--     deployed on the local chain at the deterministic Hardhat addresses.
--   * Staking, a delegation (Carol -> Alice) and one active proposal with three votes.
-- Everything is in one transaction: it loads entirely or not at all. No psql meta-commands, so
-- the migration engine's tests and the Redis warmup can load it through a driver too.

BEGIN;

-- ---------------------------------------------------------------------------------------------
-- Users (password: TestPassword123!)
-- ---------------------------------------------------------------------------------------------
INSERT INTO users (id, username, email, password_hash, wallet_address, display_name, role, status, email_verified_at, mfa_enabled)
VALUES
  ('10000000-0000-4000-8000-000000000001', 'alice', 'alice@nexus-security.test', crypt('TestPassword123!', gen_salt('bf', 10)),
   '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266', 'Alice Admin', 'admin', 'active', now(), true),
  ('10000000-0000-4000-8000-000000000002', 'bob', 'bob@nexus-security.test', crypt('TestPassword123!', gen_salt('bf', 10)),
   '0x70997970c51812dc3a010c7d01b50e0d17dc79c8', 'Bob Operator', 'engine_operator', 'active', now(), false),
  ('10000000-0000-4000-8000-000000000003', 'carol', 'carol@nexus-security.test', crypt('TestPassword123!', gen_salt('bf', 10)),
   '0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc', 'Carol Analyst', 'analyst', 'active', now(), false),
  ('10000000-0000-4000-8000-000000000004', 'dave', 'dave@nexus-security.test', crypt('TestPassword123!', gen_salt('bf', 10)),
   '0x90f79bf6eb2c4f870365e785982e1f101e93b906', 'Dave Submitter', 'user', 'active', now(), false),
  ('10000000-0000-4000-8000-000000000005', 'erin', 'erin@nexus-security.test', crypt('TestPassword123!', gen_salt('bf', 10)),
   '0x15d34aaf54267db7d7c367839aaf71a00a2c6a65', 'Erin Operator', 'engine_operator', 'active', now(), false)
ON CONFLICT (id) DO NOTHING;

INSERT INTO wallet_connections (id, user_id, wallet_address, chain_id, wallet_provider, is_primary, signed_message, signature, verified_at)
SELECT ('51000000-0000-4000-8000-00000000000' || n)::uuid, u.id, u.wallet_address, 31337, 'metamask', true,
       'nexus-security.test wants you to sign in with your Ethereum account', '0x' || repeat('ab', 65), now()
  FROM users u
  JOIN (VALUES (1, 'alice'), (2, 'bob'), (3, 'carol'), (4, 'dave'), (5, 'erin')) AS v (n, username) ON u.username = v.username
ON CONFLICT (id) DO NOTHING;

INSERT INTO user_sessions (id, user_id, token_hash, ip_address, user_agent, expires_at)
VALUES
  ('52000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001',
   encode(digest('seed-session-alice', 'sha256'), 'hex'), '192.0.2.10', 'Mozilla/5.0 (seed)', now() + interval '7 days'),
  ('52000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000004',
   encode(digest('seed-session-dave', 'sha256'), 'hex'), '192.0.2.44', 'nexus-cli/1.0 (seed)', now() + interval '7 days')
ON CONFLICT (id) DO NOTHING;

INSERT INTO user_notification_preferences (user_id, event_type, channel, enabled, webhook_url)
VALUES
  ('10000000-0000-4000-8000-000000000004', 'bounty_resolved', 'email', true, NULL),
  ('10000000-0000-4000-8000-000000000004', 'security_alert', 'email', true, NULL),
  ('10000000-0000-4000-8000-000000000002', 'reward_paid', 'webhook', true, 'https://hooks.example.test/nexus/bob')
ON CONFLICT DO NOTHING;

-- ---------------------------------------------------------------------------------------------
-- Engines and their API keys
-- ---------------------------------------------------------------------------------------------
INSERT INTO engines (id, owner_id, name, slug, engine_type, vendor, version, description, status, api_endpoint, max_concurrent_analyses, last_heartbeat_at)
VALUES
  ('20000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000002', 'ClamAV Cloud', 'clamav-cloud', 'automated',
   'Open source', '1.3.1', 'Signature scanning with ClamAV and community feeds', 'active', 'https://engines.example.test/clamav', 50, now()),
  ('20000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000002', 'YARA Hunter', 'yara-hunter', 'automated',
   'Bob Labs', '4.5.0', 'YARA rule matching against curated rule sets', 'active', 'https://engines.example.test/yara', 40, now()),
  ('20000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000005', 'Sandbox X', 'sandbox-x', 'automated',
   'Erin Security', '2.0.0', 'Dynamic analysis in an instrumented VM', 'active', 'https://engines.example.test/sandbox', 8, now()),
  ('20000000-0000-4000-8000-000000000004', '10000000-0000-4000-8000-000000000003', 'Carol (human analyst)', 'carol-analyst', 'human',
   NULL, NULL, 'Manual reverse engineering of Windows and Android malware', 'active', NULL, 2, NULL),
  ('20000000-0000-4000-8000-000000000005', '10000000-0000-4000-8000-000000000005', 'Heuristic ML', 'heuristic-ml', 'automated',
   'Erin Security', '0.9.2', 'Gradient-boosted static feature classifier', 'active', 'https://engines.example.test/ml', 100, now())
ON CONFLICT (id) DO NOTHING;

INSERT INTO engine_capabilities (engine_id, artifact_kind, max_file_size_bytes, avg_analysis_seconds)
VALUES
  ('20000000-0000-4000-8000-000000000001', 'pe', 268435456, 4),
  ('20000000-0000-4000-8000-000000000001', 'elf', 268435456, 4),
  ('20000000-0000-4000-8000-000000000001', 'pdf', 104857600, 3),
  ('20000000-0000-4000-8000-000000000001', 'apk', 268435456, 6),
  ('20000000-0000-4000-8000-000000000002', 'pe', 268435456, 2),
  ('20000000-0000-4000-8000-000000000002', 'apk', 268435456, 2),
  ('20000000-0000-4000-8000-000000000002', 'office', 104857600, 2),
  ('20000000-0000-4000-8000-000000000003', 'pe', 134217728, 240),
  ('20000000-0000-4000-8000-000000000003', 'url', NULL, 90),
  ('20000000-0000-4000-8000-000000000004', 'pe', 67108864, 7200),
  ('20000000-0000-4000-8000-000000000004', 'apk', 67108864, 7200),
  ('20000000-0000-4000-8000-000000000004', 'url', NULL, 1800),
  ('20000000-0000-4000-8000-000000000005', 'pe', 268435456, 1),
  ('20000000-0000-4000-8000-000000000005', 'pdf', 104857600, 1),
  ('20000000-0000-4000-8000-000000000005', 'url', NULL, 1)
ON CONFLICT DO NOTHING;

-- Rate-limit tiers free/pro/enterprise/engine come with migration 001.
-- Test keys: the secret of each is its name below, e.g. nxs_alice001_seed; only the hash is stored.
INSERT INTO api_keys (id, user_id, engine_id, name, key_prefix, key_hash, scopes, tier_code,
                      requests_per_minute_override, daily_quota_override, expires_at, revoked_at, revoked_reason)
VALUES
  ('50000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001', NULL, 'alice admin console',
   'nxs_alice001', encode(digest('nxs_alice001_seed', 'sha256'), 'hex'),
   '{submissions:read,submissions:write,bounties:read,bounties:write,admin}', 'pro', NULL, NULL, NULL, NULL, NULL),
  ('50000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000004', NULL, 'dave cli',
   'nxs_dave0001', encode(digest('nxs_dave0001_seed', 'sha256'), 'hex'),
   '{submissions:read,submissions:write,bounties:read}', 'free', NULL, NULL, now() + interval '90 days', NULL, NULL),
  ('50000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000001',
   'clamav-cloud worker', 'nxs_clamav01', encode(digest('nxs_clamav01_seed', 'sha256'), 'hex'),
   '{bounties:read,analysis:submit}', 'engine', NULL, NULL, NULL, NULL, NULL),
  ('50000000-0000-4000-8000-000000000004', '10000000-0000-4000-8000-000000000005', '20000000-0000-4000-8000-000000000003',
   'sandbox-x worker', 'nxs_sandbx01', encode(digest('nxs_sandbx01_seed', 'sha256'), 'hex'),
   '{bounties:read,analysis:submit}', 'engine', 2000, 1500000, NULL, NULL, NULL),
  ('50000000-0000-4000-8000-000000000005', '10000000-0000-4000-8000-000000000003', NULL, 'carol old laptop',
   'nxs_carol001', encode(digest('nxs_carol001_seed', 'sha256'), 'hex'),
   '{submissions:read}', 'enterprise', NULL, NULL, NULL, now(), 'laptop retired')
ON CONFLICT (id) DO NOTHING;

INSERT INTO api_key_usage (api_key_id, usage_date, request_count, error_count, throttled_count, submission_count, bytes_uploaded)
VALUES
  ('50000000-0000-4000-8000-000000000002', current_date - 1, 420, 3, 12, 9, 48234496),
  ('50000000-0000-4000-8000-000000000003', current_date - 1, 88310, 41, 0, 0, 0)
ON CONFLICT DO NOTHING;

INSERT INTO security_audit_log (user_id, action, entity_type, entity_id, success, ip_address, details)
SELECT v.user_id::uuid, v.action, v.entity_type, v.entity_id, v.success, v.ip::inet, v.details::jsonb
  FROM (VALUES
    ('10000000-0000-4000-8000-000000000003', 'api_key.revoked', 'api_key', '50000000-0000-4000-8000-000000000005', true,
     '192.0.2.33', '{"seed": "audit-1", "reason": "laptop retired"}'),
    ('10000000-0000-4000-8000-000000000004', 'auth.login_failed', NULL, NULL, false,
     '198.51.100.7', '{"seed": "audit-2", "reason": "bad password"}')) AS v (user_id, action, entity_type, entity_id, success, ip, details)
 WHERE NOT EXISTS (SELECT 1 FROM security_audit_log l WHERE l.details ->> 'seed' = v.details::jsonb ->> 'seed');

-- ---------------------------------------------------------------------------------------------
-- Submissions
-- ---------------------------------------------------------------------------------------------
INSERT INTO file_artifacts (id, sha256, sha1, md5, file_size_bytes, file_kind, mime_type, storage_uri)
SELECT v.id::uuid, encode(digest(v.content, 'sha256'), 'hex'), encode(digest(v.content, 'sha1'), 'hex'), md5(v.content),
       v.size, v.kind, v.mime, 's3://nexus-samples-test/' || encode(digest(v.content, 'sha256'), 'hex')
  FROM (VALUES
    ('30000000-0000-4000-8000-000000000001', 'nexus seed sample 1: invoice.exe', 482304::bigint, 'pe', 'application/vnd.microsoft.portable-executable'),
    ('30000000-0000-4000-8000-000000000002', 'nexus seed sample 2: flashlight.apk', 3145728::bigint, 'apk', 'application/vnd.android.package-archive'),
    ('30000000-0000-4000-8000-000000000004', 'nexus seed sample 4: statement.pdf', 91244::bigint, 'pdf', 'application/pdf')) AS v (id, content, size, kind, mime)
ON CONFLICT (id) DO NOTHING;

INSERT INTO submissions (id, submitter_id, api_key_id, submission_type, file_artifact_id, file_name, url, url_sha256, status, priority, tlp, is_public, tags)
VALUES
  ('31000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000004', '50000000-0000-4000-8000-000000000002', 'file',
   '30000000-0000-4000-8000-000000000001', 'invoice.exe', NULL, NULL, 'completed', 2, 'green', true, '{phishing,windows}'),
  ('31000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000004', '50000000-0000-4000-8000-000000000002', 'file',
   '30000000-0000-4000-8000-000000000002', 'flashlight.apk', NULL, NULL, 'analyzing', 3, 'amber', false, '{android}'),
  ('31000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000001', NULL, 'url',
   NULL, NULL, 'http://login.bank-example.test/verify', encode(digest('http://login.bank-example.test/verify', 'sha256'), 'hex'),
   'completed', 1, 'clear', true, '{phishing,url}'),
  ('31000000-0000-4000-8000-000000000004', '10000000-0000-4000-8000-000000000001', NULL, 'file',
   '30000000-0000-4000-8000-000000000004', 'statement.pdf', NULL, NULL, 'pending', 3, 'amber', false, '{pdf}')
ON CONFLICT (id) DO NOTHING;

-- ---------------------------------------------------------------------------------------------
-- Bounties, participations, results, consensus (the triggers do the bookkeeping)
-- ---------------------------------------------------------------------------------------------
INSERT INTO bounties (id, submission_id, creator_id, title, description, reward_amount, min_stake, min_participants, max_participants, status, deadline)
VALUES
  ('40000000-0000-4000-8000-000000000001', '31000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000004',
   'Is invoice.exe a dropper?', 'Arrived as an e-mail attachment posing as an invoice.', 100, 10, 3, 10, 'open', now() + interval '7 days'),
  ('40000000-0000-4000-8000-000000000002', '31000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000004',
   'Flashlight app with SMS permissions', 'Sideloaded APK asking for SMS and accessibility access.', 80, 10, 2, 5, 'open', now() + interval '7 days'),
  ('40000000-0000-4000-8000-000000000003', '31000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000001',
   'Bank login page lookalike?', 'Reported by a customer; looks like the bank''s sign-in page.', 50, 5, 2, 10, 'open', now() + interval '7 days'),
  ('40000000-0000-4000-8000-000000000004', '31000000-0000-4000-8000-000000000004', '10000000-0000-4000-8000-000000000001',
   'Statement PDF with embedded JavaScript', 'Opens a browser window when viewed.', 60, 10, 3, 10, 'open', now() + interval '14 days')
ON CONFLICT (id) DO NOTHING;

-- Participation ids: 41000000-...-0000000000BE (B = bounty, E = engine).
INSERT INTO bounty_participations (id, bounty_id, engine_id, staker_id, stake_amount)
VALUES
  ('41000000-0000-4000-8000-000000000011', '40000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000002', 50),
  ('41000000-0000-4000-8000-000000000012', '40000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000002', 30),
  ('41000000-0000-4000-8000-000000000013', '40000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000005', 40),
  ('41000000-0000-4000-8000-000000000014', '40000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000004', '10000000-0000-4000-8000-000000000003', 10),
  ('41000000-0000-4000-8000-000000000021', '40000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000002', 20),
  ('41000000-0000-4000-8000-000000000024', '40000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000004', '10000000-0000-4000-8000-000000000003', 25),
  ('41000000-0000-4000-8000-000000000033', '40000000-0000-4000-8000-000000000003', '20000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000005', 15),
  ('41000000-0000-4000-8000-000000000034', '40000000-0000-4000-8000-000000000003', '20000000-0000-4000-8000-000000000004', '10000000-0000-4000-8000-000000000003', 10),
  ('41000000-0000-4000-8000-000000000035', '40000000-0000-4000-8000-000000000003', '20000000-0000-4000-8000-000000000005', '10000000-0000-4000-8000-000000000005', 10),
  ('41000000-0000-4000-8000-000000000045', '40000000-0000-4000-8000-000000000004', '20000000-0000-4000-8000-000000000005', '10000000-0000-4000-8000-000000000005', 12)
ON CONFLICT (id) DO NOTHING;

INSERT INTO analysis_results (id, participation_id, bounty_id, engine_id, verdict, confidence, threat_score, malware_family,
                              threat_categories, detection_names, iocs, analysis_duration_ms, engine_version, report_document_id)
VALUES
  ('42000000-0000-4000-8000-000000000011', '41000000-0000-4000-8000-000000000011', '40000000-0000-4000-8000-000000000001',
   '20000000-0000-4000-8000-000000000001', 'malicious', 0.95, 92, 'AgentTesla', '{trojan,infostealer}', '{Win.Trojan.AgentTesla-9876}',
   '{"domains": ["cdn.invoice-example.test"], "ips": ["203.0.113.9"]}', 1200, '1.3.1', '65a000000000000000000011'),
  ('42000000-0000-4000-8000-000000000012', '41000000-0000-4000-8000-000000000012', '40000000-0000-4000-8000-000000000001',
   '20000000-0000-4000-8000-000000000002', 'malicious', 0.90, 88, 'AgentTesla', '{trojan}', '{AgentTesla_strings}',
   '{"mutexes": ["Global\\AT-1"]}', 800, '4.5.0', '65a000000000000000000012'),
  ('42000000-0000-4000-8000-000000000013', '41000000-0000-4000-8000-000000000013', '40000000-0000-4000-8000-000000000001',
   '20000000-0000-4000-8000-000000000003', 'benign', 0.60, 20, NULL, '{}', '{}',
   '{}', 240000, '2.0.0', '65a000000000000000000013'),
  ('42000000-0000-4000-8000-000000000021', '41000000-0000-4000-8000-000000000021', '40000000-0000-4000-8000-000000000002',
   '20000000-0000-4000-8000-000000000001', 'malicious', 0.80, 75, 'Joker', '{spyware,sms_fraud}', '{Andr.Spyware.Joker-1}',
   '{"domains": ["sms-billing.example.test"]}', 1800, '1.3.1', '65a000000000000000000021'),
  ('42000000-0000-4000-8000-000000000033', '41000000-0000-4000-8000-000000000033', '40000000-0000-4000-8000-000000000003',
   '20000000-0000-4000-8000-000000000003', 'benign', 0.70, 10, NULL, '{}', '{}',
   '{}', 90000, '2.0.0', '65a000000000000000000033'),
  ('42000000-0000-4000-8000-000000000034', '41000000-0000-4000-8000-000000000034', '40000000-0000-4000-8000-000000000003',
   '20000000-0000-4000-8000-000000000004', 'suspicious', 0.50, 55, NULL, '{phishing}', '{}',
   '{"urls": ["http://login.bank-example.test/verify"]}', 1500000, NULL, NULL),
  ('42000000-0000-4000-8000-000000000035', '41000000-0000-4000-8000-000000000035', '40000000-0000-4000-8000-000000000003',
   '20000000-0000-4000-8000-000000000005', 'benign', 0.85, 5, NULL, '{}', '{}',
   '{}', 300, '0.9.2', '65a000000000000000000035')
ON CONFLICT (id) DO NOTHING;

INSERT INTO consensus_results (id, bounty_id, final_verdict, confidence, agreement_ratio, algorithm, participating_engines,
                               malicious_count, suspicious_count, benign_count, unknown_count, total_stake, winning_stake, details)
VALUES
  ('43000000-0000-4000-8000-000000000001', '40000000-0000-4000-8000-000000000001', 'malicious', 0.9250, 0.6667, 'stake_weighted', 3,
   2, 0, 1, 0, 120, 80, '{"family": "AgentTesla"}'),
  ('43000000-0000-4000-8000-000000000003', '40000000-0000-4000-8000-000000000003', 'benign', 0.7750, 0.7143, 'stake_weighted', 3,
   0, 1, 2, 0, 35, 25, '{}')
ON CONFLICT (id) DO NOTHING;

INSERT INTO reward_distributions (id, bounty_id, participation_id, recipient_id, distribution_type, amount, recipient_address, status, attempts, processed_at)
VALUES
  ('44000000-0000-4000-8000-000000000001', '40000000-0000-4000-8000-000000000001', '41000000-0000-4000-8000-000000000011',
   '10000000-0000-4000-8000-000000000002', 'reward', 60, '0x70997970c51812dc3a010c7d01b50e0d17dc79c8', 'completed', 1, now()),
  ('44000000-0000-4000-8000-000000000002', '40000000-0000-4000-8000-000000000001', '41000000-0000-4000-8000-000000000012',
   '10000000-0000-4000-8000-000000000002', 'reward', 40, '0x70997970c51812dc3a010c7d01b50e0d17dc79c8', 'pending', 0, NULL),
  ('44000000-0000-4000-8000-000000000003', '40000000-0000-4000-8000-000000000001', '41000000-0000-4000-8000-000000000011',
   '10000000-0000-4000-8000-000000000002', 'stake_return', 50, '0x70997970c51812dc3a010c7d01b50e0d17dc79c8', 'completed', 1, now()),
  ('44000000-0000-4000-8000-000000000004', '40000000-0000-4000-8000-000000000001', NULL,
   NULL, 'platform_fee', 5, NULL, 'completed', 1, now()),
  ('44000000-0000-4000-8000-000000000005', '40000000-0000-4000-8000-000000000003', '41000000-0000-4000-8000-000000000033',
   '10000000-0000-4000-8000-000000000005', 'reward', 25, '0x15d34aaf54267db7d7c367839aaf71a00a2c6a65', 'completed', 1, now()),
  ('44000000-0000-4000-8000-000000000006', '40000000-0000-4000-8000-000000000003', '41000000-0000-4000-8000-000000000035',
   '10000000-0000-4000-8000-000000000005', 'reward', 25, '0x15d34aaf54267db7d7c367839aaf71a00a2c6a65', 'completed', 1, now())
ON CONFLICT (id) DO NOTHING;

INSERT INTO bounty_disputes (id, bounty_id, participation_id, raised_by, reason, evidence, status)
VALUES
  ('45000000-0000-4000-8000-000000000001', '40000000-0000-4000-8000-000000000003', '41000000-0000-4000-8000-000000000034',
   '10000000-0000-4000-8000-000000000003', 'The page harvests credentials through a hidden form post; suspicious was the right call.',
   '{"har_document_id": "65a0000000000000000000ff"}', 'open')
ON CONFLICT (id) DO NOTHING;

-- ---------------------------------------------------------------------------------------------
-- Blockchain: networks, the contract suite on the local test chain, transactions
-- ---------------------------------------------------------------------------------------------
INSERT INTO blockchain_networks (chain_id, name, slug, network_type, native_currency, rpc_url, explorer_url, block_time_ms, confirmations_required)
VALUES
  (1, 'Ethereum', 'ethereum', 'mainnet', 'ETH', 'https://ethereum-rpc.example.test', 'https://etherscan.io', 12000, 12),
  (137, 'Polygon', 'polygon', 'mainnet', 'POL', 'https://polygon-rpc.example.test', 'https://polygonscan.com', 2000, 64),
  (56, 'BNB Smart Chain', 'bsc', 'mainnet', 'BNB', 'https://bsc-rpc.example.test', 'https://bscscan.com', 3000, 15),
  (31337, 'Local test chain', 'localhost', 'local', 'ETH', 'http://127.0.0.1:8545', NULL, 1000, 1)
ON CONFLICT (chain_id) DO NOTHING;

-- The first deployments of the chain's account #0 (deterministic addresses on Hardhat and Anvil).
INSERT INTO smart_contracts (id, network_id, name, contract_type, address, version, deployment_tx_hash, deployment_block, deployer_address, deployed_at)
SELECT v.id::uuid, n.id, v.name, v.kind, v.address, '1.0.0', '0x' || encode(digest('seed-deploy-' || v.name, 'sha256'), 'hex'),
       v.block, '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266', now()
  FROM blockchain_networks n,
       (VALUES ('60000000-0000-4000-8000-000000000001', 'NexusToken', 'nexus_token', '0x5fbdb2315678afecb367f032d93f642f64180aa3', 1),
               ('60000000-0000-4000-8000-000000000002', 'BountyEscrow', 'bounty_escrow', '0xe7f1725e7734ce288f8367e1bb143e90bb3f0512', 2),
               ('60000000-0000-4000-8000-000000000003', 'NexusStaking', 'staking', '0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0', 3),
               ('60000000-0000-4000-8000-000000000004', 'NexusGovernor', 'governance', '0xcf7ed3acca5a467e9e704c703e8d87f634fb0fc9', 4),
               ('60000000-0000-4000-8000-000000000005', 'ReputationOracle', 'reputation_oracle', '0xdc64a140aa3e981100a9beca4e685f962f0cf6c9', 5),
               ('60000000-0000-4000-8000-000000000006', 'NexusTreasury', 'treasury', '0x5fc8d32690cc91d4c39d9d3abcbd16989f875707', 6))
         AS v (id, name, kind, address, block)
 WHERE n.chain_id = 31337
ON CONFLICT (id) DO NOTHING;

INSERT INTO chain_sync_cursors (contract_id, last_synced_block, sync_status, last_synced_at)
SELECT id, 111, 'running', now() FROM smart_contracts WHERE id::text LIKE '60000000-%'
ON CONFLICT (contract_id) DO NOTHING;

-- Local chain: 5 confirmed (value 8160), 1 pending, 1 failed; Polygon: 1 confirmed (value 25).
INSERT INTO blockchain_transactions (network_id, tx_hash, tx_type, from_address, to_address, contract_id, user_id, bounty_id,
                                     reward_distribution_id, value, nonce, gas_used, gas_price_wei, block_number, status,
                                     confirmations, error_message, confirmed_at)
SELECT n.id, '0x' || encode(digest(v.seed, 'sha256'), 'hex'), v.kind, v.from_addr, v.to_addr, v.contract_id::uuid, v.user_id::uuid,
       v.bounty_id::uuid, v.reward_id::uuid, v.value, v.nonce, v.gas, 1000000000, v.block, v.status,
       CASE WHEN v.block IS NULL THEN 0 ELSE 3 END, v.error, CASE WHEN v.block IS NULL THEN NULL ELSE now() END
  FROM (VALUES
    (31337, 'seed-tx-1', 'bounty_deposit', '0x90f79bf6eb2c4f870365e785982e1f101e93b906', '0xe7f1725e7734ce288f8367e1bb143e90bb3f0512',
     '60000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000004', '40000000-0000-4000-8000-000000000001', NULL,
     100::numeric, 0, 84000, 101, 'confirmed', NULL),
    (31337, 'seed-tx-2', 'stake', '0x70997970c51812dc3a010c7d01b50e0d17dc79c8', '0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0',
     '60000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000002', NULL, NULL,
     1000, 0, 65000, 102, 'confirmed', NULL),
    (31337, 'seed-tx-3', 'stake', '0x15d34aaf54267db7d7c367839aaf71a00a2c6a65', '0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0',
     '60000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000005', NULL, NULL,
     2000, 0, 65000, 103, 'confirmed', NULL),
    (31337, 'seed-tx-4', 'stake', '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266', '0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0',
     '60000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000001', NULL, NULL,
     5000, 7, 65000, 104, 'confirmed', NULL),
    (31337, 'seed-tx-5', 'reward', '0xe7f1725e7734ce288f8367e1bb143e90bb3f0512', '0x70997970c51812dc3a010c7d01b50e0d17dc79c8',
     '60000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000002', '40000000-0000-4000-8000-000000000001',
     '44000000-0000-4000-8000-000000000001', 60, 3, 52000, 110, 'confirmed', NULL),
    (31337, 'seed-tx-6', 'reward', '0xe7f1725e7734ce288f8367e1bb143e90bb3f0512', '0x70997970c51812dc3a010c7d01b50e0d17dc79c8',
     '60000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000002', '40000000-0000-4000-8000-000000000001',
     '44000000-0000-4000-8000-000000000002', 40, 4, NULL, NULL, 'pending', NULL),
    (31337, 'seed-tx-7', 'transfer', '0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc', '0x5fbdb2315678afecb367f032d93f642f64180aa3',
     '60000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000003', NULL, NULL,
     15, 1, 30000, 111, 'failed', 'execution reverted: ERC20: transfer amount exceeds balance'),
    (137, 'seed-tx-8', 'transfer', '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266', '0x90f79bf6eb2c4f870365e785982e1f101e93b906',
     NULL, '10000000-0000-4000-8000-000000000001', NULL, NULL,
     25, 12, 21000, 50000000, 'confirmed', NULL))
    AS v (chain_id, seed, kind, from_addr, to_addr, contract_id, user_id, bounty_id, reward_id, value, nonce, gas, block, status, error)
  JOIN blockchain_networks n ON n.chain_id = v.chain_id
ON CONFLICT (network_id, tx_hash) DO NOTHING;

INSERT INTO contract_events (contract_id, transaction_id, block_number, log_index, event_name, args, processed_at)
SELECT t.contract_id, t.id, t.block_number, 0, v.event_name, v.args::jsonb, now()
  FROM (VALUES ('seed-tx-1', 'BountyFunded', '{"bountyId": "1", "amount": "100000000000000000000"}'),
               ('seed-tx-2', 'Staked', '{"staker": "0x70997970c51812dc3a010c7d01b50e0d17dc79c8", "amount": "1000000000000000000000"}'))
         AS v (seed, event_name, args)
  JOIN blockchain_transactions t ON t.tx_hash = '0x' || encode(digest(v.seed, 'sha256'), 'hex')
ON CONFLICT (transaction_id, log_index) DO NOTHING;

INSERT INTO bounty_escrows (id, bounty_id, escrow_contract_id, onchain_bounty_id, amount, status, deposit_tx_id, funded_at)
SELECT '66000000-0000-4000-8000-000000000001', '40000000-0000-4000-8000-000000000001', '60000000-0000-4000-8000-000000000002',
       1, 100, 'funded', t.id, now()
  FROM blockchain_transactions t WHERE t.tx_hash = '0x' || encode(digest('seed-tx-1', 'sha256'), 'hex')
ON CONFLICT (id) DO NOTHING;

INSERT INTO token_balances (id, user_id, token_contract_id, wallet_address, balance, staked_balance, locked_balance, last_synced_block, synced_at)
SELECT ('67000000-0000-4000-8000-00000000000' || v.n)::uuid, u.id, '60000000-0000-4000-8000-000000000001', u.wallet_address,
       v.balance, v.staked, v.locked, 111, now()
  FROM (VALUES (1, 'alice', 95000::numeric, 5000::numeric, 0::numeric),
               (2, 'bob', 8500, 1500, 100),
               (3, 'carol', 1200, 300, 35),
               (4, 'dave', 400, 0, 180),
               (5, 'erin', 6100, 2000, 77)) AS v (n, username, balance, staked, locked)
  JOIN users u ON u.username = v.username
ON CONFLICT (id) DO NOTHING;

-- ---------------------------------------------------------------------------------------------
-- Staking and governance
-- ---------------------------------------------------------------------------------------------
INSERT INTO staking_pools (id, network_id, contract_id, engine_id, name, pool_type, min_stake, lockup_seconds, apr_bps)
SELECT v.id::uuid, n.id, '60000000-0000-4000-8000-000000000003', v.engine_id::uuid, v.name, v.kind, v.min_stake, v.lockup, v.apr
  FROM (VALUES ('61000000-0000-4000-8000-000000000001', NULL, 'Governance staking', 'governance', 100::numeric, 604800, 500),
               ('61000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000001', 'ClamAV Cloud bond', 'engine_bond', 500, 2592000, 800))
         AS v (id, engine_id, name, kind, min_stake, lockup, apr)
  JOIN blockchain_networks n ON n.chain_id = 31337
ON CONFLICT (id) DO NOTHING;

-- Pool totals after the trigger: governance 8300 from 4 stakers, bond 500 from 1.
INSERT INTO staking_positions (id, pool_id, user_id, wallet_address, amount, status, unlock_at, withdrawn_at)
VALUES
  ('62000000-0000-4000-8000-000000000001', '61000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000002',
   '0x70997970c51812dc3a010c7d01b50e0d17dc79c8', 1000, 'active', NULL, NULL),
  ('62000000-0000-4000-8000-000000000002', '61000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000002',
   '0x70997970c51812dc3a010c7d01b50e0d17dc79c8', 500, 'active', NULL, NULL),
  ('62000000-0000-4000-8000-000000000003', '61000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000005',
   '0x15d34aaf54267db7d7c367839aaf71a00a2c6a65', 2000, 'active', NULL, NULL),
  ('62000000-0000-4000-8000-000000000004', '61000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000003',
   '0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc', 300, 'active', NULL, NULL),
  ('62000000-0000-4000-8000-000000000005', '61000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001',
   '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266', 5000, 'active', NULL, NULL),
  ('62000000-0000-4000-8000-000000000006', '61000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001',
   '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266', 100, 'active', NULL, NULL)
ON CONFLICT (id) DO NOTHING;
-- Carol starts unbonding; Alice's small position was withdrawn (the trigger recounts the pool).
UPDATE staking_positions SET status = 'unbonding', unlock_at = staked_at + interval '7 days'
 WHERE id = '62000000-0000-4000-8000-000000000004' AND status = 'active';
UPDATE staking_positions SET status = 'withdrawn', withdrawn_at = staked_at
 WHERE id = '62000000-0000-4000-8000-000000000006' AND status = 'active';

INSERT INTO governance_delegations (id, delegator_id, delegate_id)
VALUES ('65000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000001')
ON CONFLICT (id) DO NOTHING;

INSERT INTO governance_proposals (id, proposer_id, network_id, governance_contract_id, onchain_proposal_id, title, description,
                                  proposal_type, status, voting_starts_at, voting_ends_at, quorum, execution_payload, executed_at)
SELECT v.id::uuid, v.proposer::uuid, n.id, '60000000-0000-4000-8000-000000000004', v.onchain, v.title, v.description, v.kind, v.status,
       v.starts, v.ends, 4000, v.payload::jsonb, v.executed
  FROM (VALUES
    ('63000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001', 1::numeric,
     'Raise the minimum bounty stake to 20 NXS', 'Low stakes invite guessing; raise the floor from 10 to 20 NXS.',
     'parameter_change', 'active', now() - interval '1 day', now() + interval '6 days', '{"minStake": "20"}', NULL::timestamptz),
    ('63000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000002', 0::numeric,
     'Fund the community YARA rule bounty', 'Treasury grant of 5000 NXS for shared YARA rules.',
     'treasury_spend', 'executed', now() - interval '30 days', now() - interval '23 days', '{"amount": "5000"}', now() - interval '21 days'))
    AS v (id, proposer, onchain, title, description, kind, status, starts, ends, payload, executed)
  JOIN blockchain_networks n ON n.chain_id = 31337
ON CONFLICT (id) DO NOTHING;

-- Voting power is snapshotted by the trigger: Alice 5325 (5000 + Carol's 325), Bob 1520, Erin 2012.
INSERT INTO governance_votes (id, proposal_id, voter_id, support, reason)
VALUES
  ('64000000-0000-4000-8000-000000000001', '63000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001', 'for', 'Fewer drive-by guesses.'),
  ('64000000-0000-4000-8000-000000000002', '63000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000002', 'against', 'Keeps small engines out.'),
  ('64000000-0000-4000-8000-000000000003', '63000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000005', 'for', NULL)
ON CONFLICT (id) DO NOTHING;

-- ---------------------------------------------------------------------------------------------
-- Reputation beyond what consensus recorded, expertise, trust, metrics and a leaderboard
-- ---------------------------------------------------------------------------------------------
INSERT INTO reputation_events (user_id, engine_id, event_type, points, created_by, reason, metadata)
SELECT v.user_id::uuid, v.engine_id::uuid, v.kind, v.points, v.created_by::uuid, v.reason, v.metadata::jsonb
  FROM (VALUES
    ('10000000-0000-4000-8000-000000000003', NULL, 'peer_endorsement', 15::numeric, NULL,
     'Endorsed by Alice for Android reverse engineering', '{"seed": "rep-1", "endorser": "alice"}'),
    (NULL, '20000000-0000-4000-8000-000000000005', 'manual_adjustment', 20, '10000000-0000-4000-8000-000000000001',
     'Backfill for results verified before the platform launch', '{"seed": "rep-2"}'))
    AS v (user_id, engine_id, kind, points, created_by, reason, metadata)
 WHERE NOT EXISTS (SELECT 1 FROM reputation_events e WHERE e.metadata ->> 'seed' = v.metadata::jsonb ->> 'seed');

INSERT INTO user_expertise (user_id, domain_code, level, years_experience, verified_at, verified_by)
VALUES
  ('10000000-0000-4000-8000-000000000003', 'mobile_malware', 5, 8, now(), '10000000-0000-4000-8000-000000000001'),
  ('10000000-0000-4000-8000-000000000003', 'reverse_engineering', 4, 8, now(), '10000000-0000-4000-8000-000000000001'),
  ('10000000-0000-4000-8000-000000000002', 'malware', 3, 5, NULL, NULL),
  ('10000000-0000-4000-8000-000000000005', 'phishing', 4, 6, NULL, NULL)
ON CONFLICT DO NOTHING;

INSERT INTO trust_relationships (id, truster_id, trusted_user_id, trusted_engine_id, domain_code, trust_level, note)
VALUES
  ('68000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000003', NULL,
   'mobile_malware', 0.900, 'Consistently right on Android samples'),
  ('68000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000004', NULL, '20000000-0000-4000-8000-000000000001',
   NULL, 0.750, NULL),
  ('68000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000004', NULL, '20000000-0000-4000-8000-000000000003',
   NULL, -0.250, 'Missed the AgentTesla dropper')
ON CONFLICT (id) DO NOTHING;

-- Metrics again now that payouts exist (consensus computed them before the rewards were paid).
DO $$
BEGIN
    PERFORM update_performance_metrics(p.subject, p.is_user, period.name)
       FROM (SELECT DISTINCT engine_id AS subject, false AS is_user FROM bounty_participations
             UNION
             SELECT DISTINCT staker_id, true FROM bounty_participations) p,
            unnest(ARRAY['daily', 'weekly', 'monthly', 'all_time']) AS period (name);
END
$$;

INSERT INTO leaderboards (id, board_type, metric, period, period_start, domain_code)
VALUES ('69000000-0000-4000-8000-000000000001', 'engines', 'reputation', 'all_time', DATE '1970-01-01', NULL)
ON CONFLICT DO NOTHING;

INSERT INTO leaderboard_entries (leaderboard_id, engine_id, rank, score)
SELECT '69000000-0000-4000-8000-000000000001', entity_id, rank, score
  FROM reputation_overview WHERE entity_type = 'engine'
ON CONFLICT (leaderboard_id, user_id, engine_id) DO NOTHING;

UPDATE leaderboards l
   SET entry_count = (SELECT count(*) FROM leaderboard_entries e WHERE e.leaderboard_id = l.id)
 WHERE l.id = '69000000-0000-4000-8000-000000000001'
   AND l.entry_count <> (SELECT count(*) FROM leaderboard_entries e WHERE e.leaderboard_id = l.id);

COMMIT;
