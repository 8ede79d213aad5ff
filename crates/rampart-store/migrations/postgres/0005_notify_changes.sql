-- Change notices: every committed change a follower can see (state, progress, log lines, cancel,
-- a new attempt) notifies the `rampart_changes` channel with `execution:<id>`, so any server can
-- stream any run. Lease renewals alone notify nobody. PostgreSQL delivers a notice only when the
-- transaction commits, and folds identical notices of one transaction into one.

CREATE FUNCTION rampart_notify_execution() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rampart_changes', 'execution:' || NEW.id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER executions_notify
    AFTER UPDATE ON executions
    FOR EACH ROW
    WHEN ((OLD.status, OLD.progress, OLD.progress_message, OLD.log_lines, OLD.cancel_requested, OLD.attempt)
          IS DISTINCT FROM (NEW.status, NEW.progress, NEW.progress_message, NEW.log_lines, NEW.cancel_requested, NEW.attempt))
    EXECUTE FUNCTION rampart_notify_execution();
