"""All SQL of the EMS context."""

from backend.core.command_keys import writing_key

INSERT_CASE = """
INSERT INTO ems_cases (fire_department_id, opened_by, opened_at, estimated_age, sex, chief_complaint, jcs,
                       gcs_e, gcs_v, gcs_m, allergies, medications, lat, lon, eta_minutes)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
RETURNING id
"""

INSERT_VITALS = """
INSERT INTO ems_vitals (case_id, taken_at, sbp, dbp, hr, rr, spo2, temp, recorded_by, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING id, taken_at, sbp, dbp, hr, rr, spo2, temp::float8 AS temp
"""

CASE = "SELECT * FROM ems_cases WHERE id = $1"

# Every change of a case (requests, answers, destination, vitals, photos) locks the case row
# first, so they run one after another and always take their locks in the same order.
CASE_FOR_UPDATE = "SELECT * FROM ems_cases WHERE id = $1 FOR UPDATE"

# Hospitals of the caller that hold an open, accepted or selected request for the case.
HOSPITAL_ACCESS = """
SELECT hospital_id FROM ems_requests
 WHERE case_id = $1 AND hospital_id = ANY($2::bigint[]) AND status IN ('pending', 'accepted', 'selected')
 LIMIT 1
"""

VITALS = """
SELECT id, taken_at, sbp, dbp, hr, rr, spo2, temp::float8 AS temp FROM ems_vitals
 WHERE case_id = $1 ORDER BY taken_at, id
"""

ATTACHMENTS = "SELECT id, media_type, size, created_at FROM ems_attachments WHERE case_id = $1 ORDER BY id"

ATTACHMENT_CONTENT = "SELECT media_type, content FROM ems_attachments WHERE case_id = $1 AND id = $2"

ATTACHMENT_COUNT = "SELECT count(*) FROM ems_attachments WHERE case_id = $1"

INSERT_ATTACHMENT = """
INSERT INTO ems_attachments (case_id, media_type, content, size, sha256, uploaded_by, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id, media_type, size, created_at
"""

# A request to a hospital as the API shows it (HospitalRequest), from ems_requests r.
_REQUEST_COLUMNS = "r.id AS request_id, r.hospital_id, r.status, r.sent_at, r.responded_at, r.reason, r.department"

REQUESTS = f"SELECT {_REQUEST_COLUMNS} FROM ems_requests r WHERE r.case_id = $1 ORDER BY r.id"

REQUEST_PARTIES = """
SELECT r.case_id, r.hospital_id, c.fire_department_id FROM ems_requests r JOIN ems_cases c ON c.id = r.case_id
 WHERE r.id = $1
"""

# A crew's requests to hospitals in one statement and one round trip (no BEGIN/COMMIT: run it outside
# a transaction). The function (migration 0029_ems_requests_in_one_statement), step by step: the case
# (CASE_FOR_UPDATE) if the crew's, with no destination and not closed; every id an active hospital;
# the audit row; the requests not sent before, with an event each; the case's first request time; the
# requests to those hospitals (as REQUESTS). Returns `outcome` and the requests' columns.
SEND_REQUESTS = "SELECT * FROM send_ems_requests($1, $2, $3, $4, $5, $6, $7, $8)"

# The same with the request's Idempotency-Key ($9–$13) written beside the requests, at $5: one key
# row for the whole send, whose reference (CASE_REQUESTS' path) names the case and the hospitals.
SEND_REQUESTS_WRITING_KEY = writing_key(SEND_REQUESTS, done="sent", created_id="request_id", first=9, at="$5")

# A case's requests as its crew sees them (the send's answer, as send_ems_requests returns it), to the
# hospitals $3 (NULL: every one); no row when the case is not one of the crews' $2, and one with NULL
# request columns for a case of theirs that has none (yet).
CASE_REQUESTS = f"""
SELECT c.id AS case_id, {_REQUEST_COLUMNS}
  FROM ems_cases c
  LEFT JOIN ems_requests r ON r.case_id = c.id AND ($3::bigint[] IS NULL OR r.hospital_id = ANY($3))
 WHERE c.id = $1 AND c.fire_department_id = ANY($2)
 ORDER BY r.id
"""

# A hospital's answer in one statement (the same migration): the case and the request locked in
# that order, the request still pending, the department active (ACTIVE_DEPARTMENT); the answer, the
# audit row and the event. Returns `outcome` and the request's columns.
ANSWER = "SELECT * FROM answer_ems_request($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"

# The same with the request's Idempotency-Key ($12–$16) written beside the answer, at $8.
ANSWER_WRITING_KEY = writing_key(ANSWER, done="answered", created_id="request_id", first=12, at="$8")

# One request to a hospital.
REQUEST_OF = f"SELECT {_REQUEST_COLUMNS} FROM ems_requests r WHERE r.id = $1"

SELECT_DESTINATION = """
UPDATE ems_requests SET status = 'selected' WHERE case_id = $1 AND hospital_id = $2 AND status = 'accepted'
RETURNING id
"""

RELEASE_OTHERS = """
UPDATE ems_requests SET status = 'released' WHERE case_id = $1 AND status IN ('pending', 'accepted')
RETURNING id, hospital_id
"""

MARK_DESTINATION = "UPDATE ems_cases SET destination_at = $2 WHERE id = $1"

INBOX = """
SELECT r.id AS request_id, r.case_id, r.status, r.sent_at, r.realert_count,
       c.estimated_age, c.sex, c.chief_complaint, c.jcs, c.eta_minutes
  FROM ems_requests r JOIN ems_cases c ON c.id = r.case_id
 WHERE r.hospital_id = ANY($1::bigint[]) AND r.status IN ('pending', 'accepted') AND c.purged_at IS NULL
 ORDER BY r.sent_at DESC, r.id DESC
 LIMIT $2
"""

UPSERT_BOARD = """
INSERT INTO hospital_board (hospital_id, department, status, until, updated_by, updated_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (hospital_id, department) DO UPDATE
   SET status = EXCLUDED.status, until = EXCLUDED.until, updated_by = EXCLUDED.updated_by,
       updated_at = EXCLUDED.updated_at
RETURNING department, status, until, updated_at
"""

BOARD = """
SELECT o.id AS hospital_id, o.name, m.lat, m.lon,
       coalesce(jsonb_agg(jsonb_build_object(
           'department', b.department,
           'status', CASE WHEN b.until > $1 THEN b.status ELSE 'unknown' END,
           'until', b.until,
           'updatedAt', b.updated_at) ORDER BY b.department) FILTER (WHERE b.department IS NOT NULL), '[]')
           AS departments
  FROM organizations o
  LEFT JOIN municipalities m ON m.id = o.municipality_id
  -- Only departments the hospital still runs.
  LEFT JOIN (hospital_board b JOIN hospital_departments d
             ON d.hospital_id = b.hospital_id AND d.department = b.department AND d.retired_at IS NULL)
         ON b.hospital_id = o.id
 WHERE o.kind = 'hospital' AND o.deactivated_at IS NULL
 GROUP BY o.id, m.lat, m.lon
 ORDER BY o.id
"""

# SKIP LOCKED: a request locked by a change of its case is being answered or released right
# now; the sweeper takes it next round rather than wait for (or deadlock with) that change.
UNANSWERED = """
UPDATE ems_requests r SET realerted_at = $1, realert_count = realert_count + 1
 WHERE r.id IN (SELECT id FROM ems_requests
                 WHERE status = 'pending' AND coalesce(realerted_at, sent_at) <= $2
                   FOR UPDATE SKIP LOCKED)
RETURNING r.id, r.case_id, r.hospital_id, r.realert_count
"""

PURGE_CASES = """
UPDATE ems_cases SET estimated_age = NULL, sex = NULL, chief_complaint = NULL, jcs = NULL, gcs_e = NULL,
       gcs_v = NULL, gcs_m = NULL, allergies = NULL, medications = NULL, lat = NULL, lon = NULL,
       eta_minutes = NULL, close_reason = NULL, purged_at = $1
 WHERE purged_at IS NULL AND opened_at < $2
RETURNING id
"""
PURGE_VITALS = "DELETE FROM ems_vitals WHERE case_id = ANY($1::bigint[])"
PURGE_ATTACHMENTS = "DELETE FROM ems_attachments WHERE case_id = ANY($1::bigint[])"
PURGE_NOTES = "UPDATE ems_requests SET reason_note = NULL WHERE case_id = ANY($1::bigint[])"

STATS = """
WITH per_case AS (
    SELECT c.id,
           count(r.id) AS inquiries,
           -- Accepted at some point: declines stay 'declined'; released-while-pending has no answer.
           extract(epoch FROM min(r.responded_at) FILTER (WHERE r.status IN ('accepted', 'selected', 'released'))
                   - c.first_request_at) AS seconds_to_acceptance
      FROM ems_cases c LEFT JOIN ems_requests r ON r.case_id = c.id
     WHERE c.opened_at >= $1 AND c.opened_at < $2
     GROUP BY c.id
)
SELECT count(*) AS cases,
       count(*) FILTER (WHERE inquiries > 0) AS cases_with_requests,
       avg(inquiries) FILTER (WHERE inquiries > 0) AS mean_inquiries,
       avg((inquiries >= 4)::int) FILTER (WHERE inquiries > 0) AS share_4_plus,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds_to_acceptance) AS median_acceptance,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds_to_acceptance) AS p90_acceptance
  FROM per_case
"""

DEPARTMENT_NAME = "SELECT name FROM organizations WHERE id = $1"

# The inquiries of a case with each hospital's name, for the FHIR handoff.
HANDOFF_REQUESTS = """
SELECT r.id AS request_id, r.hospital_id, o.name AS hospital_name, r.status, r.sent_at, r.responded_at, r.reason,
       r.department
  FROM ems_requests r JOIN organizations o ON o.id = r.hospital_id
 WHERE r.case_id = $1 ORDER BY r.id
"""

# The handoff document's version: the same content keeps its version, changed content takes the
# next one. Concurrent exports of the same case serialise on the row.
RECORD_FHIR_VERSION = """
WITH recorded AS (
    INSERT INTO ems_fhir_versions AS v (case_id, version, content_sha256, changed_at) VALUES ($1, 1, $2, $3)
    ON CONFLICT (case_id) DO UPDATE
       SET version = v.version + 1, content_sha256 = EXCLUDED.content_sha256, changed_at = EXCLUDED.changed_at
     WHERE v.content_sha256 <> EXCLUDED.content_sha256
    RETURNING version, changed_at
)
SELECT version, changed_at FROM recorded
UNION ALL
SELECT version, changed_at FROM ems_fhir_versions WHERE case_id = $1 AND NOT EXISTS (SELECT FROM recorded)
"""

# -- back office -----------------------------------------------------------------------

_DEPARTMENT_COLUMNS = "department, coalesce(name, department) AS name, created_at, retired_at"

DEPARTMENTS = f"""
SELECT {_DEPARTMENT_COLUMNS} FROM hospital_departments
 WHERE hospital_id = $1 AND ($2 OR retired_at IS NULL) ORDER BY department
"""

# A new department, or a retired one brought back; an active one is left alone (no row returned).
CREATE_DEPARTMENT = f"""
INSERT INTO hospital_departments (hospital_id, department, name, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (hospital_id, department) DO UPDATE SET name = EXCLUDED.name, retired_at = NULL
 WHERE hospital_departments.retired_at IS NOT NULL
RETURNING {_DEPARTMENT_COLUMNS}
"""

RETIRE_DEPARTMENT = """
UPDATE hospital_departments SET retired_at = $3 WHERE hospital_id = $1 AND department = $2 AND retired_at IS NULL
RETURNING department
"""

# FOR SHARE: a department being retired (an UPDATE of its row) waits for the answer or board
# change naming it, or the answer waits and then finds it retired.
ACTIVE_DEPARTMENT = """
SELECT true FROM hospital_departments WHERE hospital_id = $1 AND department = $2 AND retired_at IS NULL FOR SHARE
"""

_CASE_STATE = """
CASE WHEN c.closed_at IS NOT NULL THEN 'closed' WHEN c.destination_at IS NOT NULL THEN 'transporting' ELSE 'open' END
"""

# $2, $3: the Tokyo day as instants (NULL: every day).
FIRE_CASES = f"""
SELECT c.id, c.opened_at, {_CASE_STATE} AS state, c.outcome, c.closed_at,
       (SELECT r.hospital_id FROM ems_requests r WHERE r.case_id = c.id AND r.status = 'selected')
           AS destination_hospital_id,
       (SELECT count(*) FROM ems_requests r WHERE r.case_id = c.id) AS inquiries,
       c.estimated_age, c.sex, c.chief_complaint
  FROM ems_cases c
 WHERE c.fire_department_id = $1
   AND ($2::timestamptz IS NULL OR (c.opened_at >= $2 AND c.opened_at < $3))
   AND ($4::text IS NULL OR {_CASE_STATE} = $4)
   AND c.id < $5
 ORDER BY c.id DESC LIMIT $6
"""

CLOSE_CASE = """
UPDATE ems_cases SET closed_at = $2, closed_by = $3, outcome = $4, close_reason = $5 WHERE id = $1
"""

SELECTED_HOSPITAL = "SELECT hospital_id FROM ems_requests WHERE case_id = $1 AND status = 'selected'"

# Cases bound for the caller's hospitals: the destination is set there ('selected'), the case is
# neither closed (handed over) nor purged. $2: one of those hospitals only, or NULL for all.
INCOMING = """
SELECT c.id AS case_id, r.id AS request_id, r.hospital_id, r.department, c.opened_at, c.destination_at,
       c.estimated_age, c.sex, c.chief_complaint, c.jcs, c.gcs_e, c.gcs_v, c.gcs_m, c.allergies, c.medications,
       c.eta_minutes, c.opened_at + make_interval(mins => c.eta_minutes) AS eta_at
  FROM ems_requests r JOIN ems_cases c ON c.id = r.case_id
 WHERE r.hospital_id = ANY($1::bigint[]) AND ($2::bigint IS NULL OR r.hospital_id = $2)
   AND r.status = 'selected' AND c.closed_at IS NULL AND c.purged_at IS NULL
 ORDER BY c.destination_at, c.id
 LIMIT $3
"""

VITALS_OF_CASES = """
SELECT case_id, id, taken_at, sbp, dbp, hr, rr, spo2, temp::float8 AS temp FROM ems_vitals
 WHERE case_id = ANY($1::bigint[]) ORDER BY taken_at, id
"""

ATTACHMENTS_OF_CASES = """
SELECT case_id, id, media_type, size, created_at FROM ems_attachments WHERE case_id = ANY($1::bigint[]) ORDER BY id
"""
