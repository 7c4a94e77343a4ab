-- Facility back office: closing resources, closures (休館日・メンテナンス), the booking horizon
-- (受付開始) and no-shows. The booking path stays as it is: one trigger on bookings makes the
-- database refuse a live booking on a closed resource, inside a closure or beyond the horizon,
-- whichever code path writes it.

ALTER TABLE resources
    ADD COLUMN closed_at timestamptz,
    ADD COLUMN closed_reason text,
    -- 受付開始: a day opens for booking this many months before it (Asia/Tokyo); null: no limit.
    -- Non-residents fall back to the residents' horizon when theirs is null.
    ADD COLUMN resident_horizon_months integer CHECK (resident_horizon_months BETWEEN 1 AND 24),
    ADD COLUMN non_resident_horizon_months integer CHECK (non_resident_horizon_months BETWEEN 1 AND 24),
    ADD CONSTRAINT resources_closed_with_reason CHECK ((closed_at IS NULL) = (closed_reason IS NULL));

ALTER TABLE bookings
    ADD COLUMN no_show_at timestamptz,
    ADD COLUMN no_show_by bigint REFERENCES accounts (id),
    ADD CONSTRAINT bookings_no_show_only_confirmed CHECK (no_show_at IS NULL OR status = 'confirmed');

-- A period when a whole facility (resource_id null) or one resource cannot be used.
CREATE TABLE closures (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    facility_id bigint NOT NULL REFERENCES facilities (id),
    resource_id bigint REFERENCES resources (id),
    during      tstzrange NOT NULL CHECK (NOT isempty(during) AND lower_inc(during) AND NOT upper_inc(during)
                                          AND NOT lower_inf(during) AND NOT upper_inf(during)),
    reason      text NOT NULL,
    created_by  bigint NOT NULL REFERENCES accounts (id),
    created_at  timestamptz NOT NULL,
    lifted_at   timestamptz,
    lifted_by   bigint REFERENCES accounts (id)
);
CREATE INDEX closures_in_force_idx ON closures USING gist (facility_id, during) WHERE lifted_at IS NULL;

-- The gate of one resource: bookings pass it shared (they never wait for each other here), and
-- closing the resource or a closure over it takes it exclusively. So a closure and a booking
-- racing for the same time are ordered: whichever comes second sees the first committed.
CREATE FUNCTION resource_gate_key(resource bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE AS $$ SELECT hashtextextended('resource-gate:' || resource::text, 0) $$;

-- When a day (the Tokyo date of `starts`) opens for booking with a horizon of `months`.
CREATE FUNCTION booking_opens_at(starts timestamptz, months integer) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE AS $$
    SELECT ((starts AT TIME ZONE 'Asia/Tokyo')::date - make_interval(months => months)) AT TIME ZONE 'Asia/Tokyo'
$$;

-- AFTER the row: a booking that loses to bookings_no_overlap (most of a rush's crowd) fails in the
-- exclusion index before this runs, so the rush pays for it once, for its winner. The WHEN clauses
-- keep status changes that keep the time (taking a hold, confirming, cancelling) from calling it.
CREATE FUNCTION bookings_respect_closures() RETURNS trigger LANGUAGE plpgsql AS $$
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
        SELECT municipality_id INTO home FROM accounts WHERE id = NEW.account_id;
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

CREATE TRIGGER bookings_respect_closures_on_insert
    AFTER INSERT ON bookings
    FOR EACH ROW WHEN (NEW.status IN ('held', 'provisional', 'confirmed'))
    EXECUTE FUNCTION bookings_respect_closures();

CREATE TRIGGER bookings_respect_closures_on_update
    AFTER UPDATE OF status, during ON bookings
    FOR EACH ROW WHEN (NEW.status IN ('held', 'provisional', 'confirmed')
                       AND (OLD.status NOT IN ('held', 'provisional', 'confirmed') OR OLD.during <> NEW.during))
    EXECUTE FUNCTION bookings_respect_closures();

-- A closure may not cover live bookings: the service cancels them first when staff chose so.
CREATE FUNCTION closures_clear_of_bookings() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    resource bigint;
BEGIN
    IF NEW.lifted_at IS NOT NULL THEN
        RETURN NEW;
    END IF;
    FOR resource IN SELECT id FROM resources
                     WHERE facility_id = NEW.facility_id AND (NEW.resource_id IS NULL OR id = NEW.resource_id)
                     ORDER BY id LOOP
        PERFORM pg_advisory_xact_lock(resource_gate_key(resource));
    END LOOP;
    IF EXISTS (SELECT 1 FROM bookings b JOIN resources r ON r.id = b.resource_id
                WHERE r.facility_id = NEW.facility_id AND (NEW.resource_id IS NULL OR r.id = NEW.resource_id)
                  AND b.status IN ('held', 'provisional', 'confirmed') AND b.during && NEW.during) THEN
        RAISE EXCEPTION 'live bookings overlap the closure'
            USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'closures_clear_of_bookings';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER closures_clear_of_bookings
    BEFORE INSERT ON closures
    FOR EACH ROW EXECUTE FUNCTION closures_clear_of_bookings();

-- Closing a resource: no live booking may remain from the moment it closes.
CREATE FUNCTION resources_close_clear_of_bookings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.closed_at IS NULL OR OLD.closed_at IS NOT NULL THEN
        RETURN NEW;
    END IF;
    PERFORM pg_advisory_xact_lock(resource_gate_key(NEW.id));
    IF EXISTS (SELECT 1 FROM bookings
                WHERE resource_id = NEW.id AND status IN ('held', 'provisional', 'confirmed')
                  AND upper(during) > NEW.closed_at) THEN
        RAISE EXCEPTION 'resource % has live bookings', NEW.id
            USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'resources_closed_clear_of_bookings';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER resources_close_clear_of_bookings
    BEFORE UPDATE OF closed_at ON resources
    FOR EACH ROW EXECUTE FUNCTION resources_close_clear_of_bookings();

-- 抽選 cancelled before its close: no draw, no applications, first-come booking as usual. Its
-- resources leave lottery_resources (which is what shuts a lottery month to first-come booking)
-- and are kept here for the record.
ALTER TABLE lotteries
    ADD COLUMN cancelled_at timestamptz,
    ADD COLUMN cancel_reason text,
    ADD COLUMN cancelled_resource_ids bigint[],
    ADD CONSTRAINT lotteries_cancelled_not_drawn CHECK (cancelled_at IS NULL OR drawn_at IS NULL);

-- The operator's schedule reads every booking of a facility's resources over a day or a week,
-- ended ones included (the exclusion index covers live bookings only).
CREATE INDEX bookings_schedule_idx ON bookings (resource_id, lower(during));
