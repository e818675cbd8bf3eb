-- Every integrity check (the nightly job, recpolicy retention verify) leaves
-- a row: when, by whom, how many files it checked, the problems by kind and
-- whether the access log's hash chain held. The compliance report lists the
-- month's. Append-only, like the other logs that prove the past.

-- +goose Up
CREATE TABLE integrity_runs (
    id          bigserial PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    actor       text        NOT NULL CHECK (btrim(actor) <> ''),
    checked     integer     NOT NULL CHECK (checked >= 0),
    problems    jsonb       NOT NULL DEFAULT '{}',  -- kind → count
    chain_ok    boolean,                            -- NULL: the chain was not walked
    chain_rows  bigint
);
CREATE INDEX integrity_runs_started_at ON integrity_runs (started_at);

CREATE TRIGGER integrity_runs_no_change BEFORE UPDATE OR DELETE ON integrity_runs
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER integrity_runs_no_truncate BEFORE TRUNCATE ON integrity_runs
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();

GRANT SELECT, INSERT ON integrity_runs TO recpolicy_runtime;
GRANT USAGE, SELECT ON SEQUENCE integrity_runs_id_seq TO recpolicy_runtime;

-- +goose Down
DROP TABLE integrity_runs;
