-- A childcare reservation in one statement (issue 16: the other commands people rush on). The
-- service reads the child and the session once (RESERVABLE), answers what it can on that read (not
-- the parent's child, no such session, not approved, cancelled, no band, started), prices the hours
-- and names the events; reserve_childcare_place then does the rest in one statement, which is its own
-- transaction: what may have changed since the read is checked again, a place of the band is taken
-- while one is left (the places row's lock queues a rush; childcare_places_within_capacity is the
-- proof), the month's hours are charged while within the quota, and the reservation, its audit row
-- and its outbox rows are written. A hold kept for this child goes back to the service's transaction
-- ('needs-transaction'), as the waitlist's bookkeeping does not belong in the hot path.

-- outcome: 'reserved' (the reservation's columns follow); 'not-approved', 'session-cancelled',
-- 'full' or 'quota-exceeded' (nothing written); or 'needs-transaction'.
CREATE FUNCTION reserve_childcare_place(
    p_session       bigint,
    p_child         bigint,
    p_band          text,
    p_hours         integer,
    -- The first day of the session's month, whose hours the quota counts.
    p_month         date,
    -- The municipality whose quota applies (the parent's verified residence, else the nursery's).
    p_municipality  integer,
    p_account       bigint,
    p_now           timestamptz,
    -- The outbox events; a payload with a "reservationId" gets the new reservation's id.
    p_topics        text[],
    p_types         text[],
    p_payloads      jsonb[]
) RETURNS TABLE (
    outcome     text,
    id          bigint,
    session_id  bigint,
    child_id    bigint,
    band        text,
    hours       integer,
    status      text,
    hold_until  timestamptz,
    created_at  timestamptz,
    arrived_at  timestamptz
)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    quota           integer;
    reservation_id  bigint;
BEGIN
    -- A refusal sets `outcome` and returns its one row (the reservation's columns NULL).

    -- 0. What the service's read found may have changed since: the approval, the cancellation.
    IF NOT EXISTS (SELECT 1 FROM childcare_sessions s JOIN child_approvals a ON a.nursery_id = s.nursery_id
                    WHERE s.id = p_session AND a.child_id = p_child) THEN
        outcome := 'not-approved';
        RETURN NEXT;
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM childcare_sessions s WHERE s.id = p_session AND s.cancelled_at IS NOT NULL) THEN
        outcome := 'session-cancelled';
        RETURN NEXT;
        RETURN;
    END IF;

    -- 1. A hold kept for this child (from the waitlist): the service's transaction takes it.
    IF EXISTS (SELECT 1 FROM childcare_reservations r
                WHERE r.session_id = p_session AND r.child_id = p_child AND r.status = 'held'
                  AND r.hold_until > p_now) THEN
        outcome := 'needs-transaction';
        RETURN NEXT;
        RETURN;
    END IF;

    -- 2. A place of the band while one is left (as TAKE_PLACE): none, and nothing is written.
    UPDATE childcare_places p SET used = p.used + 1
     WHERE p.session_id = p_session AND p.band = p_band AND p.used < p.capacity AND NOT p.closed;
    IF NOT FOUND THEN
        outcome := 'full';
        RETURN NEXT;
        RETURN;
    END IF;

    -- 3. The month's hours while within the quota (as CHARGE_HOURS); over it, the place goes back.
    SELECT q.monthly_hours INTO quota FROM childcare_quotas q WHERE q.municipality_id = p_municipality;
    IF quota IS NOT NULL THEN
        INSERT INTO childcare_hours_used AS u (child_id, month, hours)
        SELECT p_child, p_month, p_hours WHERE p_hours <= quota
        ON CONFLICT (child_id, month) DO UPDATE SET hours = u.hours + EXCLUDED.hours
         WHERE u.hours + EXCLUDED.hours <= quota;
        IF NOT FOUND THEN
            UPDATE childcare_places p SET used = p.used - 1 WHERE p.session_id = p_session AND p.band = p_band;
            outcome := 'quota-exceeded';
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    -- 4. The reservation (as INSERT_RESERVATION): childcare_reservations_once refuses a second live
    --    one of the child's in the session, and the error undoes the whole statement.
    INSERT INTO childcare_reservations (session_id, child_id, band, hours, status, hold_until, created_at)
    VALUES (p_session, p_child, p_band, p_hours, 'reserved', NULL, p_now)
    RETURNING childcare_reservations.id INTO reservation_id;

    -- 5. The audit row (as backend/core/audit.py writes it).
    INSERT INTO audit (actor_account_id, action, subject_type, subject_id, reason, at)
    VALUES (p_account, 'childcare.reserve', 'child', p_child::text, 'session ' || p_session, p_now);

    -- 6. The outbox rows (as backend/core/outbox.py writes them), committed with the reservation.
    INSERT INTO outbox (topic, type, payload, created_at)
    SELECT e.topic, e.type,
           CASE WHEN e.payload ? 'reservationId' THEN e.payload || jsonb_build_object('reservationId', reservation_id)
                ELSE e.payload END,
           p_now
      FROM unnest(p_topics, p_types, p_payloads) AS e(topic, type, payload);

    -- 7. The reservation as the API shows it (RESERVATION_COLUMNS).
    RETURN QUERY
    SELECT 'reserved'::text, r.id, r.session_id, r.child_id, r.band, r.hours, r.status, r.hold_until, r.created_at,
           r.arrived_at
      FROM childcare_reservations r
     WHERE r.id = reservation_id;
END
$$;
