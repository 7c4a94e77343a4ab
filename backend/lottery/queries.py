"""All SQL of the lottery context."""

from backend.core.command_keys import writing_key

RESOURCES_WITH_OWNER = """
SELECT r.id, f.organization_id, o.municipality_id
  FROM resources r JOIN facilities f ON f.id = r.facility_id JOIN organizations o ON o.id = f.organization_id
 WHERE r.id = ANY($1::bigint[])
"""

INSERT_LOTTERY = """
INSERT INTO lotteries (organization_id, month, opens_at, closes_at, first_come_at, confirm_hours, per_user_cap,
                       resident_municipality_ids, seed, seed_commitment, created_by, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
RETURNING id
"""

LOTTERY_RESOURCE_IDS = "SELECT resource_id FROM lottery_resources WHERE lottery_id = $1 ORDER BY resource_id"

INSERT_LOTTERY_RESOURCES = """
INSERT INTO lottery_resources (lottery_id, resource_id) SELECT $1, unnest($2::bigint[])
"""

# A lottery's resources: those it allocates, or after a cancellation those it did (the ids are kept
# for the record), each named with its facility and carrying the hours and unit an applicant
# chooses a slot within. Joined LATERAL after `lotteries l`; gives resource_ids and resources.
_RESOURCES_OF_LOTTERY = """
CROSS JOIN LATERAL (
    SELECT coalesce(l.cancelled_resource_ids,
                    array(SELECT resource_id FROM lottery_resources WHERE lottery_id = l.id ORDER BY resource_id))
           AS resource_ids
) AS ids
CROSS JOIN LATERAL (
    SELECT coalesce(jsonb_agg(jsonb_build_object('id', r.id, 'name', r.name, 'facilityId', f.id,
                                                 'facilityName', f.name, 'opensAt', r.opens_at,
                                                 'closesAt', r.closes_at, 'unitMinutes', r.unit_minutes)
                              ORDER BY r.id), '[]') AS resources
      FROM resources r JOIN facilities f ON f.id = r.facility_id
     WHERE r.id = ANY(ids.resource_ids)
) AS named
"""

LOTTERY = f"""
SELECT l.*, ids.resource_ids, named.resources
  FROM lotteries l {_RESOURCES_OF_LOTTERY}
 WHERE l.id = $1
"""

LOTTERY_FOR_UPDATE = "SELECT * FROM lotteries WHERE id = $1 FOR UPDATE"

# What an application is checked on, in one read: the lottery; the hours and unit of each of its
# resources (what a preference must fit, as a booking would); the applicant's applications so far and
# verified residency (only a verified one puts an applicant in the resident tier).
APPLICATION_CHECKS = """
SELECT l.*, terms.*,
       (SELECT count(*) FROM lottery_applications a WHERE a.lottery_id = l.id AND a.account_id = $2) AS applied,
       verified_municipality($2) AS home_municipality_id
  FROM lotteries l,
       LATERAL (SELECT array_agg(r.id ORDER BY r.id) AS resource_ids,
                       array_agg(r.opens_at ORDER BY r.id) AS opens,
                       array_agg(r.closes_at ORDER BY r.id) AS closes,
                       array_agg(r.unit_minutes ORDER BY r.id) AS units
                  FROM lottery_resources lr JOIN resources r ON r.id = lr.resource_id
                 WHERE lr.lottery_id = l.id) AS terms
 WHERE l.id = $1
"""

# The application and its preferences in one statement and one round trip (no BEGIN/COMMIT: run it
# outside a transaction). The function (migration 0028_lottery_application_in_one_statement): the
# lottery still open, under a lock shared with other applicants and not with the draw; the cap per
# person, under a lock of the (lottery, person) pair; the application row and its preferences.
# Returns `outcome` and the application's id.
APPLY = "SELECT * FROM apply_to_lottery($1, $2, $3, $4, $5, $6, $7, $8, $9)"

# The same with the request's Idempotency-Key ($10–$14) written beside the application, at $5.
APPLY_WRITING_KEY = writing_key(APPLY, done="applied", created_id="id", first=10, at="$5")

# An application's preferences, rank by rank, from lottery_preferences p grouped by application.
_PREFERENCES = """jsonb_agg(jsonb_build_object('rank', p.rank, 'resourceId', p.resource_id, 'start', lower(p.during),
                                 'end', upper(p.during)) ORDER BY p.rank) AS preferences"""

# One application with its preferences, as its applicant sees it (and a retry of its key re-reads it).
APPLICATION_OF = f"""
SELECT a.id AS application_id, a.lottery_id, a.pseudonym, a.resident, a.account_id,
       {_PREFERENCES}
  FROM lottery_applications a JOIN lottery_preferences p ON p.application_id = a.id
 WHERE a.id = $1
 GROUP BY a.id
"""

PUBLISHED_APPLICATIONS = f"""
SELECT a.id AS application_id, a.pseudonym, a.resident, a.account_id,
       {_PREFERENCES}
  FROM lottery_applications a JOIN lottery_preferences p ON p.application_id = a.id
 WHERE a.lottery_id = $1
 GROUP BY a.id
 ORDER BY a.id
"""

# What nobody can win: live bookings, and the time closed by a closure or a closed resource (the
# database would refuse a winner's booking there, migration 0020_facility_back_office, and fail the whole draw).
LIVE_BOOKINGS_OF = """
SELECT resource_id, lower(during) AS start, upper(during) AS "end" FROM (
    SELECT resource_id, during FROM bookings
     WHERE resource_id = ANY($1::bigint[]) AND during && tstzrange($2, $3)
       AND status IN ('held', 'provisional', 'confirmed')
    UNION ALL
    SELECT r.id, c.during * tstzrange($2, $3)
      FROM resources r JOIN closures c ON c.facility_id = r.facility_id AND c.lifted_at IS NULL
           AND (c.resource_id IS NULL OR c.resource_id = r.id) AND c.during && tstzrange($2, $3)
     WHERE r.id = ANY($1::bigint[])
    UNION ALL
    SELECT id, tstzrange($2, $3) FROM resources WHERE id = ANY($1::bigint[]) AND closed_at IS NOT NULL
) AS taken
 ORDER BY resource_id, lower(during)
"""

INSERT_TAKEN = """
INSERT INTO lottery_taken (lottery_id, resource_id, during)
SELECT $1, resource_id, tstzrange(starts, ends) FROM unnest($2::bigint[], $3::timestamptz[], $4::timestamptz[])
    AS t(resource_id, starts, ends)
"""

TAKEN = """
SELECT resource_id, lower(during) AS start, upper(during) AS "end" FROM lottery_taken
 WHERE lottery_id = $1 ORDER BY resource_id, lower(during)
"""

INSERT_RESULT = "INSERT INTO lottery_results (lottery_id, application_id, won_rank, booking_id) VALUES ($1, $2, $3, $4)"

RESULTS = "SELECT application_id, won_rank FROM lottery_results WHERE lottery_id = $1 ORDER BY application_id"

MARK_DRAWN = "UPDATE lotteries SET drawn_at = $2, result_digest = $3 WHERE id = $1"

LOTTERIES = f"""
SELECT l.*, ids.resource_ids, named.resources
  FROM lotteries l {_RESOURCES_OF_LOTTERY}
 WHERE l.id > $1
   AND ($2::text IS NULL
        OR ($2 = 'open' AND l.drawn_at IS NULL AND l.opens_at <= $3 AND $3 < l.closes_at)
        OR ($2 = 'drawn' AND l.drawn_at IS NOT NULL))
 ORDER BY l.id LIMIT $4
"""

MY_APPLICATIONS = f"""
SELECT a.id AS application_id, a.lottery_id, a.pseudonym, a.resident, a.account_id,
       {_PREFERENCES},
       l.month, l.drawn_at, l.opens_at, l.closes_at, l.cancelled_at, r.won_rank, r.booking_id, named.resources
  FROM lottery_applications a
  JOIN lottery_preferences p ON p.application_id = a.id
  JOIN lotteries l ON l.id = a.lottery_id {_RESOURCES_OF_LOTTERY}
  LEFT JOIN lottery_results r ON r.application_id = a.id
 WHERE a.account_id = $1 AND a.id > $2
 GROUP BY a.id, l.id, r.won_rank, r.booking_id, named.resources
 ORDER BY a.id LIMIT $3
"""

# -- back office ----------------------------------------------------------------------

# An organisation's lotteries with the demand per slot, in one query.
ORGANIZATION_LOTTERIES = f"""
SELECT l.*, ids.resource_ids, named.resources,
       (SELECT count(*) FROM lottery_applications WHERE lottery_id = l.id) AS applications,
       coalesce((SELECT jsonb_agg(jsonb_build_object('resourceId', d.resource_id, 'start', lower(d.during),
                                                     'end', upper(d.during), 'applications', d.applications,
                                                     'firstChoice', d.first_choice)
                                  ORDER BY d.resource_id, lower(d.during))
                   FROM (SELECT p.resource_id, p.during, count(*) AS applications,
                                count(*) FILTER (WHERE p.rank = 1) AS first_choice
                           FROM lottery_applications a JOIN lottery_preferences p ON p.application_id = a.id
                          WHERE a.lottery_id = l.id
                          GROUP BY p.resource_id, p.during) AS d), '[]') AS slots
  FROM lotteries l {_RESOURCES_OF_LOTTERY}
 WHERE l.organization_id = $1 AND l.id > $2
 ORDER BY l.id LIMIT $3
"""

APPLICANTS = "SELECT DISTINCT account_id FROM lottery_applications WHERE lottery_id = $1 ORDER BY account_id"

# The resources leave lottery_resources, which is what keeps a lottery month shut to first-come
# booking; the lottery keeps their ids for the record.
CANCEL_LOTTERY = """
WITH dropped AS (DELETE FROM lottery_resources WHERE lottery_id = $1 RETURNING resource_id)
UPDATE lotteries
   SET cancelled_at = $2, cancel_reason = $3,
       cancelled_resource_ids = array(SELECT resource_id FROM dropped ORDER BY resource_id)
 WHERE id = $1
"""
