-- Two roles. The owner (the role that runs these migrations: it owns the
-- tables, their triggers and functions) and recpolicy_runtime, the group
-- role of the logins the daemon and the console connect with. The runtime
-- role reads and writes the archive's rows, but may only INSERT into the
-- logs that must prove the past (access_log, destruction_log, the request
-- register's recordings): no UPDATE, DELETE or TRUNCATE there, and, not
-- owning any table, it cannot disable or change a trigger. A destruction's
-- pending row turns done or failed only through destruction_log_finish,
-- which runs as the owner and changes nothing but a pending row's state.
--
-- Set-up (README "Database roles"): as a superuser,
--   CREATE ROLE recpolicy_app LOGIN PASSWORD '…' IN ROLE recpolicy_runtime;
-- then archive.dsn names recpolicy_app, archive.migrate_dsn the owner.
-- Every later migration that adds a table grants it to recpolicy_runtime.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'recpolicy_runtime') THEN
        BEGIN
            CREATE ROLE recpolicy_runtime NOLOGIN;
        EXCEPTION WHEN duplicate_object THEN
            NULL; -- created meanwhile by a migration of another database
        END;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION destruction_log_finish(log_id bigint, new_state text, add_note text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    IF new_state NOT IN ('done', 'failed') THEN
        RAISE EXCEPTION 'destruction_log_finish: state % is not done or failed', new_state;
    END IF;
    UPDATE destruction_log
       SET state = new_state,
           destroyed_at = CASE WHEN new_state = 'done' THEN now() END,
           note = CASE WHEN add_note = '' THEN note WHEN note = '' THEN add_note ELSE note || '; ' || add_note END
     WHERE id = log_id AND state = 'pending';
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n = 1;
END;
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION destruction_log_finish(bigint, text, text) FROM PUBLIC;

GRANT USAGE ON SCHEMA public TO recpolicy_runtime;
GRANT SELECT, INSERT, UPDATE, DELETE ON calls, recordings, holds, training_copies, access_requests, purge_runs TO recpolicy_runtime;
GRANT SELECT, INSERT ON access_log, destruction_log, access_request_recordings, rules_versions TO recpolicy_runtime;
GRANT SELECT ON call_recordings, cdr, recpolicy_schema_version TO recpolicy_runtime;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO recpolicy_runtime;
GRANT EXECUTE ON FUNCTION destruction_log_finish(bigint, text, text) TO recpolicy_runtime;

-- +goose Down
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM recpolicy_runtime;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM recpolicy_runtime;
REVOKE USAGE ON SCHEMA public FROM recpolicy_runtime;
DROP FUNCTION destruction_log_finish(bigint, text, text);
