-- Undoes 003_blockchain.

DROP VIEW blockchain_activity;
DROP FUNCTION calculate_voting_power(uuid);
DROP FUNCTION get_user_total_stake(uuid);

DROP TABLE bounty_escrows;
DROP TABLE governance_delegations;
DROP TABLE governance_votes;
DROP TABLE governance_proposals;
DROP TABLE staking_positions;
DROP TABLE staking_pools;
DROP TABLE token_balances;
DROP TABLE chain_sync_cursors;
DROP TABLE contract_events;
DROP TABLE blockchain_transactions;
DROP TABLE smart_contracts;
DROP TABLE blockchain_networks;

DROP FUNCTION refresh_proposal_tally();
DROP FUNCTION prepare_governance_vote();
DROP FUNCTION refresh_staking_pool_totals();
DROP FUNCTION check_staking_position();

DROP DOMAIN evm_tx_hash;
DROP DOMAIN evm_address;
