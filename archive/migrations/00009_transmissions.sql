-- What left the city for a granted written request: each transmission
-- package (to whom, how, when, its SHA-256 and its manifest's, the key that
-- signed it, the recordings in it, the date by which the holder destroys
-- the copies), and each holder's confirmation that they did. Both are
-- append-only; a request closes only once every package of it is confirmed
-- destroyed (the policy: "Tout détenteur doit détruire les fichiers…").

-- +goose Up
CREATE TABLE transmissions (
    id              bigserial PRIMARY KEY,
    request_id      bigint      NOT NULL REFERENCES access_requests (id),
    recipient       text        NOT NULL CHECK (btrim(recipient) <> ''),
    channel         text        NOT NULL CHECK (btrim(channel) <> ''),
    recordings      bigint[]    NOT NULL CHECK (cardinality(recordings) > 0),
    package_sha256  text        NOT NULL CHECK (package_sha256 ~ '^[0-9a-f]{64}$'),
    package_size    bigint      NOT NULL,
    manifest_sha256 text        NOT NULL CHECK (manifest_sha256 ~ '^[0-9a-f]{64}$'),
    key_sha256      text        NOT NULL CHECK (key_sha256 ~ '^[0-9a-f]{64}$'),
    destroy_by      date        NOT NULL,
    created_by      text        NOT NULL CHECK (btrim(created_by) <> ''),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transmissions_request ON transmissions (request_id);

CREATE TABLE transmission_destructions (
    transmission_id bigint PRIMARY KEY REFERENCES transmissions (id),
    statement       text        NOT NULL CHECK (btrim(statement) <> ''),  -- the holder's confirmation, as received
    recorded_by     text        NOT NULL CHECK (btrim(recorded_by) <> ''),
    recorded_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER transmissions_no_change BEFORE UPDATE OR DELETE ON transmissions
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER transmissions_no_truncate BEFORE TRUNCATE ON transmissions
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER transmission_destructions_no_change BEFORE UPDATE OR DELETE ON transmission_destructions
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER transmission_destructions_no_truncate BEFORE TRUNCATE ON transmission_destructions
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();

GRANT SELECT, INSERT ON transmissions, transmission_destructions TO recpolicy_runtime;
GRANT USAGE, SELECT ON SEQUENCE transmissions_id_seq TO recpolicy_runtime;

-- +goose Down
DROP TABLE transmission_destructions;
DROP TABLE transmissions;
