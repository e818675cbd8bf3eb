-- The roles a session's person holds from the city's directory (its
-- groups), as they were at login: "administrator", "reviewer".

-- +goose Up
ALTER TABLE console_sessions ADD COLUMN roles text[] NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE console_sessions DROP COLUMN roles;
