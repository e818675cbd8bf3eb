-- A written request is decided jointly by the IT department and the
-- Greffe: each side gives its opinion (grant or refuse, with grounds); the
-- request is decided when the latest opinions of both sides agree and were
-- given by two distinct people. Opinions are append-only.

-- +goose Up
CREATE TABLE request_opinions (
    id           bigserial PRIMARY KEY,
    request_id   bigint      NOT NULL REFERENCES access_requests (id),
    side         text        NOT NULL CHECK (side IN ('it', 'greffe')),
    login        text        NOT NULL CHECK (btrim(login) <> ''),
    grant_access boolean     NOT NULL,
    note         text        NOT NULL CHECK (btrim(note) <> ''),
    given_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX request_opinions_request ON request_opinions (request_id, side, id);

CREATE TRIGGER request_opinions_no_change BEFORE UPDATE OR DELETE ON request_opinions
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER request_opinions_no_truncate BEFORE TRUNCATE ON request_opinions
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();

GRANT SELECT, INSERT ON request_opinions TO recpolicy_runtime;
GRANT USAGE, SELECT ON SEQUENCE request_opinions_id_seq TO recpolicy_runtime;

-- +goose Down
DROP TABLE request_opinions;
