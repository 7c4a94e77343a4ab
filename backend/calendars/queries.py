"""All SQL of the calendar feeds. It reads bookings and childcare reservations; it never writes them."""

UPSERT_FEED = """
INSERT INTO calendar_feeds (account_id, token_sha256, created_at) VALUES ($1, $2, $3)
ON CONFLICT (account_id) DO UPDATE SET token_sha256 = EXCLUDED.token_sha256, created_at = EXCLUDED.created_at
"""

DELETE_FEED = "DELETE FROM calendar_feeds WHERE account_id = $1"

FEED_OWNER = "SELECT account_id FROM calendar_feeds WHERE token_sha256 = $1"

# Bookings the person made ($1) that ended after $2 (now less the time entries are kept), and
# those cancelled or released after $2. A hold offered to a waiter and never taken (hold_until still
# set) was never the person's booking, so its end is not news to them.
BOOKINGS = """
SELECT b.id, lower(b.during) AS start, upper(b.during) AS "end", b.status, b.fee, b.pay_by, b.created_at,
       b.calendar_sequence AS sequence, coalesce(b.calendar_changed_at, b.ended_at, b.created_at) AS changed_at,
       r.name AS resource_name, f.name AS facility_name, f.address, f.lat, f.lon
  FROM bookings b JOIN resources r ON r.id = b.resource_id JOIN facilities f ON f.id = r.facility_id
 WHERE b.account_id = $1
   AND ((b.status IN ('provisional', 'confirmed') AND upper(b.during) > $2)
        OR (b.status IN ('cancelled', 'released') AND b.hold_until IS NULL AND b.ended_at > $2))
 ORDER BY lower(b.during), b.id
 LIMIT 2000
"""

# The same for the childcare reservations of the person's children (a session ends with its day, JST).
CHILDCARE = """
SELECT cr.id, s.day, s.block, cr.status, cr.created_at,
       cr.calendar_sequence AS sequence, coalesce(cr.calendar_changed_at, cr.ended_at, cr.created_at) AS changed_at,
       o.name AS nursery_name
  FROM childcare_reservations cr
  JOIN children c ON c.id = cr.child_id
  JOIN childcare_sessions s ON s.id = cr.session_id
  JOIN organizations o ON o.id = s.nursery_id
 WHERE c.parent_id = $1
   AND ((cr.status IN ('reserved', 'no_show') AND (s.day + 1)::timestamp AT TIME ZONE 'Asia/Tokyo' > $2)
        OR (cr.status IN ('cancelled', 'released') AND cr.hold_until IS NULL AND cr.ended_at > $2))
 ORDER BY s.day, cr.id
 LIMIT 2000
"""

# The last time ($2 is now, $3 the keeping time) an entry left the feed by age alone: the feed
# changed then although no row did, so Last-Modified must not be older than that.
LAST_DEPARTURE = """
SELECT max(left_at) FROM (
    SELECT CASE WHEN b.status IN ('provisional', 'confirmed') THEN upper(b.during) ELSE b.ended_at END
           + $3::interval AS left_at
      FROM bookings b
     WHERE b.account_id = $1 AND b.status IN ('provisional', 'confirmed', 'cancelled', 'released')
       AND (b.status IN ('provisional', 'confirmed') OR b.hold_until IS NULL)
    UNION ALL
    SELECT CASE WHEN cr.status IN ('reserved', 'no_show') THEN (s.day + 1)::timestamp AT TIME ZONE 'Asia/Tokyo'
                ELSE cr.ended_at END + $3::interval
      FROM childcare_reservations cr JOIN children c ON c.id = cr.child_id
      JOIN childcare_sessions s ON s.id = cr.session_id
     WHERE c.parent_id = $1 AND cr.status IN ('reserved', 'no_show', 'cancelled', 'released')
       AND (cr.status IN ('reserved', 'no_show') OR cr.hold_until IS NULL)
) departed
 WHERE left_at <= $2::timestamptz
"""
