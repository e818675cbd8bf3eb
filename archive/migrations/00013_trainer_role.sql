-- Trainers prepare de-identified training copies in the console; the
-- access log names their role.

-- +goose Up
ALTER TABLE access_log DROP CONSTRAINT access_log_role_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_role_check
    CHECK (role IN ('administrator', 'director', 'reviewer', 'trainer', 'none'));

-- +goose Down
ALTER TABLE access_log DROP CONSTRAINT access_log_role_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_role_check
    CHECK (role IN ('administrator', 'director', 'reviewer', 'none'));
