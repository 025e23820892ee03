-- Undoes 002_bounty_system.

DROP VIEW bounty_stats;

DROP TABLE bounty_disputes;
DROP TABLE reward_distributions;
DROP TABLE consensus_results;
DROP TABLE analysis_results;
DROP TABLE bounty_participations;
DROP TABLE bounty_status_history;
DROP TABLE bounties;

DROP FUNCTION apply_consensus_verdict();
DROP FUNCTION apply_analysis_result();
DROP FUNCTION record_bounty_status_change();
DROP FUNCTION refresh_bounty_totals();
DROP FUNCTION check_bounty_participation();
