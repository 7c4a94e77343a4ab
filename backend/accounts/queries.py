"""All SQL of the accounts context."""

INSERT_ACCOUNT = """
INSERT INTO accounts (email, password_hash, display_name, locale, created_at)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, email, display_name, locale, created_at, email_verified_at
"""

ACCOUNT_FOR_LOGIN = """
SELECT id, email, password_hash, display_name, locale, created_at, email_verified_at
  FROM accounts WHERE lower(email) = lower($1)
"""

ACCOUNT_BY_ID = """
SELECT id, email, display_name, locale, created_at, email_verified_at FROM accounts WHERE id = $1
"""

ACCOUNT_BY_EMAIL = """
SELECT id, email, display_name, locale, created_at, email_verified_at FROM accounts WHERE lower(email) = lower($1)
"""

# Serialises changes of one account (address, password, deletion) and their mails.
ACCOUNT_BY_ID_FOR_UPDATE = """
SELECT id, email, display_name, locale, created_at, email_verified_at FROM accounts WHERE id = $1 FOR UPDATE
"""

PASSWORD_HASH_OF = "SELECT password_hash FROM accounts WHERE id = $1"

# Mail links: single-use tokens kept as SHA-256 only.
INSERT_ACCOUNT_TOKEN = """
INSERT INTO account_tokens (account_id, purpose, token_hash, email, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)
"""

# Using a token is one statement, so two clicks racing cannot both succeed.
USE_ACCOUNT_TOKEN = """
UPDATE account_tokens SET used_at = $3
 WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
RETURNING account_id, email
"""

# Older links of the same purpose stop working when a new one is sent or one is used.
RETIRE_ACCOUNT_TOKENS = """
UPDATE account_tokens SET used_at = $3 WHERE account_id = $1 AND purpose = $2 AND used_at IS NULL
"""

ACCOUNT_TOKENS_SENT_SINCE = """
SELECT count(*) FROM account_tokens WHERE account_id = $1 AND purpose = $2 AND created_at > $3
"""

# Verifies the address the link was sent to, and only while the account still has it.
MARK_EMAIL_VERIFIED = """
UPDATE accounts SET email_verified_at = $3
 WHERE id = $1 AND lower(email) = lower($2)
RETURNING id, email, display_name, locale, created_at, email_verified_at
"""

CHANGE_EMAIL = """
UPDATE accounts SET email = $2, email_verified_at = NULL WHERE id = $1
RETURNING id, email, display_name, locale, created_at, email_verified_at
"""

UPDATE_PASSWORD_HASH = "UPDATE accounts SET password_hash = $2 WHERE id = $1"

INSERT_SESSION = """
INSERT INTO sessions (account_id, token_hash, created_at, expires_at, user_agent) VALUES ($1, $2, $3, $4, $5)
"""

SESSIONS_OF = """
SELECT id, user_agent AS device, created_at, last_used_at, expires_at FROM sessions
 WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2
 ORDER BY id
"""

REVOKE_OWN_SESSION = """
UPDATE sessions SET revoked_at = $3 WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL AND expires_at > $3
RETURNING id
"""

NOTIFICATION_PREFS = "SELECT notification_prefs FROM accounts WHERE id = $1"

UPDATE_PROFILE = """
UPDATE accounts SET display_name = coalesce($2, display_name), locale = coalesce($3, locale),
                    notification_prefs = $4
 WHERE id = $1
"""

# Organisations in which the account is the only admin: it cannot leave them without one.
ONLY_ADMIN_OF = """
SELECT m.organization_id, o.name FROM memberships m JOIN organizations o ON o.id = m.organization_id
 WHERE m.account_id = $1 AND m.role = 'admin'
   AND NOT EXISTS (SELECT 1 FROM memberships other
                    WHERE other.organization_id = m.organization_id AND other.role = 'admin'
                      AND other.account_id <> $1)
 ORDER BY m.organization_id
"""

FUTURE_LIVE_BOOKINGS = """
SELECT id FROM bookings WHERE account_id = $1 AND status IN ('held', 'provisional', 'confirmed') AND lower(during) > $2
"""

FUTURE_LIVE_RESERVATIONS = """
SELECT r.id FROM childcare_reservations r
  JOIN children c ON c.id = r.child_id JOIN childcare_sessions s ON s.id = r.session_id
 WHERE c.parent_id = $1 AND r.status IN ('held', 'reserved')
   AND s.day >= ($2::timestamptz AT TIME ZONE 'Asia/Tokyo')::date
"""

# Erasure keeps the row (its id is named by bookings, statistics and audit rows) and nothing personal.
ERASE_ACCOUNT = """
UPDATE accounts SET email = 'erased-' || id || '@invalid', display_name = '', password_hash = '!',
                    email_verified_at = NULL, notification_prefs = '{}', deleted_at = $2
 WHERE id = $1
"""

ERASE_CHILDREN = "UPDATE children SET name = '', allergies = '{}', notes = '' WHERE parent_id = $1"

FORGET_DEVICES = "DELETE FROM devices WHERE account_id = $1"

FORGET_ACCOUNT_TOKENS = "DELETE FROM account_tokens WHERE account_id = $1"

FORGET_QUEUED_MAIL = "DELETE FROM email_outbox WHERE account_id = $1"

# Where someone lives is personal; an erased account is nobody's resident.
FORGET_RESIDENCIES = "DELETE FROM residencies WHERE account_id = $1"

REVOKE_MEMBERSHIPS = "DELETE FROM memberships WHERE account_id = $1"

# The export: every table's rows that name the account, as JSON (no secrets: hashes are left out).
_EXPORT_ROWS: dict[str, str] = {
    "sessions": "SELECT id, created_at, expires_at, revoked_at, last_used_at, user_agent FROM sessions"
    " WHERE account_id = $1 ORDER BY id",
    "memberships": "SELECT * FROM memberships WHERE account_id = $1",
    "bookings": "SELECT id, resource_id, lower(during) AS starts_at, upper(during) AS ends_at, status, fee, reduction,"
    " pay_by, created_at, ended_at, end_reason FROM bookings WHERE account_id = $1 ORDER BY id",
    "waitlistEntries": "SELECT * FROM waitlist_entries WHERE account_id = $1 ORDER BY id",
    "lotteryApplications": "SELECT * FROM lottery_applications WHERE account_id = $1 ORDER BY id",
    "children": "SELECT * FROM children WHERE parent_id = $1 ORDER BY id",
    "childApplications": "SELECT a.* FROM child_applications a JOIN children c ON c.id = a.child_id"
    " WHERE c.parent_id = $1 ORDER BY a.id",
    "childcareReservations": "SELECT r.* FROM childcare_reservations r JOIN children c ON c.id = r.child_id"
    " WHERE c.parent_id = $1 ORDER BY r.id",
    "residencies": "SELECT id, municipality_id, status, declared_at, decided_at, decline_reason, ended_at"
    " FROM residencies WHERE account_id = $1 ORDER BY id",
    "devices": "SELECT id, platform, locale, created_at, deactivated_at FROM devices WHERE account_id = $1",
    "audit": "SELECT * FROM audit WHERE subject_type = 'account' AND subject_id = $1::bigint::text ORDER BY id",
    "mail": "SELECT id, kind, to_address, status, created_at, sent_at FROM email_outbox WHERE account_id = $1"
    " ORDER BY id",
}

# Every session of the account but one ($3; null → all), returning which ended.
REVOKE_SESSIONS_EXCEPT = """
UPDATE sessions SET revoked_at = $2
 WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2 AND id IS DISTINCT FROM $3
RETURNING id
"""

ACCOUNT_FOR_RESET = """
SELECT id, email, locale FROM accounts WHERE lower(email) = lower($1) AND deleted_at IS NULL
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

ORGANIZATION_NAME = "SELECT name FROM organizations WHERE id = $1"

LOCALE_OF_ADDRESS = "SELECT locale FROM accounts WHERE lower(email) = lower($1)"

# Inviting again replaces the open invitation (its link stops working).
REVOKE_PENDING_INVITATION_FOR = """
UPDATE invitations SET revoked_at = $4
 WHERE organization_id = $1 AND lower(email) = lower($2) AND role = $3 AND accepted_at IS NULL AND revoked_at IS NULL
"""

INSERT_INVITATION = """
INSERT INTO invitations (organization_id, email, role, token_hash, invited_by, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id, organization_id, email, role, invited_by, created_at, expires_at
"""

PENDING_INVITATIONS = """
SELECT id, organization_id, email, role, invited_by, created_at, expires_at
  FROM invitations
 WHERE organization_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2
 ORDER BY id
"""

REVOKE_INVITATION = """
UPDATE invitations SET revoked_at = $3
 WHERE id = $1 AND organization_id = $2 AND accepted_at IS NULL AND revoked_at IS NULL
RETURNING id
"""

# Only the invited address, verified, takes the role: the link alone is not enough, and an
# account that merely registered the address first (unverified) gets nothing.
ACCEPT_INVITATION = """
UPDATE invitations i SET accepted_at = $3, accepted_by = a.id
  FROM accounts a
 WHERE i.token_hash = $1 AND a.id = $2
   AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > $3
   AND lower(a.email) = lower(i.email) AND a.email_verified_at IS NOT NULL
RETURNING i.id, i.organization_id, i.role
"""

# Why an invitation could not be accepted, once ACCEPT_INVITATION found nothing.
INVITATION_BY_TOKEN = """
SELECT i.email, i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > $2 AS open
  FROM invitations i WHERE i.token_hash = $1
"""

ORGANIZATION_KIND = "SELECT kind FROM organizations WHERE id = $1"

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

EXPORT_QUERIES: dict[str, str] = {
    name: f"SELECT coalesce(jsonb_agg(to_jsonb(x)), '[]'::jsonb) FROM ({rows}) x" for name, rows in _EXPORT_ROWS.items()
}

# -- residency ------------------------------------------------------------------------------------

MUNICIPALITY_EXISTS = "SELECT EXISTS (SELECT 1 FROM municipalities WHERE id = $1)"

RESIDENCY_COLUMNS = "id, municipality_id, status, declared_at, decided_at, decline_reason"

LIVE_RESIDENCY = f"""
SELECT {RESIDENCY_COLUMNS} FROM residencies WHERE account_id = $1 AND status IN ('pending', 'verified')
"""

# The newest declaration, whatever became of it (a declined one stays visible with its reason).
CURRENT_RESIDENCY = f"""
SELECT {RESIDENCY_COLUMNS} FROM residencies WHERE account_id = $1 AND status <> 'ended' ORDER BY id DESC LIMIT 1
"""

END_RESIDENCY = "UPDATE residencies SET status = 'ended', ended_at = $2 WHERE id = $1"

INSERT_RESIDENCY = f"""
INSERT INTO residencies (account_id, municipality_id, status, declared_at) VALUES ($1, $2, 'pending', $3)
RETURNING {RESIDENCY_COLUMNS}
"""

# Organisations of this municipality whose staff hear of a new declaration.
MUNICIPALITY_OFFICES = """
SELECT id FROM organizations WHERE kind = 'municipality' AND municipality_id = $1 AND deactivated_at IS NULL
"""

MUNICIPALITIES_OF_ORGANIZATIONS = "SELECT municipality_id FROM organizations WHERE id = ANY($1::bigint[])"

RESIDENCY_QUEUE = """
SELECT r.id, r.account_id, a.display_name, a.email, r.municipality_id, r.declared_at
  FROM residencies r JOIN accounts a ON a.id = r.account_id
 WHERE r.municipality_id = $1 AND r.status = 'pending' AND r.id > $2
 ORDER BY r.id LIMIT $3
"""

RESIDENCY_FOR_DECISION = """
SELECT id, account_id, status FROM residencies WHERE id = $1 AND municipality_id = $2 FOR UPDATE
"""

DECIDE_RESIDENCY = f"""
UPDATE residencies SET status = $2, decided_at = $3, decided_by = $4, decline_reason = $5
 WHERE id = $1 AND status = 'pending'
RETURNING {RESIDENCY_COLUMNS}
"""
