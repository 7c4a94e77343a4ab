"""All SQL of the shelters context."""

# Setting beds on a retired category brings it back.
UPSERT_UNIT = """
WITH u AS (
    INSERT INTO shelter_units (shelter_id, category, capacity, updated_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (shelter_id, category) DO UPDATE
       SET capacity = EXCLUDED.capacity, updated_at = EXCLUDED.updated_at, retired_at = NULL
    RETURNING shelter_id, category, capacity, occupied
)
SELECT u.shelter_id, o.name AS shelter_name, u.category, u.capacity, u.occupied, 0 AS held
  FROM u JOIN organizations o ON o.id = u.shelter_id
"""

# The shelter's name, never its address or coordinates: where a shelter is stays secret.
VACANCIES = """
SELECT u.shelter_id, o.name AS shelter_name, u.category, u.capacity, u.occupied, 0 AS held
  FROM shelter_units u JOIN organizations o ON o.id = u.shelter_id AND o.deactivated_at IS NULL
 WHERE ($1::bigint IS NULL OR u.shelter_id = $1) AND u.retired_at IS NULL
 ORDER BY u.shelter_id, u.category
"""

SHELTERS_AMONG = """
SELECT id FROM organizations WHERE kind = 'shelter' AND id = ANY($1::bigint[]) AND deactivated_at IS NULL
"""

_CATEGORY_COLUMNS = "category, coalesce(label, category) AS label, capacity, occupied, retired_at"

CATEGORIES = f"""
SELECT {_CATEGORY_COLUMNS} FROM shelter_units WHERE shelter_id = $1 AND ($2 OR retired_at IS NULL) ORDER BY category
"""

# A new category, or a retired one brought back; an active one is left alone (no row returned).
CREATE_CATEGORY = f"""
INSERT INTO shelter_units (shelter_id, category, label, capacity, updated_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (shelter_id, category) DO UPDATE
   SET label = EXCLUDED.label, capacity = EXCLUDED.capacity, updated_at = EXCLUDED.updated_at, retired_at = NULL
 WHERE shelter_units.retired_at IS NOT NULL
RETURNING {_CATEGORY_COLUMNS}
"""

CATEGORY_FOR_UPDATE = f"""
SELECT {_CATEGORY_COLUMNS} FROM shelter_units WHERE shelter_id = $1 AND category = $2 FOR UPDATE
"""

UPDATE_CATEGORY = f"""
UPDATE shelter_units SET label = $3, capacity = $4, updated_at = $5 WHERE shelter_id = $1 AND category = $2
RETURNING {_CATEGORY_COLUMNS}
"""

# The CHECK shelter_units_retired_empty refuses it while a child occupies a bed.
RETIRE_CATEGORY = """
UPDATE shelter_units SET retired_at = $3, updated_at = $3 WHERE shelter_id = $1 AND category = $2
"""

CURRENT_PLACEMENTS = """
SELECT p.*, r.age_years, r.sex, r.needs, r.urgency FROM placements p JOIN intake_requests r ON r.id = p.request_id
 WHERE p.shelter_id = $1 AND p.discharged_at IS NULL AND p.id > $2
 ORDER BY p.id LIMIT $3
"""

CENTER_REQUESTS = """
SELECT r.id, r.created_at, r.age_years, r.sex, r.category, r.urgency, r.status, r.placed_at, r.cancelled_at,
       extract(epoch FROM r.placed_at - r.created_at) / 60 AS minutes_to_placement,
       (SELECT count(*) FROM intake_targets t WHERE t.request_id = r.id) AS shelters_asked,
       (SELECT count(*) FROM intake_targets t WHERE t.request_id = r.id AND t.status IN ('accepted', 'placed'))
           AS shelters_accepting
  FROM intake_requests r
 WHERE r.guidance_center_id = $1 AND ($2::text IS NULL OR r.status = $2) AND r.id < $3
 ORDER BY r.id DESC LIMIT $4
"""

CANCEL_REQUEST = """
UPDATE intake_requests SET status = 'cancelled', cancelled_at = $2, cancelled_by = $3, cancel_reason = $4
 WHERE id = $1 AND status = 'open'
"""

# Every shelter still part of the request is told; their part ends.
CLOSE_OPEN_TARGETS = """
UPDATE intake_targets SET status = 'closed' WHERE request_id = $1 AND status IN ('pending', 'accepted', 'declined')
RETURNING shelter_id
"""

INSERT_REQUEST = """
INSERT INTO intake_requests (guidance_center_id, created_by, created_at, age_years, sex, category, needs, urgency,
                             status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open')
RETURNING id
"""

INSERT_TARGETS = """
INSERT INTO intake_targets (request_id, shelter_id, status)
SELECT $1, shelter_id, 'pending' FROM unnest($2::bigint[]) AS s(shelter_id)
"""

REQUEST = "SELECT * FROM intake_requests WHERE id = $1"

REQUEST_FOR_UPDATE = "SELECT * FROM intake_requests WHERE id = $1 FOR UPDATE"

TARGETS = """
SELECT t.shelter_id, o.name AS shelter_name, t.status, t.responded_at, t.reason
  FROM intake_targets t JOIN organizations o ON o.id = t.shelter_id
 WHERE t.request_id = $1 ORDER BY t.shelter_id
"""

TARGET_OF_SHELTERS = """
SELECT * FROM intake_targets WHERE request_id = $1 AND shelter_id = ANY($2::bigint[])
 ORDER BY shelter_id LIMIT 1 FOR UPDATE
"""

TARGET_FOR_UPDATE = "SELECT * FROM intake_targets WHERE request_id = $1 AND shelter_id = $2 FOR UPDATE"

ANSWER_TARGET = """
UPDATE intake_targets t SET status = $3, responded_at = $4, responded_by = $5, reason = $6
  FROM organizations o
 WHERE t.request_id = $1 AND t.shelter_id = $2 AND o.id = t.shelter_id
RETURNING t.shelter_id, o.name AS shelter_name, t.status, t.responded_at, t.reason
"""

REQUESTS_OF_CENTERS = """
SELECT * FROM intake_requests WHERE guidance_center_id = ANY($1::bigint[]) AND id < $2 ORDER BY id DESC LIMIT $3
"""

REQUESTS_TO_SHELTERS = """
SELECT r.* FROM intake_requests r
 WHERE EXISTS (SELECT 1 FROM intake_targets t WHERE t.request_id = r.id AND t.shelter_id = ANY($1::bigint[]))
   AND r.id < $2
 ORDER BY r.id DESC LIMIT $3
"""

# A bed, only if one is free: the CHECK (occupied <= capacity) backs this up.
TAKE_BED = """
UPDATE shelter_units SET occupied = occupied + 1, updated_at = $3
 WHERE shelter_id = $1 AND category = $2 AND occupied < capacity AND retired_at IS NULL
RETURNING occupied
"""

FREE_BED = """
UPDATE shelter_units SET occupied = occupied - 1, updated_at = $3
 WHERE shelter_id = $1 AND category = $2 AND occupied > 0
"""

INSERT_PLACEMENT = """
INSERT INTO placements (request_id, shelter_id, category, placed_by, placed_at, identity_key_id, identity_nonce,
                        identity_ciphertext)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id, request_id, shelter_id, category, placed_at, discharged_at, identity_access_until
"""

MARK_PLACED = "UPDATE intake_requests SET status = 'placed', placed_at = $2 WHERE id = $1"

CLOSE_OTHER_TARGETS = """
UPDATE intake_targets SET status = CASE WHEN shelter_id = $2 THEN 'placed' ELSE 'closed' END
 WHERE request_id = $1
RETURNING shelter_id, status
"""

PLACEMENT_OF_REQUEST = "SELECT * FROM placements WHERE request_id = $1"

PLACEMENT_FOR_UPDATE = """
SELECT p.*, r.guidance_center_id FROM placements p JOIN intake_requests r ON r.id = p.request_id
 WHERE p.id = $1 FOR UPDATE OF p
"""

DISCHARGE = """
UPDATE placements SET discharged_at = $2, discharged_by = $3, identity_access_until = $4 WHERE id = $1
RETURNING id, request_id, shelter_id, category, placed_at, discharged_at, identity_access_until
"""

PLACEMENT_STATS = """
SELECT count(*) AS placements,
       avg(minutes) AS mean, percentile_cont(0.5) WITHIN GROUP (ORDER BY minutes) AS median,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY minutes) AS p90
  FROM (SELECT extract(epoch FROM placed_at - created_at) / 60 AS minutes FROM intake_requests
         WHERE placed_at IS NOT NULL AND created_at >= $1 AND created_at < $2) AS t
"""
