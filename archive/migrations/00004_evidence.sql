-- recpolicy archive: the evidence of each recording's decision, and every
-- version of the rules file the daemon loaded. A recording row says which
-- rule decided it, how each party was classified (by its channel, never by
-- a presented number), whether a confidential extension took part anywhere
-- in its call (the directors' filter fails closed on it), the sha256 of the
-- rules in force (a row of rules_versions) and how the caller was greeted.

-- +goose Up
CREATE TABLE rules_versions (
    id         bigserial   PRIMARY KEY,
    sha256     text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    loaded_at  timestamptz NOT NULL,
    trigger    text        NOT NULL DEFAULT '',
    source     text        NOT NULL DEFAULT '',
    content    text        NOT NULL,
    CONSTRAINT rules_versions_key UNIQUE (sha256, loaded_at)
);
CREATE INDEX rules_versions_sha256 ON rules_versions (sha256);

ALTER TABLE recordings
    ADD COLUMN decision_rule     text    NOT NULL DEFAULT '',
    ADD COLUMN decision_reason   text    NOT NULL DEFAULT '',
    ADD COLUMN parties           jsonb   NOT NULL DEFAULT '[]',
    ADD COLUMN call_confidential boolean NOT NULL DEFAULT false,
    ADD COLUMN rules_sha256      text    NOT NULL DEFAULT '',
    ADD COLUMN greeting          text    NOT NULL DEFAULT '';
-- Recordings still waiting for their call's linkedid (recovered after a
-- crash from an old spool name): filled from the call records.
CREATE INDEX recordings_without_linkedid ON recordings (uniqueid) WHERE linkedid = '';

-- A hold keeps what it covers, once released, for its retention class's
-- duration as it was when the hold was placed, or longer if the class was
-- lengthened since: shortening a class never shortens a hold.
ALTER TABLE holds ADD COLUMN keep_secs double precision NOT NULL DEFAULT 0 CHECK (keep_secs >= 0);

-- The purge's own record of when it last ran: a clock that jumped further
-- than the schedule explains makes it refuse.
CREATE TABLE purge_runs (
    id        bigserial   PRIMARY KEY,
    ran_at    timestamptz NOT NULL,
    db_now    timestamptz NOT NULL DEFAULT now(),
    actor     text        NOT NULL,
    dry_run   boolean     NOT NULL,
    destroyed integer     NOT NULL DEFAULT 0
);

-- The Greffe's reviewers of written requests read the register.
ALTER TABLE access_log DROP CONSTRAINT access_log_role_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_role_check
    CHECK (role IN ('administrator', 'director', 'reviewer', 'none'));

-- +goose Down
ALTER TABLE access_log DROP CONSTRAINT access_log_role_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_role_check
    CHECK (role IN ('administrator', 'director', 'none'));
DROP TABLE purge_runs;
ALTER TABLE holds DROP COLUMN keep_secs;
DROP INDEX recordings_without_linkedid;
ALTER TABLE recordings
    DROP COLUMN decision_rule, DROP COLUMN decision_reason, DROP COLUMN parties,
    DROP COLUMN call_confidential, DROP COLUMN rules_sha256, DROP COLUMN greeting;
DROP TABLE rules_versions;
