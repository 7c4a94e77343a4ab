-- Once a case has its destination, no hospital may hold an open (pending or accepted) request
-- on it: an open request is what lets a hospital read the case, its FHIR export and its inbox
-- entry, and what the sweeper re-alerts. The service serialises every change of a case on the
-- case row; these triggers keep the rule even if a code path forgets to.
--
-- Both sides take a lock on the case row, so the check cannot race at READ COMMITTED: a request
-- being opened holds FOR SHARE on the case until it commits, which makes a concurrent
-- destination wait and then see the request (each statement of a volatile function takes a
-- fresh snapshot); a destination being set holds the row lock, which makes a concurrent
-- request wait and then see destination_at.
--
-- The violation is raised as a check_violation named ems_requests_closed_after_destination,
-- which backend/errors.py maps to 409 destination-set.

-- Requests left open by the race this closes: release them, so the hospitals lose the case now.
UPDATE ems_requests r SET status = 'released'
  FROM ems_cases c
 WHERE c.id = r.case_id AND c.destination_at IS NOT NULL AND r.status IN ('pending', 'accepted');

CREATE FUNCTION ems_request_open_needs_no_destination() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT destination_at FROM ems_cases WHERE id = NEW.case_id FOR SHARE) IS NOT NULL THEN
        RAISE EXCEPTION 'case % already has a destination; request to hospital % cannot be open',
                        NEW.case_id, NEW.hospital_id
              USING ERRCODE = 'check_violation', CONSTRAINT = 'ems_requests_closed_after_destination',
                    TABLE = 'ems_requests';
    END IF;
    RETURN NEW;
END
$$;

-- Only rows entering an open status need the check: releases, selections, declines and
-- re-alerts never take the case lock here.
CREATE TRIGGER ems_requests_closed_after_destination_on_insert
    BEFORE INSERT ON ems_requests
    FOR EACH ROW WHEN (NEW.status IN ('pending', 'accepted'))
    EXECUTE FUNCTION ems_request_open_needs_no_destination();

CREATE TRIGGER ems_requests_closed_after_destination_on_update
    BEFORE UPDATE OF status ON ems_requests
    FOR EACH ROW WHEN (NEW.status IN ('pending', 'accepted') AND NEW.status IS DISTINCT FROM OLD.status)
    EXECUTE FUNCTION ems_request_open_needs_no_destination();

CREATE FUNCTION ems_destination_needs_no_open_request() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM ems_requests WHERE case_id = NEW.id AND status IN ('pending', 'accepted')) THEN
        RAISE EXCEPTION 'case % still has open requests; release them before setting the destination', NEW.id
              USING ERRCODE = 'check_violation', CONSTRAINT = 'ems_requests_closed_after_destination',
                    TABLE = 'ems_cases';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER ems_cases_destination_closes_requests
    BEFORE UPDATE OF destination_at ON ems_cases
    FOR EACH ROW WHEN (NEW.destination_at IS NOT NULL)
    EXECUTE FUNCTION ems_destination_needs_no_open_request();
