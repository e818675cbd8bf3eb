-- The access log proves itself: each row carries the hash of the one
-- before it (prev_hash) and its own (hash: SHA-256 of prev_hash and the
-- row's canonical form, computed by recpolicy, see archive/register), in
-- the order of chain_seq (1, 2, 3… without a gap). A row altered, removed
-- or slipped in breaks the chain, and `recpolicy access verify` says where.
-- Rows written before this migration have no chain_seq: reported as such.

-- +goose Up
ALTER TABLE access_log
    ADD COLUMN chain_seq bigint UNIQUE,
    ADD COLUMN prev_hash text,
    ADD COLUMN hash      text;
ALTER TABLE access_log ADD CONSTRAINT access_log_chain_complete
    CHECK ((chain_seq IS NULL) = (hash IS NULL) AND (hash IS NULL) = (prev_hash IS NULL));
-- Every row from now on is chained (NOT VALID: the rows written before are not).
ALTER TABLE access_log ADD CONSTRAINT access_log_chained CHECK (chain_seq IS NOT NULL) NOT VALID;

-- +goose Down
ALTER TABLE access_log DROP CONSTRAINT access_log_chained;
ALTER TABLE access_log DROP CONSTRAINT access_log_chain_complete;
ALTER TABLE access_log DROP COLUMN chain_seq, DROP COLUMN prev_hash, DROP COLUMN hash;
