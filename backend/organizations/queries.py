"""All SQL of the organisations back office."""

_ORGANIZATION_COLUMNS = """
id, kind, name, municipality_id, address, lat, lon, deactivated_at IS NULL AS active, deactivated_at,
deactivation_reason, created_at
"""

# $3: the organisations the caller administers, or NULL for the prefecture admin (all of them).
ORGANIZATIONS = f"""
SELECT {_ORGANIZATION_COLUMNS} FROM organizations
 WHERE ($1::text IS NULL OR kind = $1)
   AND ($2::integer IS NULL OR municipality_id = $2)
   AND ($3::bigint[] IS NULL OR id = ANY($3::bigint[]))
   AND id > $4
 ORDER BY id LIMIT $5
"""

ORGANIZATION = f"SELECT {_ORGANIZATION_COLUMNS} FROM organizations WHERE id = $1"

# Every change of an organisation or of its members takes this lock first: changes of one
# organisation run one after another (the last-admin rule counts under it). NO KEY: rows that
# merely refer to the organisation (bookings, requests) do not wait for it.
ORGANIZATION_FOR_UPDATE = f"SELECT {_ORGANIZATION_COLUMNS} FROM organizations WHERE id = $1 FOR NO KEY UPDATE"

UPDATE_ORGANIZATION = f"""
UPDATE organizations SET name = $2, address = $3, lat = $4, lon = $5, municipality_id = $6 WHERE id = $1
RETURNING {_ORGANIZATION_COLUMNS}
"""

SET_DEACTIVATED = f"""
UPDATE organizations SET deactivated_at = $2, deactivated_by = $3, deactivation_reason = $4 WHERE id = $1
RETURNING {_ORGANIZATION_COLUMNS}
"""

MUNICIPALITY_EXISTS = "SELECT true FROM municipalities WHERE id = $1"

MEMBER_ACCOUNTS = "SELECT DISTINCT account_id FROM memberships WHERE organization_id = $1 ORDER BY account_id"

MEMBERS = """
SELECT a.id AS account_id, a.email, a.display_name, array_agg(m.role ORDER BY m.role) AS roles,
       min(m.created_at) AS since
  FROM memberships m JOIN accounts a ON a.id = m.account_id
 WHERE m.organization_id = $1 AND a.id > $2
 GROUP BY a.id
 ORDER BY a.id LIMIT $3
"""

MEMBER = """
SELECT a.id AS account_id, a.email, a.display_name, array_agg(m.role ORDER BY m.role) AS roles,
       min(m.created_at) AS since
  FROM memberships m JOIN accounts a ON a.id = m.account_id
 WHERE m.organization_id = $1 AND a.id = $2
 GROUP BY a.id
"""

ROLES_OF_MEMBER = "SELECT role, created_at FROM memberships WHERE organization_id = $1 AND account_id = $2"

OTHER_ADMINS = """
SELECT count(*) FROM memberships WHERE organization_id = $1 AND role = 'admin' AND account_id <> $2
"""

# Ends the member's roles other than $3 (all of them when $3 is NULL), keeping each in history.
END_ROLES = """
WITH ended AS (
    DELETE FROM memberships
     WHERE organization_id = $1 AND account_id = $2 AND ($3::text IS NULL OR role <> $3)
    RETURNING organization_id, account_id, role, created_at
)
INSERT INTO past_memberships (organization_id, account_id, role, started_at, ended_at, ended_by)
SELECT organization_id, account_id, role, created_at, greatest($4::timestamptz, created_at), $5 FROM ended
RETURNING role
"""

GRANT_ROLE = """
INSERT INTO memberships (organization_id, account_id, role, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING
"""

# $7: the organisations whose log the caller may read, or NULL for the prefecture admin. A row
# belongs to an organisation when it is about the organisation itself, or when its actor was a
# member of it at the time (now, or in past_memberships).
AUDIT = """
SELECT a.id, a.at, a.actor_account_id, p.display_name AS actor_name, p.email AS actor_email, a.action,
       a.subject_type, a.subject_id, a.reason
  FROM audit a LEFT JOIN accounts p ON p.id = a.actor_account_id
 WHERE ($1::text IS NULL OR a.subject_type = $1)
   AND ($2::text IS NULL OR a.subject_id = $2)
   AND ($3::bigint IS NULL OR a.actor_account_id = $3)
   AND ($4::timestamptz IS NULL OR a.at >= $4)
   AND ($5::timestamptz IS NULL OR a.at < $5)
   AND a.id < $6
   AND ($7::bigint[] IS NULL
        OR (a.subject_type = 'organization' AND a.subject_id = ANY($7::bigint[]::text[]))
        OR EXISTS (SELECT 1 FROM memberships m
                    WHERE m.account_id = a.actor_account_id AND m.organization_id = ANY($7::bigint[])
                      AND m.created_at <= a.at)
        OR EXISTS (SELECT 1 FROM past_memberships h
                    WHERE h.account_id = a.actor_account_id AND h.organization_id = ANY($7::bigint[])
                      AND h.started_at <= a.at AND a.at <= h.ended_at))
 ORDER BY a.id DESC
 LIMIT $8
"""
