-- recpolicy archive: access to recordings (policy, "Accès aux fichiers
-- d'appels"). The register of written requests for access, the recordings
-- each request covers, and the access log: every consultation, export or
-- refusal, by whom, why. The log is append-only; a request's base facts
-- never change, only its decision and closing are added, once each.

-- +goose Up
CREATE TABLE access_requests (
    id             bigserial PRIMARY KEY,
    received_on    date        NOT NULL,
    channel        text        NOT NULL CHECK (channel IN ('courriel', 'guichet')),
    requester      text        NOT NULL CHECK (btrim(requester) <> ''),
    purpose        text        NOT NULL CHECK (purpose IN ('plainte', 'commentaire', 'litige')),
    subject        text        NOT NULL CHECK (btrim(subject) <> ''),
    registered_by  text        NOT NULL CHECK (btrim(registered_by) <> ''),
    registered_at  timestamptz NOT NULL DEFAULT now(),
    status         text        NOT NULL DEFAULT 'received'
                   CHECK (status IN ('received', 'granted', 'refused', 'closed')),
    decided_by     text,
    greffe_reviewer text,      -- the Greffe's reviewer: requests are decided jointly
    decision_note  text,
    decided_at     timestamptz,
    closed_by      text,
    close_note     text,
    closed_at      timestamptz,
    CHECK ((status = 'received') = (decided_at IS NULL)),
    CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
CREATE INDEX access_requests_open ON access_requests (id) WHERE status <> 'closed';

-- The recordings a request is about (given when it is registered).
CREATE TABLE access_request_recordings (
    request_id   bigint NOT NULL REFERENCES access_requests (id),
    recording_id bigint NOT NULL,
    PRIMARY KEY (request_id, recording_id)
);

CREATE TABLE access_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    login      text        NOT NULL CHECK (btrim(login) <> ''),
    role       text        NOT NULL CHECK (role IN ('administrator', 'director', 'none')),
    action     text        NOT NULL CHECK (btrim(action) <> ''),
    object     text        NOT NULL DEFAULT '',
    request_id bigint,
    purpose    text        NOT NULL DEFAULT '',
    outcome    text        NOT NULL CHECK (outcome IN ('granted', 'refused')),
    detail     jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX access_log_at ON access_log (at);
CREATE INDEX access_log_login ON access_log (login, at);

-- +goose StatementBegin
CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER access_log_no_change BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER access_request_recordings_no_change BEFORE UPDATE OR DELETE ON access_request_recordings
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER access_request_recordings_no_truncate BEFORE TRUNCATE ON access_request_recordings
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();

-- A request is never deleted; its registered facts never change; it is
-- decided once (received -> granted or refused) and closed once.
-- +goose StatementBegin
CREATE FUNCTION access_requests_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'access_requests: % refused (the register keeps every request)', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (NEW.received_on, NEW.channel, NEW.requester, NEW.purpose, NEW.subject, NEW.registered_by, NEW.registered_at)
       IS DISTINCT FROM
       (OLD.received_on, OLD.channel, OLD.requester, OLD.purpose, OLD.subject, OLD.registered_by, OLD.registered_at) THEN
        RAISE EXCEPTION 'access_requests: a registered request''s facts never change'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT ((OLD.status = 'received' AND NEW.status IN ('granted', 'refused')
             AND OLD.closed_at IS NULL AND NEW.closed_at IS NULL)
         OR (OLD.status IN ('granted', 'refused') AND NEW.status = 'closed'
             AND (NEW.decided_by, NEW.greffe_reviewer, NEW.decision_note, NEW.decided_at)
                 IS NOT DISTINCT FROM (OLD.decided_by, OLD.greffe_reviewer, OLD.decision_note, OLD.decided_at))) THEN
        RAISE EXCEPTION 'access_requests: status % -> % refused (received -> granted|refused -> closed)', OLD.status, NEW.status
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER access_requests_guard BEFORE UPDATE OR DELETE ON access_requests
    FOR EACH ROW EXECUTE FUNCTION access_requests_guard();
CREATE TRIGGER access_requests_no_truncate BEFORE TRUNCATE ON access_requests
    FOR EACH STATEMENT EXECUTE FUNCTION access_requests_guard();

-- +goose Down
DROP TABLE access_log;
DROP TABLE access_request_recordings;
DROP TABLE access_requests;
DROP FUNCTION access_requests_guard();
DROP FUNCTION access_log_append_only();
