-- recpolicy archive: call records, recording metadata, their link, and the
-- cdr view of Asterisk's standard columns. Every time is UTC (timestamptz).

-- +goose Up
CREATE TABLE calls (
    id                  bigserial PRIMARY KEY,
    uniqueid            text        NOT NULL,
    sequence            bigint      NOT NULL,
    start_time          timestamptz NOT NULL,
    answer_time         timestamptz,
    end_time            timestamptz NOT NULL,
    linkedid            text        NOT NULL,
    account_code        text        NOT NULL DEFAULT '',
    -- Calling and called numbers: NULL when withheld or unusable, with the
    -- flag saying which and the raw value as Asterisk sent it.
    source              text,
    source_flag         text        NOT NULL CHECK (source_flag IN ('ok', 'withheld', 'invalid')),
    source_raw          text        NOT NULL,
    destination         text,
    destination_flag    text        NOT NULL CHECK (destination_flag IN ('ok', 'withheld', 'invalid')),
    destination_raw     text        NOT NULL,
    destination_context text        NOT NULL DEFAULT '',
    callerid            text        NOT NULL DEFAULT '',
    channel             text        NOT NULL DEFAULT '',
    destination_channel text        NOT NULL DEFAULT '',
    last_application    text        NOT NULL DEFAULT '',
    last_data           text        NOT NULL DEFAULT '',
    duration            integer     NOT NULL CHECK (duration >= 0),
    billable_seconds    integer     NOT NULL CHECK (billable_seconds >= 0),
    disposition         text        NOT NULL,
    ama_flags           text        NOT NULL DEFAULT '',
    user_field          text        NOT NULL DEFAULT '',
    system_name         text        NOT NULL DEFAULT '',
    -- Fields of the Cdr event this version does not know (also quarantined).
    extra               jsonb,
    archived_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT calls_key UNIQUE (uniqueid, sequence, start_time),
    CHECK ((source IS NULL) = (source_flag <> 'ok')),
    CHECK ((destination IS NULL) = (destination_flag <> 'ok'))
);
CREATE INDEX calls_start_time ON calls (start_time);
CREATE INDEX calls_linkedid ON calls (linkedid);
CREATE INDEX calls_source ON calls (source) WHERE source IS NOT NULL;
CREATE INDEX calls_destination ON calls (destination) WHERE destination IS NOT NULL;

CREATE TABLE recordings (
    id              bigserial PRIMARY KEY,
    path            text        NOT NULL,
    sha256          text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size            bigint      NOT NULL CHECK (size >= 0),
    duration        double precision NOT NULL DEFAULT 0,
    extension       text        NOT NULL,
    departments     text[]      NOT NULL DEFAULT '{}',
    direction       text        NOT NULL DEFAULT '',
    start_time      timestamptz NOT NULL,
    end_time        timestamptz,
    uniqueid        text        NOT NULL DEFAULT '',
    linkedid        text        NOT NULL DEFAULT '',
    retention_class text        NOT NULL DEFAULT 'standard',
    repaired        boolean     NOT NULL DEFAULT false,
    archived_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT recordings_path_key UNIQUE (path)
);
CREATE INDEX recordings_start_time ON recordings (start_time);
CREATE INDEX recordings_linkedid ON recordings (linkedid);
CREATE INDEX recordings_extension ON recordings (extension);

-- The link: a call's CDRs and its recordings share the linkedid.
CREATE VIEW call_recordings AS
SELECT c.id AS call_id, r.id AS recording_id, c.linkedid,
       c.uniqueid AS call_uniqueid, c.sequence, r.uniqueid AS recording_uniqueid,
       r.extension, r.path
FROM calls c
JOIN recordings r ON r.linkedid = c.linkedid AND c.linkedid <> '';

-- Asterisk's cdr table (cdr_pgsql), for CDR viewers. Times are given in
-- the database session's time zone, as timestamptz.
CREATE VIEW cdr AS
SELECT c.start_time          AS calldate,
       c.callerid            AS clid,
       c.source_raw          AS src,
       c.destination_raw     AS dst,
       c.destination_context AS dcontext,
       c.channel,
       c.destination_channel AS dstchannel,
       c.last_application    AS lastapp,
       c.last_data           AS lastdata,
       c.duration,
       c.billable_seconds    AS billsec,
       c.disposition,
       c.ama_flags           AS amaflags,
       c.account_code        AS accountcode,
       c.uniqueid,
       c.user_field          AS userfield,
       c.linkedid,
       c.sequence,
       (SELECT r.path FROM recordings r
         WHERE r.linkedid = c.linkedid AND c.linkedid <> ''
         ORDER BY (r.uniqueid = c.uniqueid) DESC,
                  abs(extract(epoch FROM r.start_time - c.start_time)), r.id
         LIMIT 1)            AS recordingfile
FROM calls c;

-- +goose Down
DROP VIEW cdr;
DROP VIEW call_recordings;
DROP TABLE recordings;
DROP TABLE calls;
