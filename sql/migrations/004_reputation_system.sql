-- 004_reputation_system: reputation events and scores, performance metrics, expertise, trust
-- between participants, and leaderboards.
--
-- The pipeline, all inside the transaction that stores a consensus:
--   consensus_results INSERT -> participations settled (002) -> reputation_events per engine and
--   staker (record_consensus_reputation) -> reputation_scores and engines.reputation_score
--   (refresh_reputation_score) and performance_metrics (update_performance_metrics).

-- ---------------------------------------------------------------------------------------------
-- Reference data
-- ---------------------------------------------------------------------------------------------
CREATE TABLE reputation_tiers (
    code                     text PRIMARY KEY,
    name                     text NOT NULL,
    min_score                numeric(7, 2) NOT NULL,
    reward_multiplier        numeric(4, 2) NOT NULL,   -- applied to bounty rewards of the tier
    max_concurrent_bounties  integer NOT NULL,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reputation_tiers_min_score_key UNIQUE (min_score),
    CONSTRAINT reputation_tiers_code_format CHECK (code ~ '^[a-z][a-z0-9_]{1,31}$'),
    CONSTRAINT reputation_tiers_min_score_range CHECK (min_score BETWEEN 0 AND 1000),
    CONSTRAINT reputation_tiers_multiplier_range CHECK (reward_multiplier > 0 AND reward_multiplier <= 10),
    CONSTRAINT reputation_tiers_concurrency_check CHECK (max_concurrent_bounties > 0)
);
-- The ladder refresh_reputation_score() assigns from; every score falls in one tier (bronze starts at 0).
INSERT INTO reputation_tiers (code, name, min_score, reward_multiplier, max_concurrent_bounties)
VALUES ('bronze',   'Bronze',     0, 1.00,  3),
       ('silver',   'Silver',   300, 1.10,  5),
       ('gold',     'Gold',     500, 1.25, 10),
       ('platinum', 'Platinum', 700, 1.50, 20),
       ('diamond',  'Diamond',  900, 2.00, 50)
ON CONFLICT (code) DO NOTHING;

CREATE TABLE expertise_domains (
    code         text PRIMARY KEY,
    name         text NOT NULL,
    description  text,
    -- Sub-domains are re-parented before a parent is removed.
    parent_code  text REFERENCES expertise_domains (code) ON DELETE RESTRICT,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT expertise_domains_code_format CHECK (code ~ '^[a-z][a-z0-9_]{1,47}$'),
    CONSTRAINT expertise_domains_not_own_parent CHECK (parent_code <> code)
);
CREATE INDEX expertise_domains_parent_idx ON expertise_domains (parent_code) WHERE parent_code IS NOT NULL;

INSERT INTO expertise_domains (code, name, parent_code)
VALUES ('malware', 'Malware analysis', NULL),
       ('ransomware', 'Ransomware', 'malware'),
       ('banking_trojan', 'Banking trojans', 'malware'),
       ('spyware', 'Spyware and stalkerware', 'malware'),
       ('botnet', 'Botnets and loaders', 'malware'),
       ('cryptomining', 'Cryptojacking', 'malware'),
       ('mobile_malware', 'Mobile malware', 'malware'),
       ('document_malware', 'Malicious documents', 'malware'),
       ('apt', 'Targeted intrusions (APT)', NULL),
       ('phishing', 'Phishing and credential theft', NULL),
       ('web_threats', 'Malicious URLs and web exploits', NULL),
       ('exploits', 'Exploits and vulnerabilities', NULL),
       ('reverse_engineering', 'Reverse engineering', NULL),
       ('network_forensics', 'Network forensics', NULL)
ON CONFLICT (code) DO NOTHING;

-- ---------------------------------------------------------------------------------------------
-- Reputation
-- ---------------------------------------------------------------------------------------------
CREATE TABLE reputation_events (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Exactly one subject. Events are personal data of their subject and go with it.
    user_id             uuid REFERENCES users (id) ON DELETE CASCADE,
    engine_id           uuid REFERENCES engines (id) ON DELETE CASCADE,
    event_type          text NOT NULL,
    points              numeric(8, 2) NOT NULL,
    -- What caused the event; the event (and the score built on it) stays if the cause is purged.
    bounty_id           uuid REFERENCES bounties (id) ON DELETE SET NULL,
    analysis_result_id  uuid REFERENCES analysis_results (id) ON DELETE SET NULL,
    created_by          uuid REFERENCES users (id) ON DELETE SET NULL,  -- moderator of a manual adjustment
    reason              text,
    metadata            jsonb NOT NULL DEFAULT '{}',
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reputation_events_one_subject CHECK (num_nonnulls(user_id, engine_id) = 1),
    CONSTRAINT reputation_events_type_check CHECK (event_type IN
        ('analysis_correct', 'analysis_incorrect', 'analysis_missed', 'bounty_won', 'bounty_lost',
         'stake_slashed', 'dispute_upheld', 'dispute_rejected', 'peer_endorsement', 'manual_adjustment')),
    CONSTRAINT reputation_events_points_range CHECK (points <> 0 AND points BETWEEN -1000 AND 1000),
    CONSTRAINT reputation_events_manual_reason CHECK (event_type <> 'manual_adjustment' OR reason IS NOT NULL)
);
-- Reputation history pages and calculate_reputation_score().
CREATE INDEX reputation_events_user_idx ON reputation_events (user_id, created_at DESC) WHERE user_id IS NOT NULL;
CREATE INDEX reputation_events_engine_idx ON reputation_events (engine_id, created_at DESC) WHERE engine_id IS NOT NULL;
CREATE INDEX reputation_events_bounty_idx ON reputation_events (bounty_id) WHERE bounty_id IS NOT NULL;
CREATE INDEX reputation_events_result_idx ON reputation_events (analysis_result_id) WHERE analysis_result_id IS NOT NULL;
CREATE INDEX reputation_events_created_by_idx ON reputation_events (created_by) WHERE created_by IS NOT NULL;
CREATE INDEX reputation_events_type_time_idx ON reputation_events (event_type, created_at DESC);

-- Current score of each user and engine, with its parts; written by refresh_reputation_score().
CREATE TABLE reputation_scores (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id            uuid REFERENCES users (id) ON DELETE CASCADE,
    engine_id          uuid REFERENCES engines (id) ON DELETE CASCADE,
    score              numeric(7, 2) NOT NULL,
    event_points       numeric(12, 2) NOT NULL DEFAULT 0,
    analyses_resolved  integer NOT NULL DEFAULT 0,
    analyses_correct   integer NOT NULL DEFAULT 0,
    accuracy           numeric(5, 4),
    -- A tier in use cannot be removed from the ladder.
    tier_code          text NOT NULL REFERENCES reputation_tiers (code) ON DELETE RESTRICT ON UPDATE CASCADE,
    total_events       integer NOT NULL DEFAULT 0,
    last_event_at      timestamptz,
    calculated_at      timestamptz NOT NULL DEFAULT now(),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reputation_scores_user_key UNIQUE (user_id),
    CONSTRAINT reputation_scores_engine_key UNIQUE (engine_id),
    CONSTRAINT reputation_scores_one_subject CHECK (num_nonnulls(user_id, engine_id) = 1),
    CONSTRAINT reputation_scores_score_range CHECK (score BETWEEN 0 AND 1000),
    CONSTRAINT reputation_scores_counts_check CHECK (analyses_correct BETWEEN 0 AND analyses_resolved AND total_events >= 0),
    CONSTRAINT reputation_scores_accuracy_range CHECK (accuracy BETWEEN 0 AND 1)
);
-- Rankings (reputation_overview, leaderboards) by score.
CREATE INDEX reputation_scores_score_idx ON reputation_scores (score DESC);
CREATE INDEX reputation_scores_tier_idx ON reputation_scores (tier_code);

CREATE TABLE performance_metrics (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                uuid REFERENCES users (id) ON DELETE CASCADE,
    engine_id              uuid REFERENCES engines (id) ON DELETE CASCADE,
    period                 text NOT NULL,
    period_start           date NOT NULL,          -- UTC; 1970-01-01 for all_time
    total_analyses         integer NOT NULL DEFAULT 0,
    resolved_analyses      integer NOT NULL DEFAULT 0,
    correct_analyses       integer NOT NULL DEFAULT 0,
    false_positives        integer NOT NULL DEFAULT 0,
    false_negatives        integer NOT NULL DEFAULT 0,
    accuracy               numeric(5, 4),
    avg_confidence         numeric(5, 4),
    avg_analysis_ms        integer,
    bounties_participated  integer NOT NULL DEFAULT 0,
    bounties_won           integer NOT NULL DEFAULT 0,
    total_staked           token_amount NOT NULL DEFAULT 0,
    total_rewards          token_amount NOT NULL DEFAULT 0,
    calculated_at          timestamptz NOT NULL DEFAULT now(),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    -- One row per subject and period; NULLS NOT DISTINCT makes it the upsert target (PostgreSQL 15+).
    CONSTRAINT performance_metrics_subject_period_key UNIQUE NULLS NOT DISTINCT (user_id, engine_id, period, period_start),
    CONSTRAINT performance_metrics_one_subject CHECK (num_nonnulls(user_id, engine_id) = 1),
    CONSTRAINT performance_metrics_period_check CHECK (period IN ('daily', 'weekly', 'monthly', 'all_time')),
    CONSTRAINT performance_metrics_counts_check CHECK (resolved_analyses BETWEEN 0 AND total_analyses
        AND correct_analyses + false_positives + false_negatives <= resolved_analyses
        AND correct_analyses >= 0 AND false_positives >= 0 AND false_negatives >= 0
        AND bounties_won BETWEEN 0 AND bounties_participated),
    CONSTRAINT performance_metrics_ratios_range CHECK (accuracy BETWEEN 0 AND 1 AND avg_confidence BETWEEN 0 AND 1),
    CONSTRAINT performance_metrics_avg_ms_check CHECK (avg_analysis_ms >= 0)
);
-- Dashboards: a subject's series for one period kind, newest first.
CREATE INDEX performance_metrics_engine_idx ON performance_metrics (engine_id, period, period_start DESC) WHERE engine_id IS NOT NULL;
CREATE INDEX performance_metrics_user_idx ON performance_metrics (user_id, period, period_start DESC) WHERE user_id IS NOT NULL;
-- Accuracy leaderboards for one period.
CREATE INDEX performance_metrics_period_accuracy_idx ON performance_metrics (period, period_start, accuracy DESC NULLS LAST);

CREATE TABLE user_expertise (
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Domains in use are retired by re-mapping, not deleted.
    domain_code       text NOT NULL REFERENCES expertise_domains (code) ON DELETE RESTRICT,
    level             smallint NOT NULL,
    years_experience  smallint,
    verified_at       timestamptz,
    verified_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    evidence          jsonb NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, domain_code),
    CONSTRAINT user_expertise_level_range CHECK (level BETWEEN 1 AND 5),
    CONSTRAINT user_expertise_years_range CHECK (years_experience BETWEEN 0 AND 60),
    CONSTRAINT user_expertise_not_self_verified CHECK (verified_by <> user_id)
);
-- Finding experts for a bounty's domain, strongest first.
CREATE INDEX user_expertise_domain_level_idx ON user_expertise (domain_code, level DESC);
CREATE INDEX user_expertise_verified_by_idx ON user_expertise (verified_by) WHERE verified_by IS NOT NULL;

CREATE TABLE trust_relationships (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Trust is an opinion of the truster about the trustee; it ends with either.
    truster_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    trusted_user_id    uuid REFERENCES users (id) ON DELETE CASCADE,
    trusted_engine_id  uuid REFERENCES engines (id) ON DELETE CASCADE,
    domain_code        text REFERENCES expertise_domains (code) ON DELETE RESTRICT,  -- NULL: in general
    trust_level        numeric(4, 3) NOT NULL,     -- -1 distrust .. 1 full trust
    note               text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT trust_relationships_pair_key UNIQUE NULLS NOT DISTINCT (truster_id, trusted_user_id, trusted_engine_id, domain_code),
    CONSTRAINT trust_relationships_one_trustee CHECK (num_nonnulls(trusted_user_id, trusted_engine_id) = 1),
    CONSTRAINT trust_relationships_not_self CHECK (trusted_user_id <> truster_id),
    CONSTRAINT trust_relationships_level_range CHECK (trust_level BETWEEN -1 AND 1)
);
CREATE INDEX trust_relationships_user_idx ON trust_relationships (trusted_user_id) WHERE trusted_user_id IS NOT NULL;
CREATE INDEX trust_relationships_engine_idx ON trust_relationships (trusted_engine_id) WHERE trusted_engine_id IS NOT NULL;
CREATE INDEX trust_relationships_domain_idx ON trust_relationships (domain_code) WHERE domain_code IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Leaderboards: snapshots of rankings, kept to show movement between periods
-- ---------------------------------------------------------------------------------------------
CREATE TABLE leaderboards (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    board_type    text NOT NULL,
    metric        text NOT NULL,
    period        text NOT NULL,
    period_start  date NOT NULL,
    domain_code   text REFERENCES expertise_domains (code) ON DELETE RESTRICT,  -- NULL: all domains
    entry_count   integer NOT NULL DEFAULT 0,
    generated_at  timestamptz NOT NULL DEFAULT now(),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT leaderboards_snapshot_key UNIQUE NULLS NOT DISTINCT (board_type, metric, period, period_start, domain_code),
    CONSTRAINT leaderboards_board_type_check CHECK (board_type IN ('users', 'engines')),
    CONSTRAINT leaderboards_metric_check CHECK (metric IN ('reputation', 'accuracy', 'rewards', 'bounties_won')),
    CONSTRAINT leaderboards_period_check CHECK (period IN ('daily', 'weekly', 'monthly', 'all_time')),
    CONSTRAINT leaderboards_entry_count_check CHECK (entry_count >= 0)
);
-- Latest board of a kind.
CREATE INDEX leaderboards_latest_idx ON leaderboards (board_type, metric, period, period_start DESC);
CREATE INDEX leaderboards_domain_idx ON leaderboards (domain_code) WHERE domain_code IS NOT NULL;

CREATE TABLE leaderboard_entries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Entries are part of their snapshot.
    leaderboard_id  uuid NOT NULL REFERENCES leaderboards (id) ON DELETE CASCADE,
    user_id         uuid REFERENCES users (id) ON DELETE CASCADE,
    engine_id       uuid REFERENCES engines (id) ON DELETE CASCADE,
    rank            integer NOT NULL,
    previous_rank   integer,
    score           numeric(14, 4) NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT leaderboard_entries_subject_key UNIQUE NULLS NOT DISTINCT (leaderboard_id, user_id, engine_id),
    CONSTRAINT leaderboard_entries_one_subject CHECK (num_nonnulls(user_id, engine_id) = 1),
    CONSTRAINT leaderboard_entries_rank_check CHECK (rank >= 1 AND previous_rank >= 1)
);
-- Reading a board page by page in rank order.
CREATE INDEX leaderboard_entries_rank_idx ON leaderboard_entries (leaderboard_id, rank);
-- "My ranks" across boards.
CREATE INDEX leaderboard_entries_user_idx ON leaderboard_entries (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX leaderboard_entries_engine_idx ON leaderboard_entries (engine_id) WHERE engine_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Functions
-- ---------------------------------------------------------------------------------------------

-- Formula (score from 0 to 1000, 500 for a subject without history):
--   P        = Σ reputation_events.points of the subject
--   n        = the subject's analysis results in bounties that reached consensus
--              (engine: analysis_results.engine_id; user: results of participations the user staked)
--   c        = those of the n whose verdict equals the consensus final_verdict
--   w        = LEAST(n, 20) / 20                      -- trust accuracy fully from 20 results on
--   activity = LEAST(GREATEST(500 + P, 0), 1000)
--   accuracy = w × 1000 × c / n + (1 − w) × 500       -- shrunk towards 500 while n is small
--   score    = round(LEAST(GREATEST(0.5 × activity + 0.5 × accuracy, 0), 1000), 2)
CREATE FUNCTION calculate_reputation_score(p_entity_id uuid, p_is_user boolean) RETURNS numeric
    LANGUAGE plpgsql STABLE AS $$
DECLARE
    p        numeric;
    n        integer;
    c        integer;
    w        numeric;
    activity numeric;
    accuracy numeric;
BEGIN
    IF p_is_user THEN
        SELECT COALESCE(sum(points), 0) INTO p FROM reputation_events WHERE user_id = p_entity_id;
        SELECT count(*), count(*) FILTER (WHERE ar.verdict = cr.final_verdict) INTO n, c
          FROM bounty_participations bp
          JOIN analysis_results ar ON ar.participation_id = bp.id
          JOIN consensus_results cr ON cr.bounty_id = bp.bounty_id
         WHERE bp.staker_id = p_entity_id;
    ELSE
        SELECT COALESCE(sum(points), 0) INTO p FROM reputation_events WHERE engine_id = p_entity_id;
        SELECT count(*), count(*) FILTER (WHERE ar.verdict = cr.final_verdict) INTO n, c
          FROM analysis_results ar
          JOIN consensus_results cr ON cr.bounty_id = ar.bounty_id
         WHERE ar.engine_id = p_entity_id;
    END IF;
    w := LEAST(n, 20)::numeric / 20;
    activity := LEAST(GREATEST(500 + p, 0), 1000);
    accuracy := CASE WHEN n > 0 THEN w * 1000 * c / n ELSE 0 END + (1 - w) * 500;
    RETURN round(LEAST(GREATEST(0.5 * activity + 0.5 * accuracy, 0), 1000), 2);
END
$$;
COMMENT ON FUNCTION calculate_reputation_score(uuid, boolean) IS
    'round(clamp(0.5*clamp(500+Σpoints,0,1000) + 0.5*(w*1000*c/n + (1-w)*500), 0, 1000), 2), w = min(n,20)/20.';

-- Stores a subject's current score: upserts reputation_scores (score from
-- calculate_reputation_score(), its parts, tier = the highest reputation_tiers.min_score <= score)
-- and, for an engine, copies the score to engines.reputation_score for the reputation cache.
-- Returns the score.
CREATE FUNCTION refresh_reputation_score(p_entity_id uuid, p_is_user boolean) RETURNS numeric
    LANGUAGE plpgsql AS $$
DECLARE
    v_score   numeric;
    v_points  numeric;
    v_events  integer;
    v_last    timestamptz;
    v_n       integer;
    v_c       integer;
    v_tier    text;
BEGIN
    v_score := calculate_reputation_score(p_entity_id, p_is_user);
    SELECT COALESCE(sum(points), 0), count(*), max(created_at) INTO v_points, v_events, v_last
      FROM reputation_events
     WHERE (p_is_user AND user_id = p_entity_id) OR (NOT p_is_user AND engine_id = p_entity_id);
    SELECT count(*), count(*) FILTER (WHERE ar.verdict = cr.final_verdict) INTO v_n, v_c
      FROM analysis_results ar
      JOIN bounty_participations bp ON bp.id = ar.participation_id
      JOIN consensus_results cr ON cr.bounty_id = ar.bounty_id
     WHERE (p_is_user AND bp.staker_id = p_entity_id) OR (NOT p_is_user AND ar.engine_id = p_entity_id);
    SELECT code INTO v_tier FROM reputation_tiers WHERE min_score <= v_score ORDER BY min_score DESC LIMIT 1;
    IF v_tier IS NULL THEN
        RAISE EXCEPTION 'no reputation tier covers score %: reputation_tiers needs a tier with min_score 0', v_score;
    END IF;

    IF p_is_user THEN
        INSERT INTO reputation_scores AS rs (user_id, score, event_points, analyses_resolved, analyses_correct,
                                             accuracy, tier_code, total_events, last_event_at, calculated_at)
        VALUES (p_entity_id, v_score, v_points, v_n, v_c, round(v_c::numeric / NULLIF(v_n, 0), 4),
                v_tier, v_events, v_last, now())
        ON CONFLICT (user_id) DO UPDATE
           SET score = EXCLUDED.score, event_points = EXCLUDED.event_points,
               analyses_resolved = EXCLUDED.analyses_resolved, analyses_correct = EXCLUDED.analyses_correct,
               accuracy = EXCLUDED.accuracy, tier_code = EXCLUDED.tier_code, total_events = EXCLUDED.total_events,
               last_event_at = EXCLUDED.last_event_at, calculated_at = EXCLUDED.calculated_at;
    ELSE
        INSERT INTO reputation_scores AS rs (engine_id, score, event_points, analyses_resolved, analyses_correct,
                                             accuracy, tier_code, total_events, last_event_at, calculated_at)
        VALUES (p_entity_id, v_score, v_points, v_n, v_c, round(v_c::numeric / NULLIF(v_n, 0), 4),
                v_tier, v_events, v_last, now())
        ON CONFLICT (engine_id) DO UPDATE
           SET score = EXCLUDED.score, event_points = EXCLUDED.event_points,
               analyses_resolved = EXCLUDED.analyses_resolved, analyses_correct = EXCLUDED.analyses_correct,
               accuracy = EXCLUDED.accuracy, tier_code = EXCLUDED.tier_code, total_events = EXCLUDED.total_events,
               last_event_at = EXCLUDED.last_event_at, calculated_at = EXCLUDED.calculated_at;
        UPDATE engines SET reputation_score = v_score
         WHERE id = p_entity_id AND reputation_score IS DISTINCT FROM v_score;
    END IF;
    RETURN v_score;
END
$$;

-- Formula, for the subject's rows in the window [period_start, next period_start) in UTC
-- (all_time: every row, period_start 1970-01-01); engine rows are matched by engine_id, user
-- rows by the participations the user staked:
--   total_analyses        = count(analysis_results created in the window)
--   resolved_analyses     = those whose bounty has a consensus
--   correct_analyses      = resolved ones with verdict = final_verdict
--   false_positives       = verdict malicious/suspicious where the consensus says benign
--   false_negatives       = verdict benign where the consensus says malicious/suspicious
--   accuracy              = round(correct / resolved, 4), NULL without resolved analyses
--   avg_confidence        = round(avg(confidence), 4); avg_analysis_ms = round(avg(analysis_duration_ms))
--   bounties_participated = count(DISTINCT bounty) of participations joined in the window
--   bounties_won          = those participations with status 'won'
--   total_staked          = Σ stake_amount of those participations
--   total_rewards         = Σ completed 'reward' distributions of the subject's participations
--                           processed in the window
-- Upserts the (subject, period, period_start) row of performance_metrics (left alone when its
-- figures are unchanged) and returns it.
CREATE FUNCTION update_performance_metrics(p_entity_id uuid, p_is_user boolean, p_period text)
    RETURNS performance_metrics
    LANGUAGE plpgsql AS $$
DECLARE
    v_start  date;
    v_from   timestamptz;
    v_to     timestamptz;
    a        record;
    b        record;
    v_reward numeric;
    result   performance_metrics;
BEGIN
    IF p_period = 'all_time' THEN
        v_start := DATE '1970-01-01';
        v_from := '-infinity';
        v_to := 'infinity';
    ELSIF p_period IN ('daily', 'weekly', 'monthly') THEN
        v_start := date_trunc(CASE p_period WHEN 'daily' THEN 'day' WHEN 'weekly' THEN 'week' ELSE 'month' END,
                              now() AT TIME ZONE 'UTC')::date;
        v_from := v_start::timestamp AT TIME ZONE 'UTC';
        v_to := (v_start + CASE p_period WHEN 'daily' THEN interval '1 day' WHEN 'weekly' THEN interval '1 week'
                                         ELSE interval '1 month' END)::timestamp AT TIME ZONE 'UTC';
    ELSE
        RAISE EXCEPTION 'unknown period %: use daily, weekly, monthly or all_time', p_period
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT count(*)                                                             AS total,
           count(cr.id)                                                         AS resolved,
           count(*) FILTER (WHERE ar.verdict = cr.final_verdict)                AS correct,
           count(*) FILTER (WHERE ar.verdict IN ('malicious', 'suspicious') AND cr.final_verdict = 'benign') AS fp,
           count(*) FILTER (WHERE ar.verdict = 'benign' AND cr.final_verdict IN ('malicious', 'suspicious')) AS fn,
           round(avg(ar.confidence), 4)                                         AS avg_confidence,
           round(avg(ar.analysis_duration_ms))::integer                         AS avg_ms
      INTO a
      FROM analysis_results ar
      JOIN bounty_participations bp ON bp.id = ar.participation_id
      LEFT JOIN consensus_results cr ON cr.bounty_id = ar.bounty_id
     WHERE ((p_is_user AND bp.staker_id = p_entity_id) OR (NOT p_is_user AND bp.engine_id = p_entity_id))
       AND ar.created_at >= v_from AND ar.created_at < v_to;

    SELECT count(DISTINCT bp.bounty_id)                 AS participated,
           count(*) FILTER (WHERE bp.status = 'won')    AS won,
           COALESCE(sum(bp.stake_amount), 0)            AS staked
      INTO b
      FROM bounty_participations bp
     WHERE ((p_is_user AND bp.staker_id = p_entity_id) OR (NOT p_is_user AND bp.engine_id = p_entity_id))
       AND bp.joined_at >= v_from AND bp.joined_at < v_to;

    SELECT COALESCE(sum(rd.amount), 0) INTO v_reward
      FROM reward_distributions rd
      JOIN bounty_participations bp ON bp.id = rd.participation_id
     WHERE ((p_is_user AND bp.staker_id = p_entity_id) OR (NOT p_is_user AND bp.engine_id = p_entity_id))
       AND rd.distribution_type = 'reward' AND rd.status = 'completed'
       AND rd.processed_at >= v_from AND rd.processed_at < v_to;

    INSERT INTO performance_metrics AS pm (user_id, engine_id, period, period_start, total_analyses, resolved_analyses,
                                           correct_analyses, false_positives, false_negatives, accuracy, avg_confidence,
                                           avg_analysis_ms, bounties_participated, bounties_won, total_staked,
                                           total_rewards, calculated_at)
    VALUES (CASE WHEN p_is_user THEN p_entity_id END, CASE WHEN NOT p_is_user THEN p_entity_id END,
            p_period, v_start, a.total, a.resolved, a.correct, a.fp, a.fn,
            round(a.correct::numeric / NULLIF(a.resolved, 0), 4), a.avg_confidence, a.avg_ms,
            b.participated, b.won, b.staked, v_reward, now())
    ON CONFLICT (user_id, engine_id, period, period_start) DO UPDATE
       SET total_analyses = EXCLUDED.total_analyses, resolved_analyses = EXCLUDED.resolved_analyses,
           correct_analyses = EXCLUDED.correct_analyses, false_positives = EXCLUDED.false_positives,
           false_negatives = EXCLUDED.false_negatives, accuracy = EXCLUDED.accuracy,
           avg_confidence = EXCLUDED.avg_confidence, avg_analysis_ms = EXCLUDED.avg_analysis_ms,
           bounties_participated = EXCLUDED.bounties_participated, bounties_won = EXCLUDED.bounties_won,
           total_staked = EXCLUDED.total_staked, total_rewards = EXCLUDED.total_rewards,
           calculated_at = EXCLUDED.calculated_at
     -- Unchanged figures are not rewritten: no dead tuples, calculated_at = last change.
     WHERE (pm.total_analyses, pm.resolved_analyses, pm.correct_analyses, pm.false_positives, pm.false_negatives,
            pm.accuracy, pm.avg_confidence, pm.avg_analysis_ms, pm.bounties_participated, pm.bounties_won,
            pm.total_staked, pm.total_rewards)
           IS DISTINCT FROM
           (EXCLUDED.total_analyses, EXCLUDED.resolved_analyses, EXCLUDED.correct_analyses, EXCLUDED.false_positives,
            EXCLUDED.false_negatives, EXCLUDED.accuracy, EXCLUDED.avg_confidence, EXCLUDED.avg_analysis_ms,
            EXCLUDED.bounties_participated, EXCLUDED.bounties_won, EXCLUDED.total_staked, EXCLUDED.total_rewards)
    RETURNING * INTO result;
    IF result.id IS NULL THEN
        SELECT * INTO result FROM performance_metrics pm
         WHERE pm.user_id IS NOT DISTINCT FROM (CASE WHEN p_is_user THEN p_entity_id END)
           AND pm.engine_id IS NOT DISTINCT FROM (CASE WHEN NOT p_is_user THEN p_entity_id END)
           AND pm.period = p_period AND pm.period_start = v_start;
    END IF;
    RETURN result;
END
$$;

COMMENT ON FUNCTION update_performance_metrics(uuid, boolean, text) IS
    'Upserts the subject''s performance_metrics row of the current daily/weekly/monthly/all_time period (UTC).';

-- ---------------------------------------------------------------------------------------------
-- Automatic calculations
-- ---------------------------------------------------------------------------------------------

-- Every change to a subject's reputation events refreshes its stored score.
CREATE FUNCTION reputation_events_refresh_score() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM refresh_reputation_score(COALESCE(OLD.user_id, OLD.engine_id), OLD.user_id IS NOT NULL);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM refresh_reputation_score(COALESCE(NEW.user_id, NEW.engine_id), NEW.user_id IS NOT NULL);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER reputation_events_score AFTER INSERT OR UPDATE OR DELETE ON reputation_events
    FOR EACH ROW EXECUTE FUNCTION reputation_events_refresh_score();

-- When a bounty reaches consensus (after 002's trigger settled its participations), records the
-- reputation events of its settled participations:
--   engine: won +10 (analysis_correct); lost with a result −5 (analysis_incorrect);
--           lost without a result −8 (analysis_missed)
--   staker: won +5 (bounty_won); lost −3 (bounty_lost)
-- and refreshes the daily, weekly, monthly and all_time performance metrics of every engine
-- and staker involved. The trigger's name sorts after consensus_results_apply_verdict, so it
-- fires second.
CREATE FUNCTION record_consensus_reputation() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    subject  record;
    v_period text;
BEGIN
    INSERT INTO reputation_events (engine_id, event_type, points, bounty_id, analysis_result_id, created_at)
    SELECT bp.engine_id,
           CASE WHEN bp.status = 'won' THEN 'analysis_correct'
                WHEN ar.id IS NOT NULL THEN 'analysis_incorrect' ELSE 'analysis_missed' END,
           CASE WHEN bp.status = 'won' THEN 10 WHEN ar.id IS NOT NULL THEN -5 ELSE -8 END,
           NEW.bounty_id, ar.id, NEW.reached_at
      FROM bounty_participations bp
      LEFT JOIN analysis_results ar ON ar.participation_id = bp.id
     WHERE bp.bounty_id = NEW.bounty_id AND bp.status IN ('won', 'lost');

    INSERT INTO reputation_events (user_id, event_type, points, bounty_id, created_at)
    SELECT bp.staker_id,
           CASE WHEN bp.status = 'won' THEN 'bounty_won' ELSE 'bounty_lost' END,
           CASE WHEN bp.status = 'won' THEN 5 ELSE -3 END,
           NEW.bounty_id, NEW.reached_at
      FROM bounty_participations bp
     WHERE bp.bounty_id = NEW.bounty_id AND bp.status IN ('won', 'lost');

    FOR subject IN
        SELECT DISTINCT engine_id AS id, false AS is_user FROM bounty_participations WHERE bounty_id = NEW.bounty_id
        UNION
        SELECT DISTINCT staker_id, true FROM bounty_participations WHERE bounty_id = NEW.bounty_id
    LOOP
        FOREACH v_period IN ARRAY ARRAY['daily', 'weekly', 'monthly', 'all_time'] LOOP
            PERFORM update_performance_metrics(subject.id, subject.is_user, v_period);
        END LOOP;
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER consensus_results_record_reputation AFTER INSERT ON consensus_results
    FOR EACH ROW EXECUTE FUNCTION record_consensus_reputation();

-- ---------------------------------------------------------------------------------------------
-- reputation_overview: every scored user and engine with tier and rank within its kind.
-- ---------------------------------------------------------------------------------------------
CREATE VIEW reputation_overview AS
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

-- ---------------------------------------------------------------------------------------------
-- updated_at triggers
-- ---------------------------------------------------------------------------------------------
CREATE TRIGGER set_updated_at BEFORE UPDATE ON reputation_tiers
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON reputation_scores
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON performance_metrics
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON user_expertise
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON trust_relationships
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON leaderboards
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
