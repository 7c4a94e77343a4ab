-- Two SQL functions that every booking calls were parsed and planned again on every call (issue 16).
--
-- PostgreSQL inlines a LANGUAGE sql function into the statement that calls it only when its body is
-- one expression (no FROM) and, for an IMMUTABLE function, an immutable one. Otherwise each
-- execution of the calling statement parses and plans the body afresh (fmgr_sql): in a booking rush
-- that was about a tenth of PostgreSQL's CPU (perf; pg_stat_user_functions: ~50 µs a call).

-- The day's lock key cast a date to text, which depends on DateStyle: STABLE, so never inlined
-- (and a session with another DateStyle would have computed another key). The key now numbers the
-- Tokyo day from 2000-01-01: immutable throughout, so the planner inlines it and every writer of a
-- day still computes the same key (book_slot, LOCK_SLOT_DAY and LOCK_BOOKING_DAY in
-- backend/facilities/queries.py all call this function). Transaction locks only: no key outlives
-- the transaction that took it.
CREATE OR REPLACE FUNCTION booking_day_key(resource bigint, start timestamptz) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN hashtextextended(
        'booking-day:' || resource::text || ':' || ((start AT TIME ZONE 'Asia/Tokyo')::date - DATE '2000-01-01')::text, 0);

-- A lookup with a FROM cannot be inlined; PL/pgSQL plans it once per connection and keeps the plan.
-- Same answer as before (0021): the municipality of the account's verified residency, or NULL.
CREATE OR REPLACE FUNCTION verified_municipality(account bigint) RETURNS integer LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT municipality_id FROM residencies WHERE account_id = account AND status = 'verified');
END
$$;
