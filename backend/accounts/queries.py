"""All SQL of the accounts context."""

CALLER_BY_TOKEN = """
SELECT s.id AS session_id, a.id AS account_id, a.locale,
       coalesce(jsonb_agg(jsonb_build_object(
                    'organizationId', o.id, 'organizationKind', o.kind, 'role', m.role)
                ORDER BY o.id, m.role) FILTER (WHERE m.role IS NOT NULL), '[]') AS memberships
  FROM sessions s
  JOIN accounts a ON a.id = s.account_id
  -- Read on every request, so a removed membership or a deactivated organisation stops
  -- granting anything from the token's next request on.
  LEFT JOIN (memberships m JOIN organizations o ON o.id = m.organization_id AND o.deactivated_at IS NULL)
         ON m.account_id = a.id
 WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2
 GROUP BY s.id, a.id
"""

INSERT_ACCOUNT = """
INSERT INTO accounts (email, password_hash, display_name, locale, created_at)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, email, display_name, locale, created_at
"""

ACCOUNT_FOR_LOGIN = """
SELECT id, email, password_hash, display_name, locale, created_at
  FROM accounts WHERE lower(email) = lower($1)
"""

ACCOUNT_BY_ID = """
SELECT id, email, display_name, locale, created_at FROM accounts WHERE id = $1
"""

ACCOUNT_BY_EMAIL = """
SELECT id, email, display_name, locale, created_at FROM accounts WHERE lower(email) = lower($1)
"""

UPDATE_PASSWORD_HASH = "UPDATE accounts SET password_hash = $2 WHERE id = $1"

INSERT_SESSION = """
INSERT INTO sessions (account_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)
"""

REVOKE_SESSION = "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL"

SESSION_STARTED = "SELECT created_at FROM sessions WHERE id = $1"

# When each current membership began: a ticket replays an organisation's events from then on only.
MEMBERSHIPS_SINCE = """
SELECT o.id AS organization_id, o.kind AS organization_kind, m.role, m.created_at
  FROM memberships m JOIN organizations o ON o.id = m.organization_id AND o.deactivated_at IS NULL
 WHERE m.account_id = $1
"""

MEMBERSHIPS_OF = """
SELECT o.id AS organization_id, o.kind AS organization_kind, m.role
  FROM memberships m JOIN organizations o ON o.id = m.organization_id AND o.deactivated_at IS NULL
 WHERE m.account_id = $1
 ORDER BY o.id, m.role
"""

INSERT_ORGANIZATION = """
INSERT INTO organizations (kind, name, municipality_id, created_at) VALUES ($1, $2, $3, $4)
RETURNING id, kind, name, municipality_id, created_at
"""

ORGANIZATION_EXISTS = "SELECT true FROM organizations WHERE id = $1"

INSERT_MEMBERSHIP = """
INSERT INTO memberships (organization_id, account_id, role, created_at) VALUES ($1, $2, $3, $4)
RETURNING organization_id, account_id, role, created_at
"""

# Login throttling. Every attempt is counted *before* its password is checked, in both buckets
# (account $1, address $2) or in neither: a bucket at its limit within a live window is not
# updated, so fewer than two rows come back and the caller rolls the statement back. The row
# locks of ON CONFLICT serialise concurrent attempts, so a burst cannot all pass one check.
RESERVE_LOGIN_ATTEMPT = """
INSERT INTO login_throttle AS t (bucket, window_start, failures) VALUES ($1, $3, 1), ($2, $3, 1)
ON CONFLICT (bucket) DO UPDATE SET
    failures     = CASE WHEN t.window_start <= $3::timestamptz - $4::interval THEN 1 ELSE t.failures + 1 END,
    window_start = CASE WHEN t.window_start <= $3::timestamptz - $4::interval THEN $3 ELSE t.window_start END
 WHERE t.window_start <= $3::timestamptz - $4::interval
    OR t.failures < CASE WHEN t.bucket = $1 THEN $5::integer ELSE $6::integer END
RETURNING bucket
"""

THROTTLED_BUCKETS = """
SELECT bucket, window_start FROM login_throttle
 WHERE window_start > $2::timestamptz - $3::interval
   AND ((bucket = $1 AND failures >= $4) OR (bucket = $6 AND failures >= $5))
"""

# A successful login was not a failure: give back its reservation.
RELEASE_LOGIN_ATTEMPT = "UPDATE login_throttle SET failures = failures - 1 WHERE bucket = $1 AND failures > 0"

CLEAR_LOGIN_FAILURES = "DELETE FROM login_throttle WHERE bucket = $1"
