-- A booking's writes in one round trip (issue 16). Called as a single statement outside any
-- explicit transaction, so the statement is its own transaction: no BEGIN and COMMIT on the wire.
-- PL/pgSQL rather than data-modifying CTEs because the steps must run in order (the lock before
-- anything reads or writes the slot) and each step after the lock must see what the writer before
-- it committed: in READ COMMITTED every statement of a VOLATILE function takes a fresh snapshot.
-- bookings_no_overlap still decides every race; its violation leaves this function as the
-- constraint error it always was (409 slot-taken via backend/errors.py).

-- The transaction advisory lock key of a resource's Tokyo day; backend/facilities/queries.py
-- uses the same function, so every writer of a day queues on one lock.
CREATE FUNCTION booking_day_key(resource bigint, start timestamptz) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN hashtextextended('booking-day:' || resource::text || ':' || (start AT TIME ZONE 'Asia/Tokyo')::date::text, 0);

-- outcome: 'booked' (the booking's columns follow); 'monthly-cap' (nothing written); or
-- 'needs-transaction': the slot has run-out bookings to release (with waitlist hand-over) or a
-- hold kept for this booker, which the service handles in an ordinary transaction (rare).
CREATE FUNCTION book_slot(
    p_resource      bigint,
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
    -- The outbox events of the booking; a payload with a "bookingId" gets the new booking's id.
    p_topics        text[],
    p_types         text[],
    p_payloads      jsonb[]
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
AS $$
#variable_conflict use_column
DECLARE
    wanted      tstzrange := tstzrange(p_start, p_end);
    booking_id  bigint;
BEGIN
    -- 1. Queue behind the other writers of this resource's day (see LOCK_SLOT_DAY).
    PERFORM pg_advisory_xact_lock(booking_day_key(p_resource, p_start));

    -- 2. Run-out bookings in the way, or the booker's own waitlist hold: the slow path frees or
    --    takes them with the waitlist hand-over, in the service's transaction.
    IF EXISTS (SELECT 1 FROM bookings b
                WHERE b.resource_id = p_resource AND b.during && wanted AND b.status IN ('provisional', 'held')
                  AND (coalesce(b.pay_by, b.hold_until) <= p_now
                       OR (b.status = 'held' AND b.account_id = p_account AND b.during = wanted))) THEN
        RETURN QUERY SELECT 'needs-transaction'::text, NULL::bigint, NULL::bigint, NULL::bigint, NULL::timestamptz,
                            NULL::timestamptz, NULL::text, NULL::integer, NULL::text, NULL::timestamptz,
                            NULL::timestamptz, NULL::timestamptz, NULL::timestamptz;
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
            RETURN QUERY SELECT 'monthly-cap'::text, NULL::bigint, NULL::bigint, NULL::bigint, NULL::timestamptz,
                                NULL::timestamptz, NULL::text, NULL::integer, NULL::text, NULL::timestamptz,
                                NULL::timestamptz, NULL::timestamptz, NULL::timestamptz;
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
