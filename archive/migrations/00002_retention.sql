-- recpolicy retention: legal holds, de-identified training copies, and the
-- destruction log. Every time is UTC (timestamptz).

-- +goose Up
-- A hold keeps recordings and call records past their retention while a
-- complaint or litigation needs them, and for its class's duration after
-- its release. It targets one recording, every recording and call record
-- of a linkedid, or an extension over a time range.
CREATE TABLE holds (
    id              bigserial PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('recording', 'linkedid', 'extension')),
    -- kind recording: the recording (no foreign key: a destroyed recording's
    -- row is deleted, and a held one never is) and its path as it was.
    recording_id    bigint,
    path            text        NOT NULL DEFAULT '',
    -- kind linkedid, and kind recording (its call records).
    linkedid        text        NOT NULL DEFAULT '',
    -- kind extension: its number, its PJSIP endpoint, and the range of
    -- call times [since, until).
    extension       text        NOT NULL DEFAULT '',
    endpoint        text        NOT NULL DEFAULT '',
    since           timestamptz,
    until           timestamptz,
    case_ref        text        NOT NULL CHECK (btrim(case_ref) <> ''),
    reason          text        NOT NULL CHECK (btrim(reason) <> ''),
    retention_class text        NOT NULL CHECK (btrim(retention_class) <> ''),
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text        NOT NULL CHECK (btrim(created_by) <> ''),
    released_at     timestamptz,
    released_by     text,
    release_reason  text,
    CHECK ((kind = 'recording') = (recording_id IS NOT NULL)),
    CHECK (kind <> 'linkedid' OR linkedid <> ''),
    CHECK (kind <> 'extension' OR (extension <> '' AND since IS NOT NULL AND until IS NOT NULL AND since < until)),
    CHECK ((released_at IS NULL) = (released_by IS NULL))
);
CREATE INDEX holds_recording ON holds (recording_id) WHERE recording_id IS NOT NULL;
CREATE INDEX holds_linkedid ON holds (linkedid) WHERE linkedid <> '';
CREATE INDEX holds_extension ON holds (extension) WHERE extension <> '';

-- A training copy: a recording's audio under a random name, with none of
-- the call's identifiers (no number, extension, time or link to the
-- recording it came from). Its age runs from its creation.
CREATE TABLE training_copies (
    id              bigserial PRIMARY KEY,
    name            text        NOT NULL,
    path            text        NOT NULL,
    sha256          text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size            bigint      NOT NULL CHECK (size >= 0),
    duration        double precision NOT NULL DEFAULT 0,
    retention_class text        NOT NULL DEFAULT 'training',
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text        NOT NULL CHECK (btrim(created_by) <> ''),
    CONSTRAINT training_copies_name_key UNIQUE (name),
    CONSTRAINT training_copies_path_key UNIQUE (path)
);
CREATE INDEX training_copies_created_at ON training_copies (created_at);

-- The destruction log: one row per recording, training copy or call record
-- destroyed, by the retention job or by a person. A file's row is written
-- 'pending' and committed before the file is removed, then marked 'done'
-- (or 'failed'). Rows are never deleted, and only a pending row changes.
CREATE TABLE destruction_log (
    id              bigserial PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('recording', 'training', 'call')),
    object_id       bigint      NOT NULL,  -- recordings.id, training_copies.id or calls.id, at the time
    path            text        NOT NULL DEFAULT '',
    sha256          text        NOT NULL DEFAULT '',
    size            bigint,
    retention_class text        NOT NULL DEFAULT '',
    ended_at        timestamptz,           -- the call's end (the age's origin); a training copy's creation
    detail          jsonb       NOT NULL DEFAULT '{}',  -- identifiers of the row: extension, uniqueid… never a number
    reason          text        NOT NULL CHECK (btrim(reason) <> ''),
    actor           text        NOT NULL CHECK (btrim(actor) <> ''),
    actor_kind      text        NOT NULL CHECK (actor_kind IN ('job', 'person')),
    state           text        NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    note            text        NOT NULL DEFAULT '',
    requested_at    timestamptz NOT NULL DEFAULT now(),
    destroyed_at    timestamptz,
    CHECK ((state = 'done') = (destroyed_at IS NOT NULL))
);
CREATE INDEX destruction_log_requested_at ON destruction_log (requested_at);
CREATE INDEX destruction_log_pending ON destruction_log (id) WHERE state = 'pending';

-- +goose StatementBegin
CREATE FUNCTION destruction_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.state = 'pending' THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'destruction_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER destruction_log_no_change BEFORE UPDATE OR DELETE ON destruction_log
    FOR EACH ROW EXECUTE FUNCTION destruction_log_append_only();
CREATE TRIGGER destruction_log_no_truncate BEFORE TRUNCATE ON destruction_log
    FOR EACH STATEMENT EXECUTE FUNCTION destruction_log_append_only();

-- +goose Down
DROP TABLE destruction_log;
DROP FUNCTION destruction_log_append_only();
DROP TABLE training_copies;
DROP TABLE holds;
