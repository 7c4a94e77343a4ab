"""All SQL of the facilities context."""

from backend.core.command_keys import writing_key

ORGANIZATION = "SELECT id, kind, municipality_id FROM organizations WHERE id = $1"

INSERT_FACILITY = """
INSERT INTO facilities (organization_id, municipality_id, name, kind, address, lat, lon, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id, organization_id, municipality_id, name, kind, address, lat, lon
"""

FACILITY = """
SELECT id, organization_id, municipality_id, name, kind, address, lat, lon FROM facilities WHERE id = $1
"""

FACILITIES = """
SELECT id, organization_id, municipality_id, name, kind, address, lat, lon FROM facilities
 WHERE ($1::int IS NULL OR municipality_id = $1) AND ($2::text IS NULL OR kind = $2) AND id > $3
 ORDER BY id LIMIT $4
"""

INSERT_RESOURCE = """
INSERT INTO resources (facility_id, name, unit_minutes, opens_at, closes_at, fee_per_unit,
                       non_resident_fee_per_unit, cancel_deadline_hours, payment_deadline_hours,
                       pay_at_counter, max_bookings_per_month, waitlist_hold_minutes, lottery_only, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
RETURNING id
"""

INSERT_REDUCTION = "INSERT INTO fee_reductions (resource_id, category, percent) VALUES ($1, $2, $3)"

RESOURCES = """
SELECT r.*, coalesce((SELECT jsonb_object_agg(category, percent) FROM fee_reductions WHERE resource_id = r.id),
                     '{}') AS reductions
  FROM resources r WHERE r.facility_id = ANY($1::bigint[]) ORDER BY r.id
"""

RESOURCE_FOR_BOOKING = """
SELECT r.*, f.municipality_id, f.organization_id, f.name AS facility_name,
       (SELECT percent FROM fee_reductions WHERE resource_id = r.id AND category = $2) AS reduction_percent,
       verified_municipality($3) AS booker_municipality_id
  FROM resources r JOIN facilities f ON f.id = r.facility_id
 WHERE r.id = $1
"""

# Everything a booking checks before it writes, in one read (no lock, no transaction), for the
# bookings book_slot leaves to a transaction (a claimed reduction, run-out bookings, an own hold):
# the resource and its fee inputs; whether a lottery holds the month (first-come booking waits until the lottery
# has been drawn *and* firstComeAt has passed: between the close and the draw a slot applied for
# could otherwise be sniped from the applicant); and whether a committed live booking already
# covers the time. `slot_taken` only ever says "taken": a booking that has run out (it is released
# when someone books there) or a hold kept for this booker does not count, and a reversed range
# (refused as a 422 after this read) must not make the read fail. A slot that looks free is decided
# by bookings_no_overlap, as always; the early "taken" lets a rush's crowd get its 409 without
# queueing on the slot's lock.
BOOKING_CHECKS = """
SELECT r.*, f.municipality_id, f.organization_id,
       (SELECT percent FROM fee_reductions WHERE resource_id = r.id AND category = $2) AS reduction_percent,
       verified_municipality($3) AS booker_municipality_id,
       EXISTS (SELECT 1 FROM lottery_resources lr JOIN lotteries l ON l.id = lr.lottery_id
                WHERE lr.resource_id = r.id AND l.month = $6 AND ($7 < l.first_come_at OR l.drawn_at IS NULL))
           AS lottery_month,
       EXISTS (SELECT 1 FROM bookings b, tstzrange(least($4::timestamptz, $5), greatest($4::timestamptz, $5)) AS wanted
                WHERE b.resource_id = r.id AND b.during && wanted
                  AND b.status IN ('held', 'provisional', 'confirmed')
                  AND coalesce(b.pay_by, b.hold_until, 'infinity') > $7
                  AND NOT (b.status = 'held' AND b.account_id = $3 AND b.during = wanted))
           AS slot_taken
  FROM resources r JOIN facilities f ON f.id = r.facility_id
 WHERE r.id = $1
"""

# A day of a page of resources (by id) in one statement: each resource's live bookings on the day,
# booked and held apart, and the closures and horizons the search lays over them. A booking never
# leaves its opening day, so only bookings starting from a day before the day can overlap it: that
# bound lets bookings_schedule_idx (resource_id, lower(during), holding the range and the status)
# serve each resource with an index-only range scan, as short on ten times the bookings ($6, $7: the
# day's bounds). The overlap is written out (starts before the day ends, ends after it starts)
# rather than as `&&`, which would lead the planner to the exclusion constraint's GiST index, twice
# as slow here.
VACANCIES_OF_DAY = """
SELECT r.id, r.facility_id, r.unit_minutes, r.opens_at, r.closes_at,
       r.closed_at IS NOT NULL AS closed, r.resident_horizon_months, r.non_resident_horizon_months,
       coalesce(day.booked, '{}') AS booked, coalesce(day.held, '{}') AS held,
       ARRAY(SELECT c.during FROM closures c
              WHERE c.facility_id = r.facility_id AND c.lifted_at IS NULL
                AND (c.resource_id IS NULL OR c.resource_id = r.id) AND c.during && tstzrange($6, $7)) AS closures
  FROM resources r
  JOIN facilities f ON f.id = r.facility_id
  LEFT JOIN LATERAL (
      SELECT array_agg(b.during) FILTER (WHERE b.status <> 'held') AS booked,
             array_agg(b.during) FILTER (WHERE b.status = 'held') AS held
        FROM bookings b
       WHERE b.resource_id = r.id
         AND lower(b.during) >= $6::timestamptz - interval '1 day' AND lower(b.during) < $7
         AND upper(b.during) > $6 AND b.status IN ('held', 'provisional', 'confirmed')
  ) day ON true
 WHERE ($1::text IS NULL OR f.kind = $1)
   AND ($2::int IS NULL OR f.municipality_id = $2)
   AND ($3::bigint IS NULL OR f.id = $3)
   AND r.id > $4
 ORDER BY r.id LIMIT $5
"""

# Every write that puts a booking on a resource's day, or changes the status of one there, queues
# here first. Without it two conflicting inserts can each find the other's uncommitted row in the
# exclusion index and wait for each other until the deadlock detector kills one: an unsold slot
# and 5xx in a booking rush. Queued, the second writer meets a committed row and gets its 409 at
# once; bookings_no_overlap still decides, the lock only orders the writers. Keyed by the Tokyo
# day, because a booking never leaves its opening day, so different days of one room never wait.
# The key is the SQL function booking_day_key (migrations 0019 and 0030), which book_slot uses too.
LOCK_SLOT_DAY = "SELECT pg_advisory_xact_lock(booking_day_key($1, $2))"

# The same lock for a change of an existing booking, found by its id (resource and time never change).
LOCK_BOOKING_DAY = """
SELECT pg_advisory_xact_lock(booking_day_key(resource_id, lower(during))) FROM bookings WHERE id = $1
"""

FACILITY_OF_RESOURCE = "SELECT facility_id FROM resources WHERE id = $1"

# Serialises one person's bookings of one resource, so the monthly cap cannot be raced past.
LOCK_BOOKER = """
SELECT pg_advisory_xact_lock(hashtextextended('booking-cap:' || ($1::bigint)::text || ':' || ($2::bigint)::text, 0))
"""

BOOKINGS_IN_MONTH = """
SELECT count(*) FROM bookings
 WHERE account_id = $1 AND resource_id = $2 AND status IN ('provisional', 'confirmed') AND during && tstzrange($3, $4)
"""

# The whole of a common booking in one statement and one round trip (no BEGIN/COMMIT: run it
# outside a transaction). The function (migration 0025_booking_checks_the_kept_caller), step by step:
# 'stale-caller' unless a kept caller's session, verification and residency still hold (KEPT_CALLER
# in backend/core/auth.py); 'stale-terms' unless the resource's terms are still those of
# RESOURCE_TERMS' version; the lottery month and the early "taken" (as BOOKING_CHECKS); the day's
# lock (as LOCK_SLOT_DAY); a way out to the transactional path when run-out bookings or the booker's
# own hold lie in the slot; the monthly cap (as LOCK_BOOKER + BOOKINGS_IN_MONTH); INSERT_BOOKING; the
# audit row; the outbox rows, whose "bookingId" it fills in. Returns `outcome` and BOOKING_COLUMNS.
BOOK_SLOT = """
SELECT * FROM book_slot($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
"""

# The same with the request's Idempotency-Key ($20–$24) written beside the booking, at $10.
BOOK_SLOT_WRITING_KEY = writing_key(BOOK_SLOT, done="booked", created_id="id", first=20, at="$10")

# What a booking of a resource is validated and priced with, whoever books: kept per process by the
# service and sent back to book_slot as `terms_version` (the rows' xmin: any committed change of the
# resource or its facility gives another), which refuses a version no longer current.
RESOURCE_TERMS = """
SELECT r.*, f.municipality_id, f.organization_id, r.xmin::text || '/' || f.xmin::text AS terms_version
  FROM resources r JOIN facilities f ON f.id = r.facility_id
 WHERE r.id = $1
"""

OWN_HOLD = """
SELECT id FROM bookings
 WHERE resource_id = $1 AND account_id = $2 AND during = tstzrange($3, $4) AND status = 'held' AND hold_until > $5
 FOR UPDATE
"""

BOOKING_COLUMNS = """
b.id, b.resource_id, r.facility_id, lower(b.during) AS start, upper(b.during) AS "end", b.status, b.fee,
b.reduction, b.pay_by, b.hold_until, b.created_at, b.reduction_approved_at
"""

INSERT_BOOKING = f"""
WITH b AS (
    INSERT INTO bookings (resource_id, account_id, during, status, fee, reduction, pay_by, hold_until, created_at)
    VALUES ($1, $2, tstzrange($3, $4), $5, $6, $7, $8, $9, $10)
    RETURNING *
)
SELECT {BOOKING_COLUMNS} FROM b JOIN resources r ON r.id = b.resource_id
"""

TAKE_HOLD = f"""
WITH b AS (
    UPDATE bookings SET status = $2, fee = $3, reduction = $4, pay_by = $5, hold_until = NULL
     WHERE id = $1 RETURNING *
)
SELECT {BOOKING_COLUMNS} FROM b JOIN resources r ON r.id = b.resource_id
"""

WAITLIST_BOOKED = "UPDATE waitlist_entries SET status = 'booked' WHERE offered_booking_id = $1"

# One booking as the API shows it, with who may read it (the booker; the facility's staff).
BOOKING = f"""
SELECT {BOOKING_COLUMNS}, b.account_id, f.organization_id
  FROM bookings b JOIN resources r ON r.id = b.resource_id JOIN facilities f ON f.id = r.facility_id
 WHERE b.id = $1
"""

BOOKING_FOR_CHANGE = """
SELECT b.id, b.account_id, b.resource_id, b.during, lower(b.during) AS start, b.status, b.fee,
       b.reduction, b.reduction_approved_at, r.pay_at_counter,
       r.cancel_deadline_hours, r.facility_id, f.organization_id
  FROM bookings b JOIN resources r ON r.id = b.resource_id JOIN facilities f ON f.id = r.facility_id
 WHERE b.id = $1
 FOR UPDATE OF b
"""

END_BOOKING = f"""
WITH b AS (
    UPDATE bookings SET status = $2, ended_at = $3, end_reason = $4, ended_by = $5 WHERE id = $1 RETURNING *
)
SELECT {BOOKING_COLUMNS} FROM b JOIN resources r ON r.id = b.resource_id
"""

CONFIRM_BOOKING = f"""
WITH b AS (
    UPDATE bookings SET status = 'confirmed', pay_by = NULL WHERE id = $1 RETURNING *
)
SELECT {BOOKING_COLUMNS} FROM b JOIN resources r ON r.id = b.resource_id
"""

# Release what ran out (unpaid provisional bookings, holds not taken) overlapping a range.
RELEASE_EXPIRED_IN = """
UPDATE bookings
   SET status = 'released', ended_at = $3,
       end_reason = CASE status WHEN 'held' THEN 'hold expired' ELSE 'payment deadline passed' END
 WHERE resource_id = $1 AND during && $2 AND status IN ('provisional', 'held')
   AND coalesce(pay_by, hold_until) <= $3
RETURNING id, account_id, during, (end_reason = 'hold expired') AS was_hold
"""

EXPIRED_SLOTS = """
SELECT DISTINCT resource_id, during FROM bookings
 WHERE status IN ('provisional', 'held') AND coalesce(pay_by, hold_until) <= $1
 LIMIT $2
"""

WAITLIST_EXPIRED = "UPDATE waitlist_entries SET status = 'expired' WHERE offered_booking_id = ANY($1::bigint[])"

WAITERS_WITHIN = """
SELECT w.id, w.account_id, w.during, r.waitlist_hold_minutes
  FROM waitlist_entries w JOIN resources r ON r.id = w.resource_id
 WHERE w.resource_id = $1 AND w.status = 'waiting' AND w.during <@ $2
 ORDER BY w.created_at, w.id
 FOR UPDATE OF w SKIP LOCKED
"""

INSERT_HOLD = """
INSERT INTO bookings (resource_id, account_id, during, status, fee, hold_until, created_at)
VALUES ($1, $2, $3, 'held', 0, $4, $5)
RETURNING id
"""

WAITLIST_OFFERED = "UPDATE waitlist_entries SET status = 'offered', offered_booking_id = $2 WHERE id = $1"

SLOT_IS_FREE = """
SELECT NOT EXISTS (SELECT 1 FROM bookings WHERE resource_id = $1 AND during && tstzrange($2, $3)
                   AND status IN ('held', 'provisional', 'confirmed'))
"""

INSERT_WAITLIST = """
INSERT INTO waitlist_entries (resource_id, account_id, during, status, created_at)
VALUES ($1, $2, tstzrange($3, $4), 'waiting', $5)
RETURNING id, resource_id, lower(during) AS start, upper(during) AS "end", status, created_at
"""

# Joins of one account are serialised, so its count of open entries cannot be outrun by a burst.
LOCK_WAITLIST_OF_ACCOUNT = "SELECT pg_advisory_xact_lock(hashtextextended('waitlist:' || $1::bigint::text, 0))"
OPEN_WAITLIST_ENTRIES = """
SELECT count(*) FROM waitlist_entries WHERE account_id = $1 AND status IN ('waiting', 'offered')
"""

MY_WAITLIST = """
SELECT id, resource_id, lower(during) AS start, upper(during) AS "end", status, created_at
  FROM waitlist_entries WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3
"""

MY_BOOKINGS = f"""
SELECT {BOOKING_COLUMNS} FROM bookings b JOIN resources r ON r.id = b.resource_id
 WHERE b.account_id = $1 AND (lower(b.during), b.id) > ($2::timestamptz, $3::bigint)
   AND ($4::boolean OR b.status IN ('held', 'provisional', 'confirmed'))
 ORDER BY lower(b.during), b.id LIMIT $5
"""

CONFIRM_FREE_BOOKING = f"""
WITH b AS (
    UPDATE bookings SET status = 'confirmed', pay_by = NULL WHERE id = $1 AND status = 'provisional' AND fee = 0
    RETURNING *
)
SELECT {BOOKING_COLUMNS} FROM b JOIN resources r ON r.id = b.resource_id
"""

BOOKING_OWNER = """
SELECT account_id, status, fee, reduction, reduction_approved_at FROM bookings WHERE id = $1 FOR UPDATE
"""

# Staff approve the reduction; a booking with nothing left to pay (or paid at the counter) is then final.
APPROVE_REDUCTION = f"""
WITH b AS (
    UPDATE bookings
       SET reduction_approved_at = $2, reduction_approved_by = $3,
           status = CASE WHEN $4::boolean THEN 'confirmed' ELSE status END,
           pay_by = CASE WHEN $4::boolean THEN NULL ELSE pay_by END
     WHERE id = $1
    RETURNING *
)
SELECT {BOOKING_COLUMNS} FROM b JOIN resources r ON r.id = b.resource_id
"""

# Provisional bookings whose deadline falls on `$2` (a Tokyo date) and that were not reminded yet;
# still ahead of now, since one that ran out is released instead.
MARK_PAYMENT_DUE_TOMORROW = """
UPDATE bookings SET payment_reminded_at = $1
 WHERE id IN (SELECT id FROM bookings
               WHERE status = 'provisional' AND payment_reminded_at IS NULL AND pay_by > $1
                 AND (pay_by AT TIME ZONE 'Asia/Tokyo')::date = $2
               ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
RETURNING id, account_id, resource_id, pay_by
"""

MUNICIPALITIES = "SELECT id, name_ja, name_en FROM municipalities ORDER BY id"

# The week grid of resident search, one page of facilities in one statement: every unit of every
# resource of the page's facilities on each day, laid over the same rules as the vacancy search
# (closed resources, closures, live bookings) and the booking horizon as it binds this caller
# (resident or non-resident of the facility's municipality, booking_opens_at as the booking trigger
# reads it), then counted per facility and day. Units already begun are never free. A facility
# without resources has nothing to book and is left out before the page is cut.
# $1 kind, $2 municipality, $3 first day, $4 days, $5 after facility id, $6 limit, $7 now, $8 account.
FACILITY_WEEK = """
WITH page AS (
    SELECT f.id, f.organization_id, f.municipality_id, f.name, f.kind, f.address, f.lat, f.lon, near.distance_m
      FROM facilities f
     -- Metres along the earth (haversine) from the point ($9, $10) when one is given; the page then
     -- runs by (distance, id) after ($11, $5), else by id after $5.
     CROSS JOIN LATERAL (
         SELECT CASE WHEN $9::float8 IS NOT NULL THEN round(2 * 6371000 * asin(least(1, sqrt(
                    power(sin(radians(f.lat - $9::float8) / 2), 2)
                    + cos(radians($9::float8)) * cos(radians(f.lat))
                      * power(sin(radians(f.lon - $10::float8) / 2), 2)))))::int END AS distance_m
     ) near
     WHERE ($1::text IS NULL OR f.kind = $1) AND ($2::int IS NULL OR f.municipality_id = $2)
       AND CASE WHEN $9::float8 IS NULL THEN f.id > $5 ELSE (near.distance_m, f.id) > ($11::int, $5) END
       AND EXISTS (SELECT 1 FROM resources r WHERE r.facility_id = f.id)
     ORDER BY near.distance_m, f.id LIMIT $6
), home AS (
    SELECT verified_municipality($8::bigint) AS municipality_id
), days AS (
    SELECT $3::date + offset_days AS day FROM generate_series(0, $4::int - 1) AS offset_days
), units AS (
    SELECT p.id AS facility_id, r.id AS resource_id, d.day, r.closed_at IS NOT NULL AS resource_closed,
           tstzrange(u.start, u.start + make_interval(mins => r.unit_minutes)) AS during,
           booking_opens_at(u.start, CASE WHEN home.municipality_id IS NOT DISTINCT FROM p.municipality_id
                                          THEN r.resident_horizon_months
                                          ELSE coalesce(r.non_resident_horizon_months, r.resident_horizon_months)
                                     END) AS opens_at
      FROM page p
      JOIN resources r ON r.facility_id = p.id
     CROSS JOIN home
     CROSS JOIN days d
     CROSS JOIN LATERAL generate_series((d.day + r.opens_at) AT TIME ZONE 'Asia/Tokyo',
                                        (d.day + r.closes_at) AT TIME ZONE 'Asia/Tokyo'
                                            - make_interval(mins => r.unit_minutes),
                                        make_interval(mins => r.unit_minutes)) AS u(start)
), judged AS (
    SELECT u.facility_id, u.day, u.during, u.opens_at,
           u.resource_closed OR EXISTS (
               SELECT 1 FROM closures c
                WHERE c.facility_id = u.facility_id AND c.lifted_at IS NULL
                  AND (c.resource_id IS NULL OR c.resource_id = u.resource_id) AND c.during && u.during
           ) AS shut,
           EXISTS (
               SELECT 1 FROM bookings b
                WHERE b.resource_id = u.resource_id AND b.during && u.during
                  AND b.status IN ('held', 'provisional', 'confirmed')
           ) AS taken
      FROM units u
)
SELECT p.id, p.organization_id, p.municipality_id, p.name, p.kind, p.address, p.lat, p.lon, p.distance_m, d.day,
       count(j.during) FILTER (WHERE NOT j.shut) AS total,
       count(j.during) FILTER (WHERE NOT j.shut AND NOT j.taken AND lower(j.during) > $7
                               AND (j.opens_at IS NULL OR j.opens_at <= $7)) AS free,
       min(j.opens_at) FILTER (WHERE NOT j.shut AND j.opens_at > $7) AS opens_at
  FROM page p
 CROSS JOIN days d
  LEFT JOIN judged j ON j.facility_id = p.id AND j.day = d.day
 GROUP BY p.id, p.organization_id, p.municipality_id, p.name, p.kind, p.address, p.lat, p.lon, p.distance_m, d.day
 ORDER BY p.distance_m, p.id, d.day
"""
