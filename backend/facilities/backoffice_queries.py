"""SQL of the facility back office (operators' side). Kept apart from queries.py, whose booking
path is tuned for the rush; nothing here runs when a resident books."""

OWN_FACILITIES = """
SELECT id, organization_id, municipality_id, name, kind, address, lat, lon FROM facilities
 WHERE organization_id = $1 AND id > $2
 ORDER BY id LIMIT $3
"""

FACILITY_OWNER = "SELECT organization_id FROM facilities WHERE id = $1"

# Locks the row so two edits of one facility apply one after the other.
FACILITY_FOR_UPDATE = """
SELECT id, organization_id, municipality_id, name, kind, address, lat, lon FROM facilities WHERE id = $1 FOR UPDATE
"""

UPDATE_FACILITY = """
UPDATE facilities SET name = $2, address = $3, lat = $4, lon = $5 WHERE id = $1
RETURNING id, organization_id, municipality_id, name, kind, address, lat, lon
"""

RESOURCE_FOR_UPDATE = """
SELECT r.*, f.organization_id FROM resources r JOIN facilities f ON f.id = r.facility_id
 WHERE r.id = $1
 FOR UPDATE OF r
"""

UPDATE_RESOURCE = """
UPDATE resources
   SET name = $2, unit_minutes = $3, opens_at = $4, closes_at = $5, fee_per_unit = $6,
       non_resident_fee_per_unit = $7, cancel_deadline_hours = $8, payment_deadline_hours = $9,
       pay_at_counter = $10, max_bookings_per_month = $11, waitlist_hold_minutes = $12,
       resident_horizon_months = $13, non_resident_horizon_months = $14
 WHERE id = $1
"""

DELETE_REDUCTIONS = "DELETE FROM fee_reductions WHERE resource_id = $1"

# Closing a resource or a closure over it takes the resource's gate exclusively (see migration
# 0020_facility_back_office): bookings already in flight finish first, and later ones meet the closure committed.
LOCK_RESOURCE_GATES = """
SELECT pg_advisory_xact_lock(resource_gate_key(id)) FROM (
    SELECT id FROM resources WHERE facility_id = $1 AND ($2::bigint IS NULL OR id = $2) ORDER BY id
) AS gated
"""

LIVE_BOOKINGS_OVERLAPPING = """
SELECT b.id, b.account_id, b.resource_id, lower(b.during) AS start, b.status
  FROM bookings b JOIN resources r ON r.id = b.resource_id
 WHERE r.facility_id = $1 AND ($2::bigint IS NULL OR r.id = $2)
   AND b.status IN ('held', 'provisional', 'confirmed') AND b.during && $3
 ORDER BY lower(b.during), b.id
 FOR UPDATE OF b
"""

CANCEL_BOOKINGS = """
UPDATE bookings SET status = 'cancelled', ended_at = $2, end_reason = $3, ended_by = $4
 WHERE id = ANY($1::bigint[])
"""

# Nobody may wait for time that is closed: their entries end with it.
END_WAITING_IN = """
UPDATE waitlist_entries w SET status = 'cancelled'
  FROM resources r
 WHERE r.id = w.resource_id AND r.facility_id = $1 AND ($2::bigint IS NULL OR r.id = $2)
   AND w.status IN ('waiting', 'offered') AND w.during && $3
"""

CLOSE_RESOURCE = "UPDATE resources SET closed_at = $2, closed_reason = $3 WHERE id = $1"
REOPEN_RESOURCE = "UPDATE resources SET closed_at = NULL, closed_reason = NULL WHERE id = $1"

CLOSURE_COLUMNS = """
id, facility_id, resource_id, lower(during) AS start, upper(during) AS "end", reason, created_at, lifted_at
"""

RESOURCE_OF_FACILITY = "SELECT id FROM resources WHERE id = $1 AND facility_id = $2"

INSERT_CLOSURE = f"""
INSERT INTO closures (facility_id, resource_id, during, reason, created_by, created_at)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING {CLOSURE_COLUMNS}
"""

CLOSURES_OF_FACILITY = f"""
SELECT {CLOSURE_COLUMNS} FROM closures
 WHERE facility_id = $1 AND during && tstzrange($2, $3) AND ($4::boolean OR lifted_at IS NULL) AND id > $5
 ORDER BY id LIMIT $6
"""

CLOSURE_FOR_UPDATE = """
SELECT c.*, f.organization_id FROM closures c JOIN facilities f ON f.id = c.facility_id WHERE c.id = $1
 FOR UPDATE OF c
"""

LIFT_CLOSURE = f"""
UPDATE closures SET lifted_at = $2, lifted_by = $3 WHERE id = $1
RETURNING {CLOSURE_COLUMNS}
"""

_PAYMENT_STATE = """
CASE WHEN b.fee = 0 THEN 'none'
     WHEN b.status = 'provisional' THEN 'due'
     -- Confirmation clears pay_by, so an ended paid booking is one that has none: its fee is owed back.
     WHEN b.status IN ('cancelled', 'released') AND b.pay_by IS NULL AND NOT r.pay_at_counter THEN 'refund_due'
     WHEN b.status IN ('cancelled', 'released', 'held') THEN 'void'
     WHEN r.pay_at_counter THEN 'at_counter'
     ELSE 'paid' END
"""

# The day or week view in one query. A booking never leaves its opening day, so only bookings
# starting from a day before the range can overlap it: that bound lets bookings_schedule_idx serve.
SCHEDULE = f"""
SELECT b.id, b.resource_id, r.name AS resource_name, lower(b.during) AS start, upper(b.during) AS "end",
       b.status, b.account_id AS booker_id, a.display_name AS booker_name, b.fee, b.reduction,
       b.reduction_approved_at, {_PAYMENT_STATE} AS payment, b.pay_by, b.no_show_at, b.end_reason, b.created_at
  FROM resources r
  JOIN bookings b ON b.resource_id = r.id
  JOIN accounts a ON a.id = b.account_id
 WHERE r.facility_id = $1
   AND lower(b.during) >= $2::timestamptz - interval '1 day' AND lower(b.during) < $3
   AND b.during && tstzrange($2, $3)
   AND (lower(b.during), b.id) > ($4::timestamptz, $5::bigint)
 ORDER BY lower(b.during), b.id
 LIMIT $6
"""

MARK_NO_SHOW = """
WITH b AS (UPDATE bookings SET no_show_at = $2, no_show_by = $3 WHERE id = $1 RETURNING *)
SELECT b.id, b.resource_id, r.facility_id, lower(b.during) AS start, upper(b.during) AS "end", b.status, b.fee,
       b.reduction, b.pay_by, b.hold_until, b.created_at, b.reduction_approved_at
  FROM b JOIN resources r ON r.id = b.resource_id
"""
