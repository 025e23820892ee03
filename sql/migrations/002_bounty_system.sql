-- 002_bounty_system: bounties on submissions, engine participations with stakes, analysis
-- results, consensus, payouts, disputes, and the bounty status history.
--
-- Life of a bounty: draft -> open -> in_progress (first result in) -> resolved (consensus row
-- inserted), or cancelled/expired. Triggers keep the bounty's totals, status history and
-- participation outcomes in step; see each function's comment for its formula.

-- ---------------------------------------------------------------------------------------------
-- Bounties
-- ---------------------------------------------------------------------------------------------
CREATE TABLE bounties (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- A bounty is the financial record of its submission and creator: neither may vanish under it.
    submission_id       uuid NOT NULL REFERENCES submissions (id) ON DELETE RESTRICT,
    creator_id          uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    title               text NOT NULL,
    description         text,
    reward_amount       token_amount NOT NULL,
    token_symbol        text NOT NULL DEFAULT 'NXS',
    min_stake           token_amount NOT NULL DEFAULT 0,
    min_participants    integer NOT NULL DEFAULT 3,
    max_participants    integer NOT NULL DEFAULT 10,
    required_consensus  numeric(5, 4) NOT NULL DEFAULT 0.6667,  -- stake share the winning verdict needs
    status              text NOT NULL DEFAULT 'draft',
    deadline            timestamptz NOT NULL,
    total_staked        token_amount NOT NULL DEFAULT 0,  -- kept by trigger from bounty_participations
    participant_count   integer NOT NULL DEFAULT 0,        -- kept by trigger from bounty_participations
    final_verdict       text,
    resolved_at         timestamptz,
    cancelled_reason    text,
    metadata            jsonb NOT NULL DEFAULT '{}',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bounties_title_length CHECK (length(title) BETWEEN 3 AND 200),
    CONSTRAINT bounties_reward_positive CHECK (reward_amount > 0),
    CONSTRAINT bounties_token_symbol_format CHECK (token_symbol ~ '^[A-Z0-9]{2,10}$'),
    CONSTRAINT bounties_participants_range CHECK (min_participants >= 1 AND max_participants BETWEEN min_participants AND 1000),
    CONSTRAINT bounties_participant_count_check CHECK (participant_count BETWEEN 0 AND max_participants),
    CONSTRAINT bounties_required_consensus_range CHECK (required_consensus > 0.5 AND required_consensus <= 1),
    CONSTRAINT bounties_status_check CHECK (status IN
        ('draft', 'open', 'in_progress', 'consensus_pending', 'resolved', 'cancelled', 'expired')),
    CONSTRAINT bounties_final_verdict_check CHECK (final_verdict IN ('malicious', 'suspicious', 'benign', 'unknown')),
    CONSTRAINT bounties_resolved_has_verdict CHECK (status <> 'resolved' OR (final_verdict IS NOT NULL AND resolved_at IS NOT NULL)),
    CONSTRAINT bounties_cancelled_has_reason CHECK (status <> 'cancelled' OR cancelled_reason IS NOT NULL),
    CONSTRAINT bounties_deadline_after_creation CHECK (deadline > created_at),
    CONSTRAINT bounties_resolved_after_creation CHECK (resolved_at >= created_at),
    CONSTRAINT bounties_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
);
CREATE INDEX bounties_submission_id_idx ON bounties (submission_id);
CREATE INDEX bounties_creator_created_idx ON bounties (creator_id, created_at DESC);
-- Bounty board: open bounties closing soonest; also the expiry job.
CREATE INDEX bounties_open_deadline_idx ON bounties (deadline) WHERE status IN ('open', 'in_progress');
-- Listings filtered by state, newest first.
CREATE INDEX bounties_status_created_idx ON bounties (status, created_at DESC);
-- Highest rewards among open bounties.
CREATE INDEX bounties_open_reward_idx ON bounties (reward_amount DESC) WHERE status IN ('open', 'in_progress');
CREATE INDEX bounties_title_trgm_idx ON bounties USING gin (lower(title) gin_trgm_ops);
CREATE INDEX bounties_metadata_idx ON bounties USING gin (metadata jsonb_path_ops);

-- Every status change of a bounty, written by trigger: the audit trail of payouts.
CREATE TABLE bounty_status_history (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bounty_id    uuid NOT NULL REFERENCES bounties (id) ON DELETE CASCADE,
    from_status  text,
    to_status    text NOT NULL,
    changed_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bounty_status_history_changed CHECK (from_status IS DISTINCT FROM to_status)
);
CREATE INDEX bounty_status_history_bounty_idx ON bounty_status_history (bounty_id, changed_at);

-- ---------------------------------------------------------------------------------------------
-- Participations and results
-- ---------------------------------------------------------------------------------------------
CREATE TABLE bounty_participations (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Stakes are money: a bounty, engine or staker with participations cannot be deleted.
    bounty_id     uuid NOT NULL REFERENCES bounties (id) ON DELETE RESTRICT,
    engine_id     uuid NOT NULL REFERENCES engines (id) ON DELETE RESTRICT,
    staker_id     uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    stake_amount  token_amount NOT NULL,
    status        text NOT NULL DEFAULT 'registered',
    joined_at     timestamptz NOT NULL DEFAULT now(),
    submitted_at  timestamptz,
    settled_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bounty_participations_bounty_engine_key UNIQUE (bounty_id, engine_id),
    -- Target of analysis_results' composite key, so a result names a consistent bounty and engine.
    CONSTRAINT bounty_participations_identity_key UNIQUE (id, bounty_id, engine_id),
    CONSTRAINT bounty_participations_status_check CHECK (status IN
        ('registered', 'analyzing', 'submitted', 'won', 'lost', 'withdrawn', 'slashed')),
    CONSTRAINT bounty_participations_submitted_time CHECK (status NOT IN ('submitted', 'won') OR submitted_at IS NOT NULL),
    CONSTRAINT bounty_participations_settled_time CHECK (status NOT IN ('won', 'lost', 'slashed') OR settled_at IS NOT NULL),
    CONSTRAINT bounty_participations_times_ordered CHECK (submitted_at >= joined_at AND settled_at >= joined_at)
);
CREATE INDEX bounty_participations_engine_idx ON bounty_participations (engine_id, joined_at DESC);
CREATE INDEX bounty_participations_staker_idx ON bounty_participations (staker_id, joined_at DESC);
-- get_user_total_stake(): stakes still locked in unsettled bounties.
CREATE INDEX bounty_participations_locked_stake_idx ON bounty_participations (staker_id)
    WHERE status IN ('registered', 'analyzing', 'submitted');
-- Engine work queue: participations still waiting for a result.
CREATE INDEX bounty_participations_pending_idx ON bounty_participations (engine_id, bounty_id)
    WHERE status IN ('registered', 'analyzing');

CREATE TABLE analysis_results (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    participation_id     uuid NOT NULL,
    bounty_id            uuid NOT NULL REFERENCES bounties (id) ON DELETE RESTRICT,
    engine_id            uuid NOT NULL REFERENCES engines (id) ON DELETE RESTRICT,
    verdict              text NOT NULL,
    confidence           numeric(5, 4) NOT NULL,
    threat_score         smallint,
    malware_family       text,
    threat_categories    text[] NOT NULL DEFAULT '{}',
    detection_names      text[] NOT NULL DEFAULT '{}',
    iocs                 jsonb NOT NULL DEFAULT '{}',
    analysis_duration_ms integer,
    engine_version       text,
    report_document_id   text,                   -- the full report in MongoDB analysis_results
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    -- The result is part of its participation: it goes when the participation goes.
    CONSTRAINT analysis_results_participation_fkey FOREIGN KEY (participation_id, bounty_id, engine_id)
        REFERENCES bounty_participations (id, bounty_id, engine_id) ON DELETE CASCADE,
    CONSTRAINT analysis_results_participation_key UNIQUE (participation_id),
    CONSTRAINT analysis_results_verdict_check CHECK (verdict IN ('malicious', 'suspicious', 'benign', 'unknown')),
    CONSTRAINT analysis_results_confidence_range CHECK (confidence BETWEEN 0 AND 1),
    CONSTRAINT analysis_results_threat_score_range CHECK (threat_score BETWEEN 0 AND 100),
    CONSTRAINT analysis_results_duration_check CHECK (analysis_duration_ms >= 0),
    CONSTRAINT analysis_results_report_id_format CHECK (report_document_id ~ '^[0-9a-f]{24}$'),
    CONSTRAINT analysis_results_iocs_object CHECK (jsonb_typeof(iocs) = 'object')
);
-- Consensus: all results of a bounty, grouped by verdict.
CREATE INDEX analysis_results_bounty_verdict_idx ON analysis_results (bounty_id, verdict);
CREATE INDEX analysis_results_engine_created_idx ON analysis_results (engine_id, created_at DESC);
-- Family pages: "all samples attributed to Emotet".
CREATE INDEX analysis_results_family_idx ON analysis_results (lower(malware_family)) WHERE malware_family IS NOT NULL;
CREATE INDEX analysis_results_categories_idx ON analysis_results USING gin (threat_categories);
-- IOC pivots: "which analyses saw this domain".
CREATE INDEX analysis_results_iocs_idx ON analysis_results USING gin (iocs jsonb_path_ops);
CREATE UNIQUE INDEX analysis_results_report_document_idx ON analysis_results (report_document_id) WHERE report_document_id IS NOT NULL;

CREATE TABLE consensus_results (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- The verdict belongs to its bounty.
    bounty_id              uuid NOT NULL REFERENCES bounties (id) ON DELETE CASCADE,
    final_verdict          text NOT NULL,
    confidence             numeric(5, 4) NOT NULL,
    agreement_ratio        numeric(5, 4) NOT NULL,   -- stake share of the winning verdict
    algorithm              text NOT NULL DEFAULT 'stake_weighted',
    participating_engines  integer NOT NULL,
    malicious_count        integer NOT NULL DEFAULT 0,
    suspicious_count       integer NOT NULL DEFAULT 0,
    benign_count           integer NOT NULL DEFAULT 0,
    unknown_count          integer NOT NULL DEFAULT 0,
    total_stake            token_amount NOT NULL DEFAULT 0,
    winning_stake          token_amount NOT NULL DEFAULT 0,
    reached_at             timestamptz NOT NULL DEFAULT now(),
    details                jsonb NOT NULL DEFAULT '{}',
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT consensus_results_bounty_key UNIQUE (bounty_id),
    CONSTRAINT consensus_results_verdict_check CHECK (final_verdict IN ('malicious', 'suspicious', 'benign', 'unknown')),
    CONSTRAINT consensus_results_ratios_range CHECK (confidence BETWEEN 0 AND 1 AND agreement_ratio BETWEEN 0 AND 1),
    CONSTRAINT consensus_results_algorithm_check CHECK (algorithm IN ('stake_weighted', 'reputation_weighted', 'majority')),
    CONSTRAINT consensus_results_counts_add_up CHECK (participating_engines > 0
        AND malicious_count >= 0 AND suspicious_count >= 0 AND benign_count >= 0 AND unknown_count >= 0
        AND malicious_count + suspicious_count + benign_count + unknown_count = participating_engines),
    CONSTRAINT consensus_results_stake_check CHECK (winning_stake <= total_stake)
);
-- Recent verdicts feed.
CREATE INDEX consensus_results_reached_idx ON consensus_results (reached_at DESC);
CREATE INDEX consensus_results_verdict_idx ON consensus_results (final_verdict, reached_at DESC);

-- ---------------------------------------------------------------------------------------------
-- Payouts and disputes
-- ---------------------------------------------------------------------------------------------
CREATE TABLE reward_distributions (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Payout records are accounting history: nothing they name may be deleted.
    bounty_id          uuid NOT NULL REFERENCES bounties (id) ON DELETE RESTRICT,
    participation_id   uuid REFERENCES bounty_participations (id) ON DELETE RESTRICT,
    recipient_id       uuid REFERENCES users (id) ON DELETE RESTRICT,
    distribution_type  text NOT NULL,
    amount             token_amount NOT NULL,
    token_symbol       text NOT NULL DEFAULT 'NXS',
    recipient_address  text,
    status             text NOT NULL DEFAULT 'pending',
    attempts           integer NOT NULL DEFAULT 0,
    processed_at       timestamptz,
    failure_reason     text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    -- One payout of each kind per participation: a retried payout job cannot pay twice.
    CONSTRAINT reward_distributions_participation_type_key UNIQUE (participation_id, distribution_type),
    CONSTRAINT reward_distributions_type_check CHECK (distribution_type IN
        ('reward', 'stake_return', 'slash', 'platform_fee', 'refund')),
    CONSTRAINT reward_distributions_amount_positive CHECK (amount > 0),
    CONSTRAINT reward_distributions_status_check CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled')),
    CONSTRAINT reward_distributions_recipient_required CHECK (distribution_type = 'platform_fee' OR recipient_id IS NOT NULL),
    CONSTRAINT reward_distributions_participant_types CHECK (
        distribution_type NOT IN ('reward', 'stake_return', 'slash') OR participation_id IS NOT NULL),
    CONSTRAINT reward_distributions_address_format CHECK (recipient_address ~ '^0x[0-9a-fA-F]{40}$'),
    CONSTRAINT reward_distributions_completed_time CHECK (status <> 'completed' OR processed_at IS NOT NULL),
    CONSTRAINT reward_distributions_failed_reason CHECK (status <> 'failed' OR failure_reason IS NOT NULL),
    CONSTRAINT reward_distributions_attempts_check CHECK (attempts >= 0)
);
CREATE INDEX reward_distributions_bounty_idx ON reward_distributions (bounty_id);
-- "My earnings", newest first.
CREATE INDEX reward_distributions_recipient_idx ON reward_distributions (recipient_id, created_at DESC) WHERE recipient_id IS NOT NULL;
-- Payout worker queue.
CREATE INDEX reward_distributions_queue_idx ON reward_distributions (status, created_at)
    WHERE status IN ('pending', 'processing', 'failed');
-- One platform fee per bounty.
CREATE UNIQUE INDEX reward_distributions_one_fee_idx ON reward_distributions (bounty_id) WHERE distribution_type = 'platform_fee';

CREATE TABLE bounty_disputes (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bounty_id         uuid NOT NULL REFERENCES bounties (id) ON DELETE RESTRICT,
    participation_id  uuid NOT NULL REFERENCES bounty_participations (id) ON DELETE RESTRICT,
    raised_by         uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    reason            text NOT NULL,
    evidence          jsonb NOT NULL DEFAULT '{}',
    status            text NOT NULL DEFAULT 'open',
    resolution        text,
    -- The decision stands even if the moderator's account is removed.
    resolved_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    resolved_at       timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bounty_disputes_reason_length CHECK (length(reason) >= 20),
    CONSTRAINT bounty_disputes_status_check CHECK (status IN ('open', 'under_review', 'upheld', 'rejected', 'withdrawn')),
    CONSTRAINT bounty_disputes_decided CHECK (status NOT IN ('upheld', 'rejected') OR (resolution IS NOT NULL AND resolved_at IS NOT NULL)),
    CONSTRAINT bounty_disputes_resolved_after_creation CHECK (resolved_at >= created_at)
);
CREATE INDEX bounty_disputes_bounty_idx ON bounty_disputes (bounty_id);
CREATE INDEX bounty_disputes_raised_by_idx ON bounty_disputes (raised_by);
CREATE INDEX bounty_disputes_participation_idx ON bounty_disputes (participation_id);
CREATE INDEX bounty_disputes_resolved_by_idx ON bounty_disputes (resolved_by) WHERE resolved_by IS NOT NULL;
-- One live dispute per participation; also the moderators' queue.
CREATE UNIQUE INDEX bounty_disputes_one_open_idx ON bounty_disputes (participation_id) WHERE status IN ('open', 'under_review');
CREATE INDEX bounty_disputes_queue_idx ON bounty_disputes (created_at) WHERE status IN ('open', 'under_review');

-- ---------------------------------------------------------------------------------------------
-- Automatic calculations
-- ---------------------------------------------------------------------------------------------

-- Refuses a participation the bounty does not allow: the bounty must be open or in progress,
-- before its deadline, and the stake at least the bounty's min_stake. Locks the bounty row so
-- concurrent joins are counted one after another.
CREATE FUNCTION check_bounty_participation() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    b record;
BEGIN
    SELECT status, deadline, min_stake INTO b FROM bounties WHERE id = NEW.bounty_id FOR UPDATE;
    IF b.status NOT IN ('open', 'in_progress') THEN
        RAISE EXCEPTION 'bounty % is %, it takes no participations', NEW.bounty_id, b.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF b.deadline <= now() THEN
        RAISE EXCEPTION 'bounty % closed at %', NEW.bounty_id, b.deadline USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.stake_amount < b.min_stake THEN
        RAISE EXCEPTION 'stake % is below the minimum stake % of bounty %', NEW.stake_amount, b.min_stake, NEW.bounty_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
-- AFTER, not BEFORE: a row skipped by INSERT ... ON CONFLICT DO NOTHING is not checked.
CREATE TRIGGER bounty_participations_check AFTER INSERT ON bounty_participations
    FOR EACH ROW EXECUTE FUNCTION check_bounty_participation();

-- Formula: bounties.total_staked = Σ stake_amount and bounties.participant_count = count(*)
-- over the bounty's participations whose status is not 'withdrawn'. Recomputed (not incremented)
-- so it cannot drift; the CHECK on participant_count enforces max_participants.
CREATE FUNCTION refresh_bounty_totals() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    affected uuid[];
BEGIN
    affected := CASE TG_OP
        WHEN 'INSERT' THEN ARRAY[NEW.bounty_id]
        WHEN 'DELETE' THEN ARRAY[OLD.bounty_id]
        ELSE ARRAY[OLD.bounty_id, NEW.bounty_id] END;
    UPDATE bounties b
       SET total_staked = t.total_staked,
           participant_count = t.participant_count
      FROM (SELECT x.bounty_id,
                   COALESCE(sum(p.stake_amount), 0) AS total_staked,
                   count(p.id)::integer AS participant_count
              FROM (SELECT DISTINCT unnest(affected)) AS x (bounty_id)  -- OLD and NEW are often the same
              LEFT JOIN bounty_participations p ON p.bounty_id = x.bounty_id AND p.status <> 'withdrawn'
             GROUP BY x.bounty_id) t
     WHERE b.id = t.bounty_id
       AND (b.total_staked, b.participant_count) IS DISTINCT FROM (t.total_staked, t.participant_count);
    RETURN NULL;
END
$$;
CREATE TRIGGER bounty_participations_totals
    AFTER INSERT OR DELETE OR UPDATE OF bounty_id, stake_amount, status ON bounty_participations
    FOR EACH ROW EXECUTE FUNCTION refresh_bounty_totals();

-- Records every status a bounty enters (from_status NULL for the first one).
CREATE FUNCTION record_bounty_status_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bounty_status_history (bounty_id, from_status, to_status)
    VALUES (NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status);
    RETURN NULL;
END
$$;
CREATE TRIGGER bounties_status_history_insert AFTER INSERT ON bounties
    FOR EACH ROW EXECUTE FUNCTION record_bounty_status_change();
CREATE TRIGGER bounties_status_history_update AFTER UPDATE OF status ON bounties
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION record_bounty_status_change();

-- A result moves its participation to 'submitted' (submitted_at := the result's created_at) and
-- an 'open' bounty to 'in_progress'. Results are refused for settled or withdrawn
-- participations and for bounties no longer taking work.
CREATE FUNCTION apply_analysis_result() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bounty_participations
       SET status = 'submitted', submitted_at = NEW.created_at
     WHERE id = NEW.participation_id AND status IN ('registered', 'analyzing');
    IF NOT FOUND THEN
        RAISE EXCEPTION 'participation % takes no result: it is not registered or analyzing', NEW.participation_id
            USING ERRCODE = 'check_violation';
    END IF;
    UPDATE bounties SET status = 'in_progress' WHERE id = NEW.bounty_id AND status = 'open';
    IF NOT FOUND AND NOT EXISTS (SELECT 1 FROM bounties WHERE id = NEW.bounty_id AND status = 'in_progress') THEN
        RAISE EXCEPTION 'bounty % takes no results in its current status', NEW.bounty_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER analysis_results_apply AFTER INSERT ON analysis_results
    FOR EACH ROW EXECUTE FUNCTION apply_analysis_result();

-- A consensus row resolves its bounty (status 'resolved', final_verdict, resolved_at :=
-- reached_at) and settles its live participations: 'won' when the participation's result has
-- the final verdict, 'lost' otherwise (including participants that never submitted).
CREATE FUNCTION apply_consensus_verdict() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bounties
       SET status = 'resolved', final_verdict = NEW.final_verdict, resolved_at = NEW.reached_at
     WHERE id = NEW.bounty_id AND status IN ('open', 'in_progress', 'consensus_pending');
    IF NOT FOUND THEN
        RAISE EXCEPTION 'bounty % cannot be resolved in its current status', NEW.bounty_id
            USING ERRCODE = 'check_violation';
    END IF;
    UPDATE bounty_participations p
       SET status = CASE WHEN EXISTS (SELECT 1 FROM analysis_results r
                                       WHERE r.participation_id = p.id AND r.verdict = NEW.final_verdict)
                         THEN 'won' ELSE 'lost' END,
           settled_at = GREATEST(NEW.reached_at, p.joined_at)
     WHERE p.bounty_id = NEW.bounty_id AND p.status IN ('registered', 'analyzing', 'submitted');
    RETURN NULL;
END
$$;
CREATE TRIGGER consensus_results_apply_verdict AFTER INSERT ON consensus_results
    FOR EACH ROW EXECUTE FUNCTION apply_consensus_verdict();

-- ---------------------------------------------------------------------------------------------
-- bounty_stats: one row per bounty with its participation, votes, consensus and payouts.
-- ---------------------------------------------------------------------------------------------
CREATE VIEW bounty_stats AS
SELECT b.id                                   AS bounty_id,
       b.title,
       b.status,
       b.creator_id,
       s.submission_type,
       b.reward_amount,
       b.token_symbol,
       b.total_staked,
       b.participant_count,
       b.max_participants,
       COALESCE(r.results_submitted, 0)       AS results_submitted,
       COALESCE(r.malicious_votes, 0)         AS malicious_votes,
       COALESCE(r.suspicious_votes, 0)        AS suspicious_votes,
       COALESCE(r.benign_votes, 0)            AS benign_votes,
       COALESCE(r.unknown_votes, 0)           AS unknown_votes,
       r.avg_confidence,
       c.final_verdict,
       c.confidence                           AS consensus_confidence,
       c.agreement_ratio,
       COALESCE(pay.rewards_paid, 0)          AS rewards_paid,
       COALESCE(pay.payouts_pending, 0)       AS payouts_pending,
       b.deadline,
       b.created_at,
       b.resolved_at,
       b.resolved_at - b.created_at           AS time_to_resolution
  FROM bounties b
  JOIN submissions s ON s.id = b.submission_id
  LEFT JOIN LATERAL (
        SELECT count(*)                                      AS results_submitted,
               count(*) FILTER (WHERE verdict = 'malicious')  AS malicious_votes,
               count(*) FILTER (WHERE verdict = 'suspicious') AS suspicious_votes,
               count(*) FILTER (WHERE verdict = 'benign')     AS benign_votes,
               count(*) FILTER (WHERE verdict = 'unknown')    AS unknown_votes,
               round(avg(confidence), 4)                      AS avg_confidence
          FROM analysis_results ar
         WHERE ar.bounty_id = b.id) r ON true
  LEFT JOIN consensus_results c ON c.bounty_id = b.id
  LEFT JOIN LATERAL (
        SELECT sum(amount) FILTER (WHERE distribution_type = 'reward' AND status = 'completed') AS rewards_paid,
               count(*) FILTER (WHERE status IN ('pending', 'processing'))                     AS payouts_pending
          FROM reward_distributions rd
         WHERE rd.bounty_id = b.id) pay ON true;

-- ---------------------------------------------------------------------------------------------
-- updated_at triggers
-- ---------------------------------------------------------------------------------------------
CREATE TRIGGER set_updated_at BEFORE UPDATE ON bounties
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON bounty_participations
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON analysis_results
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON consensus_results
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON reward_distributions
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON bounty_disputes
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
