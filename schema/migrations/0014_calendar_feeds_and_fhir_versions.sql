-- Calendar subscriptions and FHIR document versions.

-- A person's secret feed URL (GET /v1/calendar/{token}.ics): calendar apps cannot send a
-- Bearer header, so the URL itself is the credential. Only its SHA-256 is kept; one per
-- person, replaced when regenerated and deleted when revoked. Not a session: logging out does
-- not break a subscription.
CREATE TABLE calendar_feeds (
    account_id      bigint PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    token_sha256    bytea NOT NULL CHECK (length(token_sha256) = 32),
    created_at      timestamptz NOT NULL,
    CONSTRAINT calendar_feeds_token_key UNIQUE (token_sha256)
);

-- An imported or subscribed copy of an event only learns of a change when SEQUENCE rises
-- (RFC 5545 §3.8.7.4) and LAST-MODIFIED moves. A trigger, not each UPDATE in the services,
-- keeps them: every path that changes a booking or a reservation (the booker, staff, the
-- sweeper's releases, waitlist hand-over) is covered, including ones written later.
ALTER TABLE bookings
    ADD COLUMN calendar_sequence integer NOT NULL DEFAULT 0,
    ADD COLUMN calendar_changed_at timestamptz;
ALTER TABLE childcare_reservations
    ADD COLUMN calendar_sequence integer NOT NULL DEFAULT 0,
    ADD COLUMN calendar_changed_at timestamptz;

-- When the change records its own time (ended_at, on the application's clock) that time is
-- used; otherwise the database's. Never earlier than before, so LAST-MODIFIED only moves on.
CREATE FUNCTION calendar_entry_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.calendar_sequence := OLD.calendar_sequence + 1;
    NEW.calendar_changed_at := greatest(
        coalesce(OLD.calendar_changed_at, OLD.created_at),
        CASE WHEN NEW.ended_at IS DISTINCT FROM OLD.ended_at AND NEW.ended_at IS NOT NULL
             THEN NEW.ended_at ELSE statement_timestamp() END);
    RETURN NEW;
END
$$;

-- Only what an event shows: reminders, re-alerts and the like do not make a new version.
CREATE TRIGGER bookings_calendar_change
    BEFORE UPDATE ON bookings
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.during IS DISTINCT FROM NEW.during
                       OR OLD.pay_by IS DISTINCT FROM NEW.pay_by OR OLD.resource_id IS DISTINCT FROM NEW.resource_id)
    EXECUTE FUNCTION calendar_entry_changed();

CREATE TRIGGER childcare_reservations_calendar_change
    BEFORE UPDATE ON childcare_reservations
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.session_id IS DISTINCT FROM NEW.session_id)
    EXECUTE FUNCTION calendar_entry_changed();

-- The FHIR handoff of a case is one document in successive versions: Composition.identifier
-- stays, its version rises whenever the exported content differs from the last export.
CREATE TABLE ems_fhir_versions (
    case_id         bigint PRIMARY KEY REFERENCES ems_cases (id) ON DELETE CASCADE,
    version         integer NOT NULL CHECK (version >= 1),
    content_sha256  bytea NOT NULL CHECK (length(content_sha256) = 32),
    changed_at      timestamptz NOT NULL
);
