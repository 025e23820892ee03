-- Undoes 004_reputation_system. engines.reputation_score (a 001 column) keeps its last value.

DROP VIEW reputation_overview;
DROP TRIGGER consensus_results_record_reputation ON consensus_results;
DROP FUNCTION record_consensus_reputation();
DROP TRIGGER reputation_events_score ON reputation_events;
DROP FUNCTION reputation_events_refresh_score();
-- Before the tables: update_performance_metrics returns performance_metrics' row type.
DROP FUNCTION update_performance_metrics(uuid, boolean, text);
DROP FUNCTION refresh_reputation_score(uuid, boolean);
DROP FUNCTION calculate_reputation_score(uuid, boolean);

DROP TABLE leaderboard_entries;
DROP TABLE leaderboards;
DROP TABLE trust_relationships;
DROP TABLE user_expertise;
DROP TABLE performance_metrics;
DROP TABLE reputation_scores;
DROP TABLE reputation_events;
DROP TABLE expertise_domains;
DROP TABLE reputation_tiers;
