-- The console's local accounts (for a city without a directory, or beside
-- it) and its server-side sessions. A password is kept only as an argon2id
-- hash; a session only as the SHA-256 of its cookie's token.

-- +goose Up
CREATE TABLE console_users (
    login               text PRIMARY KEY CHECK (login ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    display_name        text        NOT NULL DEFAULT '',
    password_hash       text        NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    disabled            boolean     NOT NULL DEFAULT false,
    failed_logins       integer     NOT NULL DEFAULT 0,
    locked_until        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE console_sessions (
    id_hash    text PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{64}$'),
    login      text        NOT NULL,
    source     text        NOT NULL CHECK (source IN ('local', 'ldap')),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    remote     text        NOT NULL DEFAULT ''
);
CREATE INDEX console_sessions_login ON console_sessions (login);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON console_users, console_sessions TO recpolicy_runtime;

-- +goose Down
DROP TABLE console_sessions;
DROP TABLE console_users;
