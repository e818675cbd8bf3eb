-- A training copy made by redaction keeps, for the administrators only, what
-- was masked (intervals, channels, the fill), which channel was dropped, who
-- confirmed having heard the whole call, when, and the recording it came
-- from. The copy itself (training_copies, its file) carries none of this.
-- Append-only: it outlives the copy's destruction.

-- +goose Up
CREATE TABLE training_redactions (
    id                  bigserial PRIMARY KEY,
    copy_id             bigint      NOT NULL,
    source_recording_id bigint      NOT NULL,
    masks               jsonb       NOT NULL,          -- [{start, end, channels}], seconds, padded
    fill                text        NOT NULL CHECK (fill IN ('tone', 'silence')),
    dropped_channel     integer,                        -- the channel left out of the copy, if any
    heard_all           boolean     NOT NULL CHECK (heard_all),
    confirmed_by        text        NOT NULL CHECK (btrim(confirmed_by) <> ''),
    confirmed_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX training_redactions_copy ON training_redactions (copy_id);

CREATE TRIGGER training_redactions_no_change BEFORE UPDATE OR DELETE ON training_redactions
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER training_redactions_no_truncate BEFORE TRUNCATE ON training_redactions
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();

GRANT SELECT, INSERT ON training_redactions TO recpolicy_runtime;
GRANT USAGE, SELECT ON SEQUENCE training_redactions_id_seq TO recpolicy_runtime;

-- +goose Down
DROP TABLE training_redactions;
