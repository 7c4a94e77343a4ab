"""All SQL of the childcare context."""

from backend.core.command_keys import writing_key

NURSERY = "SELECT id, municipality_id FROM organizations WHERE id = $1 AND kind = 'nursery'"

INSERT_SESSION = """
INSERT INTO childcare_sessions (nursery_id, day, block, cancel_deadline_hours, created_at)
VALUES ($1, $2, $3, $4, $5) RETURNING id
"""

INSERT_PLACES = """
INSERT INTO childcare_places (session_id, band, capacity)
SELECT $1, band, capacity FROM unnest($2::text[], $3::int[]) AS p(band, capacity)
"""

SESSION = """
SELECT s.*, o.municipality_id AS nursery_municipality_id FROM childcare_sessions s
  JOIN organizations o ON o.id = s.nursery_id WHERE s.id = $1
"""

PLACES = "SELECT band, capacity, used FROM childcare_places WHERE session_id = $1 ORDER BY band"

INSERT_CHILD = """
INSERT INTO children (parent_id, name, birth_date, allergies, notes, created_at) VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id
"""

CHILD = """
SELECT c.*, verified_municipality(c.parent_id) AS parent_municipality_id,
       coalesce(array(SELECT nursery_id FROM child_approvals WHERE child_id = c.id ORDER BY nursery_id), '{}')
           AS approved_nursery_ids
  FROM children c WHERE c.id = $1
"""

# What a reservation or a wait is checked on, in one read: the child (whose parent, born when,
# resident where), the session (NULL columns: no such session) and whether its nursery approved the child.
RESERVABLE = """
SELECT c.id AS child_id, c.parent_id, c.birth_date, verified_municipality(c.parent_id) AS parent_municipality_id,
       s.id AS session_id, s.nursery_id, s.day, s.block, s.cancelled_at, o.municipality_id AS nursery_municipality_id,
       EXISTS (SELECT 1 FROM child_approvals a WHERE a.child_id = c.id AND a.nursery_id = s.nursery_id) AS approved
  FROM children c
  LEFT JOIN (childcare_sessions s JOIN organizations o ON o.id = s.nursery_id) ON s.id = $2
 WHERE c.id = $1
"""

# The whole of a common reservation in one statement and one round trip (no BEGIN/COMMIT: run it
# outside a transaction). The function (migration 0027_childcare_reservation_in_one_statement), step
# by step: the approval and the cancellation checked again; a way out to the transactional path when
# a hold is kept for the child; TAKE_PLACE; CHARGE_HOURS against the quota of $6 (the place goes back
# over it); INSERT_RESERVATION; the audit row; the outbox rows, whose "reservationId" it fills in.
# Returns `outcome` and RESERVATION_COLUMNS.
RESERVE_PLACE = "SELECT * FROM reserve_childcare_place($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"

# The same with the request's Idempotency-Key ($12–$16) written beside the reservation, at $8.
RESERVE_PLACE_WRITING_KEY = writing_key(RESERVE_PLACE, done="reserved", created_id="id", first=12, at="$8")

# Nurseries where the child is approved or has (had) a reservation: their staff may see the child.
CHILD_NURSERIES = """
SELECT nursery_id FROM child_approvals WHERE child_id = $1
UNION
SELECT s.nursery_id FROM childcare_reservations r JOIN childcare_sessions s ON s.id = r.session_id
 WHERE r.child_id = $1
"""

PARENT_OF_CHILD = "SELECT parent_id FROM children WHERE id = $1"

CHILDREN_OF_PARENT = "SELECT id FROM children WHERE parent_id = $1 AND id > $2 ORDER BY id LIMIT $3"

CHILDREN_OF_NURSERIES = """
SELECT DISTINCT child_id AS id FROM child_approvals WHERE nursery_id = ANY($1::bigint[]) AND child_id > $2
 ORDER BY child_id LIMIT $3
"""

NURSERY_NAME = "SELECT name FROM organizations WHERE id = $1"

NURSERY_EXISTS = "SELECT true FROM organizations WHERE id = $1 AND kind = 'nursery'"

APPLICATION_COLUMNS = """id, child_id, nursery_id, status, applied_at, decided_at, decline_reason, meeting_at,
 (SELECT name FROM organizations WHERE id = nursery_id) AS nursery_name"""

INSERT_APPLICATION = f"""
INSERT INTO child_applications (child_id, nursery_id, status, applied_by, applied_at) VALUES ($1, $2, 'pending', $3, $4)
RETURNING {APPLICATION_COLUMNS}
"""

APPLICATIONS_OF_CHILD = f"""
SELECT {APPLICATION_COLUMNS} FROM child_applications WHERE child_id = $1 AND id > $2 ORDER BY id LIMIT $3
"""

# What a nursery learns from an application before it has met the child: the name and the birth
# date (turned into an age by the service), nothing of allergies or notes.
PENDING_APPLICATIONS_TO_NURSERY = """
SELECT a.id, a.child_id, a.nursery_id, a.applied_at, a.meeting_at, c.name AS child_name, c.birth_date
  FROM child_applications a JOIN children c ON c.id = a.child_id
 WHERE a.nursery_id = $1 AND a.status = 'pending' AND a.id > $2
 ORDER BY a.id LIMIT $3
"""

# The parent withdraws, or the nursery declines: only a pending application changes, decided by the
# UPDATE itself, so a withdrawal racing an approval leaves exactly one of them done.
WITHDRAW_APPLICATION = f"""
UPDATE child_applications SET status = 'withdrawn', decided_by = $3, decided_at = $4
 WHERE id = $1 AND child_id = $2 AND status = 'pending'
RETURNING {APPLICATION_COLUMNS}
"""

DECLINE_APPLICATION = f"""
UPDATE child_applications SET status = 'declined', decided_by = $4, decided_at = $5, decline_reason = $6
 WHERE id = $1 AND child_id = $2 AND nursery_id = ANY($3::bigint[]) AND status = 'pending'
RETURNING {APPLICATION_COLUMNS}
"""

APPLICATION = f"SELECT {APPLICATION_COLUMNS} FROM child_applications WHERE id = $1 AND child_id = $2"

# The meeting (面談) is set on a pending application of one of the caller's nurseries only; a later
# time replaces an earlier one.
SET_MEETING = f"""
UPDATE child_applications SET meeting_at = $4, meeting_set_by = $5
 WHERE id = $1 AND child_id = $2 AND nursery_id = ANY($3::bigint[]) AND status = 'pending'
RETURNING {APPLICATION_COLUMNS}
"""

# Approval answers the pending application of this child to this nursery, in one statement: no
# pending application, no row (and the foreign key of child_approvals refuses any approval that
# does not name an approved application of the same child and nursery).
APPROVE_PENDING_APPLICATION = """
WITH approved AS (
    UPDATE child_applications SET status = 'approved', decided_by = $3, decided_at = $4,
           meeting_at = coalesce($5, meeting_at), meeting_set_by = CASE WHEN $5 IS NULL THEN meeting_set_by ELSE $3 END
     WHERE child_id = $1 AND nursery_id = $2 AND status = 'pending'
    RETURNING id, child_id, nursery_id, meeting_at
), approval AS (
    INSERT INTO child_approvals (child_id, nursery_id, application_id, approved_by, approved_at)
    SELECT child_id, nursery_id, id, $3, $4 FROM approved
    RETURNING child_id, nursery_id, application_id, approved_at
)
SELECT approval.*, approved.meeting_at FROM approval JOIN approved ON approved.id = approval.application_id
"""

IS_APPROVED = "SELECT true FROM child_approvals WHERE child_id = $1 AND nursery_id = $2"

AVAILABILITY = """
SELECT s.id AS session_id, s.nursery_id, o.name AS nursery_name, s.block, p.band, p.capacity - p.used AS remaining
  FROM childcare_sessions s
  JOIN organizations o ON o.id = s.nursery_id
  JOIN childcare_places p ON p.session_id = s.id AND p.band = $2
 WHERE s.day = $1 AND s.cancelled_at IS NULL AND ($3::int IS NULL OR o.municipality_id = $3)
 ORDER BY s.nursery_id, s.block
"""

TAKE_PLACE = """
UPDATE childcare_places SET used = used + 1
 WHERE session_id = $1 AND band = $2 AND used < capacity AND NOT closed RETURNING used
"""

FREE_PLACE = "UPDATE childcare_places SET used = used - 1 WHERE session_id = $1 AND band = $2 AND used > 0"

QUOTA_OF = "SELECT monthly_hours FROM childcare_quotas WHERE municipality_id = $1"

# Charge the month's hours only while they stay within the quota; no row back means over quota.
CHARGE_HOURS = """
INSERT INTO childcare_hours_used AS u (child_id, month, hours) SELECT $1, $2, $3::int WHERE $3::int <= $4::int
ON CONFLICT (child_id, month) DO UPDATE SET hours = u.hours + EXCLUDED.hours WHERE u.hours + EXCLUDED.hours <= $4::int
RETURNING hours
"""

REFUND_HOURS = "UPDATE childcare_hours_used SET hours = greatest(hours - $3, 0) WHERE child_id = $1 AND month = $2"

OWN_HOLD = """
SELECT id FROM childcare_reservations
 WHERE session_id = $1 AND child_id = $2 AND status = 'held' AND hold_until > $3 FOR UPDATE
"""

RESERVATION_COLUMNS = "id, session_id, child_id, band, hours, status, hold_until, created_at, arrived_at"

INSERT_RESERVATION = f"""
INSERT INTO childcare_reservations (session_id, child_id, band, hours, status, hold_until, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING {RESERVATION_COLUMNS}
"""

TAKE_HOLD = f"""
UPDATE childcare_reservations SET status = 'reserved', hold_until = NULL WHERE id = $1 RETURNING {RESERVATION_COLUMNS}
"""

# One reservation with the parent of its child, who alone may read it this way.
RESERVATION_OF = """
SELECT r.id, r.session_id, r.child_id, r.band, r.hours, r.status, r.hold_until, r.created_at, r.arrived_at,
       c.parent_id
  FROM childcare_reservations r JOIN children c ON c.id = r.child_id
 WHERE r.id = $1
"""

RESERVATION_FOR_UPDATE = """
SELECT r.*, s.nursery_id, s.day, s.block, s.cancel_deadline_hours, c.parent_id
  FROM childcare_reservations r
  JOIN childcare_sessions s ON s.id = r.session_id
  JOIN children c ON c.id = r.child_id
 WHERE r.id = $1 FOR UPDATE OF r
"""

END_RESERVATION = f"""
UPDATE childcare_reservations SET status = $2, ended_at = $3 WHERE id = $1 RETURNING {RESERVATION_COLUMNS}
"""

WAITLIST_BOOKED = "UPDATE childcare_waitlist SET status = 'booked' WHERE reservation_id = $1"

INSERT_WAITLIST = """
INSERT INTO childcare_waitlist (session_id, child_id, band, status, created_at) VALUES ($1, $2, $3, 'waiting', $4)
RETURNING id, session_id, child_id, band, status
"""

# Joins for one parent's children are serialised, so the parent's count cannot be outrun by a burst.
LOCK_WAITLIST_OF_PARENT = "SELECT pg_advisory_xact_lock(hashtextextended('childcare-waitlist:' || $1::bigint::text, 0))"
OPEN_WAITLIST_ENTRIES_OF_PARENT = """
SELECT count(*) FROM childcare_waitlist w JOIN children c ON c.id = w.child_id
 WHERE c.parent_id = $1 AND w.status IN ('waiting', 'offered')
"""

PLACE_FREE = "SELECT capacity > used FROM childcare_places WHERE session_id = $1 AND band = $2"

NEXT_WAITER = """
SELECT w.id, w.child_id, c.parent_id
  FROM childcare_waitlist w JOIN children c ON c.id = w.child_id
 WHERE w.session_id = $1 AND w.band = $2 AND w.status = 'waiting'
 ORDER BY w.created_at, w.id LIMIT 1
 FOR UPDATE OF w SKIP LOCKED
"""

WAITLIST_OFFERED = "UPDATE childcare_waitlist SET status = 'offered', reservation_id = $2 WHERE id = $1"

EXPIRED_HOLDS = """
UPDATE childcare_reservations r SET status = 'released', ended_at = $1
  FROM childcare_sessions s
 WHERE s.id = r.session_id AND r.status = 'held' AND r.hold_until <= $1
RETURNING r.id, r.session_id, r.band, s.nursery_id
"""

WAITLIST_EXPIRED = "UPDATE childcare_waitlist SET status = 'expired' WHERE reservation_id = ANY($1::bigint[])"

DUE_REMINDERS = """
UPDATE childcare_reservations r SET reminded_at = $1
  FROM childcare_sessions s, children c
 WHERE s.id = r.session_id AND c.id = r.child_id AND r.status = 'reserved' AND r.reminded_at IS NULL AND s.day = $2
RETURNING r.id, r.session_id, c.parent_id
"""

UPSERT_QUOTA = """
INSERT INTO childcare_quotas (municipality_id, monthly_hours, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (municipality_id) DO UPDATE SET monthly_hours = EXCLUDED.monthly_hours, updated_at = EXCLUDED.updated_at
RETURNING municipality_id, monthly_hours
"""

MUNICIPALITIES_OF = "SELECT municipality_id FROM organizations WHERE id = ANY($1::bigint[])"

MY_RESERVATIONS = """
SELECT r.id, r.session_id, r.child_id, r.band, r.hours, r.status, r.hold_until, r.created_at, r.arrived_at,
       s.nursery_id, s.day AS date, s.block
  FROM childcare_reservations r
  JOIN children c ON c.id = r.child_id
  JOIN childcare_sessions s ON s.id = r.session_id
 WHERE c.parent_id = $1 AND r.status IN ('held', 'reserved') AND s.day >= $2 AND r.id > $3
 ORDER BY r.id LIMIT $4
"""


# -- nursery back office ------------------------------------------------------------------------

# A nursery's sessions by date range, keyset-paged on (day, id), with places per band.
SESSIONS_OF_NURSERY = """
SELECT s.id, s.nursery_id, s.day AS date, s.block, s.cancelled_at, s.cancel_reason,
       array_agg(p.band ORDER BY p.band) AS bands,
       array_agg(p.capacity ORDER BY p.band) AS capacities,
       array_agg(p.used ORDER BY p.band) AS taken
  FROM childcare_sessions s JOIN childcare_places p ON p.session_id = s.id
 WHERE s.nursery_id = $1 AND s.day BETWEEN $2 AND $3 AND (s.day, s.id) > ($4::date, $5::bigint)
 GROUP BY s.id
 ORDER BY s.day, s.id
 LIMIT $6
"""

# The session row is the lock that orders a capacity edit and a cancellation of the same session.
# NO KEY UPDATE, not UPDATE: a reservation's foreign key takes KEY SHARE on this row while it holds
# a place, and a full UPDATE lock would deadlock with it.
SESSION_OF_NURSERY_FOR_UPDATE = """
SELECT id, nursery_id, day, block, cancelled_at FROM childcare_sessions
 WHERE id = $1 AND nursery_id = $2 FOR NO KEY UPDATE
"""

# The CHECK (used <= capacity) refuses a capacity below the places taken, whatever raced it; a
# closed (cancelled) place is not changed.
SET_CAPACITY = """
UPDATE childcare_places p SET capacity = new.capacity
  FROM unnest($2::text[], $3::int[]) AS new(band, capacity)
 WHERE p.session_id = $1 AND p.band = new.band AND NOT p.closed
RETURNING p.band
"""

CANCEL_SESSION = """
UPDATE childcare_sessions SET cancelled_at = $2, cancelled_by = $3, cancel_reason = $4
 WHERE id = $1 AND cancelled_at IS NULL
"""

# Taken before reading the live reservations: a reservation that already took a place holds this
# lock until it commits, so the read that follows sees it.
LOCK_PLACES = "SELECT band FROM childcare_places WHERE session_id = $1 ORDER BY band FOR UPDATE"

LIVE_RESERVATIONS_OF_SESSION = """
SELECT r.id, r.child_id, r.hours, r.status, c.parent_id
  FROM childcare_reservations r JOIN children c ON c.id = r.child_id
 WHERE r.session_id = $1 AND r.status IN ('held', 'reserved')
 ORDER BY r.id
 FOR UPDATE OF r
"""

CANCEL_RESERVATIONS = """
UPDATE childcare_reservations SET status = 'cancelled', ended_at = $2, hold_until = NULL
 WHERE id = ANY($1::bigint[]) AND status IN ('held', 'reserved')
"""

# A child has at most one live place in a session, so each child appears once here.
REFUND_HOURS_OF_CHILDREN = """
UPDATE childcare_hours_used u SET hours = greatest(u.hours - back.hours, 0)
  FROM unnest($1::bigint[], $2::int[]) AS back(child_id, hours)
 WHERE u.child_id = back.child_id AND u.month = $3
"""

WAITLIST_OF_SESSION_EXPIRED = """
UPDATE childcare_waitlist SET status = 'expired' WHERE session_id = $1 AND status IN ('waiting', 'offered')
"""

CLOSE_PLACES = "UPDATE childcare_places SET used = 0, closed = true WHERE session_id = $1"

# The day's roster: every session and band of the day, with the children who hold a place (or
# did not come). One statement, so the list printed at the door is one consistent picture.
ROSTER = """
SELECT s.id AS session_id, s.block, s.cancelled_at, p.band, p.capacity, p.used,
       r.id AS reservation_id, r.status, r.arrived_at,
       c.id AS child_id, c.name, c.birth_date, c.allergies, c.notes
  FROM childcare_sessions s
  JOIN childcare_places p ON p.session_id = s.id
  LEFT JOIN childcare_reservations r ON r.session_id = s.id AND r.band = p.band AND r.status IN ('reserved', 'no_show')
  LEFT JOIN children c ON c.id = r.child_id
 WHERE s.nursery_id = $1 AND s.day = $2
 ORDER BY s.block, s.id, p.band, c.name, r.id
"""

MARK_ARRIVED = f"""
UPDATE childcare_reservations SET arrived_at = $2
 WHERE id = $1 AND status = 'reserved' AND arrived_at IS NULL
RETURNING {RESERVATION_COLUMNS}
"""

MARK_NO_SHOW = f"""
UPDATE childcare_reservations SET status = 'no_show', ended_at = $2
 WHERE id = $1 AND status = 'reserved' AND arrived_at IS NULL
RETURNING {RESERVATION_COLUMNS}
"""
