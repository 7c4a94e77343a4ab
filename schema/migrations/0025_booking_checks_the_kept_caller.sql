-- The booking's one statement also checks the caller (issue 16): the API keeps each token's caller
-- for a few seconds per process (KEPT_CALLER in backend/core/auth.py) and skips the session lookup's
-- round trip on the booking path; book_slot then checks, in the same statement, that the session is
-- still live, its account still verified, and its verified residency still the one the booking was
-- priced with ('stale-caller' otherwise: the API reads the caller afresh and books again).

DROP FUNCTION book_slot(bigint, text, bigint, timestamptz, timestamptz, text, integer, text, timestamptz,
                        timestamptz, integer, timestamptz, timestamptz, date, text[], text[], jsonb[]);

-- outcome: 'booked' (the booking's columns follow); 'stale-caller', 'stale-terms', 'lottery-only', 'slot-taken' or
-- 'monthly-cap' (nothing written); or 'needs-transaction': the slot has run-out bookings to release
-- (with waitlist hand-over) or a hold kept for this booker, which the service handles in an
-- ordinary transaction (rare).
CREATE FUNCTION book_slot(
    p_resource      bigint,
    -- The version of the resource's terms the service validated the slot and priced it with
    -- (r.xmin/f.xmin, as RESOURCE_TERMS reads it); another version answers 'stale-terms' and writes nothing.
    p_terms_version text,
    p_account       bigint,
    p_start         timestamptz,
    p_end           timestamptz,
    p_status        text,
    p_fee           integer,
    p_reduction     text,
    p_pay_by        timestamptz,
    p_now           timestamptz,
    p_monthly_cap   integer,
    p_month_start   timestamptz,
    p_month_end     timestamptz,
    -- The first day of the booking's month, for the lottery that may hold it.
    p_month         date,
    -- The outbox events of the booking; a payload with a "bookingId" gets the new booking's id.
    p_topics        text[],
    p_types         text[],
    p_payloads      jsonb[],
    -- The session of a caller the API kept from an earlier request (NULL: it read the caller in this
    -- request), and the verified residency it priced the booking with.
    p_session       bigint,
    p_residency     integer
) RETURNS TABLE (
    outcome                 text,
    id                      bigint,
    resource_id             bigint,
    facility_id             bigint,
    start                   timestamptz,
    "end"                   timestamptz,
    status                  text,
    fee                     integer,
    reduction               text,
    pay_by                  timestamptz,
    hold_until              timestamptz,
    created_at              timestamptz,
    reduction_approved_at   timestamptz
)
LANGUAGE plpgsql VOLATILE
-- Each statement below has one shape whatever the arguments: plan it once per connection instead
-- of re-planning it for every booking (the planner's custom plans cost more than they save here).
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    wanted      tstzrange := tstzrange(p_start, p_end);
    booking_id  bigint;
BEGIN
    -- A refusal sets `outcome` and returns its one row (the booking's columns NULL).

    -- 0. The checks that need no lock, in the order the API answers them (no write on any):
    --    the terms the service used are still the resource's; no lottery holds the month (first-come
    --    booking waits until it has been drawn *and* firstComeAt has passed); no committed live
    --    booking already covers the time, so a rush's crowd gets its 409 without queueing on the
    --    lock (a run-out booking or the booker's own hold does not count: step 2 deals with them).
    --    First, a kept caller is still who the API took them for: signed in, verified (booking needs
    --    it), and resident where the fee says.
    IF p_session IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM sessions s JOIN accounts a ON a.id = s.account_id
         WHERE s.id = p_session AND s.account_id = p_account AND s.revoked_at IS NULL AND s.expires_at > p_now
           AND a.email_verified_at IS NOT NULL
           AND verified_municipality(a.id) IS NOT DISTINCT FROM p_residency) THEN
        outcome := 'stale-caller';
        RETURN NEXT;
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM resources r JOIN facilities f ON f.id = r.facility_id
                    WHERE r.id = p_resource AND r.xmin::text || '/' || f.xmin::text = p_terms_version) THEN
        outcome := 'stale-terms';
        RETURN NEXT;
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM lottery_resources lr JOIN lotteries l ON l.id = lr.lottery_id
                WHERE lr.resource_id = p_resource AND l.month = p_month
                  AND (p_now < l.first_come_at OR l.drawn_at IS NULL)) THEN
        outcome := 'lottery-only';
        RETURN NEXT;
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM bookings b
                WHERE b.resource_id = p_resource AND b.during && wanted
                  AND b.status IN ('held', 'provisional', 'confirmed')
                  AND coalesce(b.pay_by, b.hold_until, 'infinity') > p_now
                  AND NOT (b.status = 'held' AND b.account_id = p_account AND b.during = wanted)) THEN
        outcome := 'slot-taken';
        RETURN NEXT;
        RETURN;
    END IF;

    -- 1. Queue behind the other writers of this resource's day (see LOCK_SLOT_DAY).
    PERFORM pg_advisory_xact_lock(booking_day_key(p_resource, p_start));

    -- 2. Run-out bookings in the way, or the booker's own waitlist hold: the slow path frees or
    --    takes them with the waitlist hand-over, in the service's transaction.
    IF EXISTS (SELECT 1 FROM bookings b
                WHERE b.resource_id = p_resource AND b.during && wanted AND b.status IN ('provisional', 'held')
                  AND (coalesce(b.pay_by, b.hold_until) <= p_now
                       OR (b.status = 'held' AND b.account_id = p_account AND b.during = wanted))) THEN
        outcome := 'needs-transaction';
        RETURN NEXT;
        RETURN;
    END IF;

    -- 3. The monthly cap, with one person's bookings of one resource serialised (see LOCK_BOOKER).
    IF p_monthly_cap IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(
            hashtextextended('booking-cap:' || p_account::text || ':' || p_resource::text, 0));
        IF (SELECT count(*) FROM bookings b
             WHERE b.account_id = p_account AND b.resource_id = p_resource
               AND b.status IN ('provisional', 'confirmed')
               AND b.during && tstzrange(p_month_start, p_month_end)) >= p_monthly_cap THEN
            outcome := 'monthly-cap';
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    -- 4. The insert: bookings_no_overlap decides.
    INSERT INTO bookings (resource_id, account_id, during, status, fee, reduction, pay_by, hold_until, created_at)
    VALUES (p_resource, p_account, wanted, p_status, p_fee, p_reduction, p_pay_by, NULL, p_now)
    RETURNING bookings.id INTO booking_id;

    -- 5. The audit row (as backend/audit.py writes it).
    INSERT INTO audit (actor_account_id, action, subject_type, subject_id, reason, at)
    VALUES (p_account, 'booking.create', 'booking', booking_id::text, NULL, p_now);

    -- 6. The outbox rows (as backend/outbox.py writes them), committed with the booking.
    INSERT INTO outbox (topic, type, payload, created_at)
    SELECT e.topic, e.type,
           CASE WHEN e.payload ? 'bookingId' THEN e.payload || jsonb_build_object('bookingId', booking_id)
                ELSE e.payload END,
           p_now
      FROM unnest(p_topics, p_types, p_payloads) AS e(topic, type, payload);

    -- 7. The booking as the API shows it (BOOKING_COLUMNS).
    RETURN QUERY
    SELECT 'booked'::text, b.id, b.resource_id, r.facility_id, lower(b.during), upper(b.during), b.status, b.fee,
           b.reduction, b.pay_by, b.hold_until, b.created_at, b.reduction_approved_at
      FROM bookings b JOIN resources r ON r.id = b.resource_id
     WHERE b.id = booking_id;
END
$$;
