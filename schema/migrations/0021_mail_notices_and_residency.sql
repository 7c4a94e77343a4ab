-- E-mail notices and verified residency.
--
-- Notices: the mail notifier reads the event outbox after its own cursor (as the push worker does)
-- and queues one message per notice in email_outbox; a provisional booking is reminded of its
-- payment deadline once, the day before.
--
-- Residency: an account declares its municipality; that municipality's staff verify or decline
-- it. Only a verified residency gives the resident fee, the resident booking horizon, the
-- lottery's resident tier and the municipality's childcare quota. accounts.municipality_id was
-- set by hand at the counter; those values are carried over as verified, and nothing reads the
-- column any more (it stays only so that code in flight still finds it; it is never written).

CREATE TABLE mail_notice_cursor (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    last_seq    bigint NOT NULL DEFAULT 0
);
INSERT INTO mail_notice_cursor (last_seq) SELECT coalesce(max(seq), 0) FROM outbox;

ALTER TABLE bookings ADD COLUMN payment_reminded_at timestamptz;
CREATE INDEX bookings_payment_due_idx ON bookings (pay_by)
    WHERE status = 'provisional' AND payment_reminded_at IS NULL;

CREATE TABLE residencies (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id      bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    municipality_id integer NOT NULL REFERENCES municipalities (id),
    -- pending: declared, waiting for the municipality; verified / declined: decided by its staff;
    -- ended: superseded by a later declaration (a move) or by the account's erasure.
    status          text NOT NULL CHECK (status IN ('pending', 'verified', 'declined', 'ended')),
    declared_at     timestamptz NOT NULL,
    decided_at      timestamptz,
    decided_by      bigint REFERENCES accounts (id),
    decline_reason  text,
    ended_at        timestamptz,
    CONSTRAINT residencies_decision_recorded CHECK (status NOT IN ('verified', 'declined') OR decided_at IS NOT NULL),
    CONSTRAINT residencies_decline_has_reason
        CHECK (status <> 'declined' OR length(btrim(coalesce(decline_reason, ''))) > 0),
    CONSTRAINT residencies_ended_has_time CHECK ((status = 'ended') = (ended_at IS NOT NULL))
);
-- At most one live declaration per account, whatever races: a move ends the old one first.
CREATE UNIQUE INDEX residencies_one_live ON residencies (account_id) WHERE status IN ('pending', 'verified');
CREATE INDEX residencies_queue_idx ON residencies (municipality_id, id) WHERE status = 'pending';

INSERT INTO residencies (account_id, municipality_id, status, declared_at, decided_at)
SELECT id, municipality_id, 'verified', created_at, created_at FROM accounts WHERE municipality_id IS NOT NULL;

-- The one definition of "resident of": the verified residency, nothing the account merely declared.
CREATE FUNCTION verified_municipality(account bigint) RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT municipality_id FROM residencies WHERE account_id = account AND status = 'verified'
$$;

-- The booking horizon's resident rule now reads the verified residency (0020 read accounts.municipality_id).
CREATE OR REPLACE FUNCTION bookings_respect_closures() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    res record;
    home integer;
    months integer;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(resource_gate_key(NEW.resource_id));
    SELECT r.closed_at, r.facility_id, r.resident_horizon_months, r.non_resident_horizon_months, f.municipality_id
      INTO res
      FROM resources r JOIN facilities f ON f.id = r.facility_id
     WHERE r.id = NEW.resource_id;
    -- 23P01 like bookings_no_overlap: the slot is not available, and the waitlist hand-over skips it.
    IF res.closed_at IS NOT NULL THEN
        RAISE EXCEPTION 'resource % is closed', NEW.resource_id
            USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'bookings_resource_open';
    END IF;
    IF EXISTS (SELECT 1 FROM closures c
                WHERE c.facility_id = res.facility_id AND c.lifted_at IS NULL
                  AND (c.resource_id IS NULL OR c.resource_id = NEW.resource_id)
                  AND c.during && NEW.during) THEN
        RAISE EXCEPTION 'resource % is closed during %', NEW.resource_id, NEW.during
            USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'bookings_not_in_closure';
    END IF;
    -- The horizon binds people booking (not holds for waiters, who queued for a bookable slot).
    -- In a lottery's month the lottery decides when first-come booking opens (firstComeAt).
    IF TG_OP = 'INSERT' AND NEW.status <> 'held'
       AND (res.resident_horizon_months IS NOT NULL OR res.non_resident_horizon_months IS NOT NULL) THEN
        home := verified_municipality(NEW.account_id);
        months := CASE WHEN home IS NOT DISTINCT FROM res.municipality_id THEN res.resident_horizon_months
                       ELSE coalesce(res.non_resident_horizon_months, res.resident_horizon_months) END;
        IF months IS NOT NULL AND NEW.created_at < booking_opens_at(lower(NEW.during), months)
           AND NOT EXISTS (SELECT 1 FROM lottery_resources lr JOIN lotteries l ON l.id = lr.lottery_id
                            WHERE lr.resource_id = NEW.resource_id
                              AND l.month = date_trunc('month', lower(NEW.during) AT TIME ZONE 'Asia/Tokyo')::date) THEN
            RAISE EXCEPTION 'booking for % opens at %', lower(NEW.during), booking_opens_at(lower(NEW.during), months)
                USING ERRCODE = 'check_violation', CONSTRAINT = 'bookings_within_horizon';
        END IF;
    END IF;
    RETURN NULL;
END
$$;
