"""All SQL of the mail outbox."""

INSERT_MAIL = """
INSERT INTO email_outbox (account_id, to_address, kind, locale, subject, body_text, body_html, next_attempt_at,
                          created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
RETURNING id
"""

# Claims due messages for one attempt: a lease, not a row lock held while talking SMTP, so a
# slow relay never keeps a transaction open; several workers share the rows (SKIP LOCKED).
CLAIM_DUE = """
UPDATE email_outbox m SET locked_until = $2, attempts = m.attempts + 1
 WHERE m.id IN (SELECT id FROM email_outbox
                 WHERE status = 'pending' AND next_attempt_at <= $1 AND (locked_until IS NULL OR locked_until <= $1)
                 ORDER BY next_attempt_at, id
                 LIMIT $3
                 FOR UPDATE SKIP LOCKED)
RETURNING m.id, m.kind, m.to_address, m.subject, m.body_text, m.body_html, m.attempts
"""

MARK_SENT = """
UPDATE email_outbox SET status = 'sent', sent_at = $2, locked_until = NULL, last_error = NULL,
                        body_text = '', body_html = ''
 WHERE id = $1
"""

RETRY_LATER = "UPDATE email_outbox SET next_attempt_at = $2, locked_until = NULL, last_error = $3 WHERE id = $1"

MARK_DEAD = """
UPDATE email_outbox SET status = 'dead', locked_until = NULL, last_error = $2, body_text = '', body_html = ''
 WHERE id = $1
"""

# The mail notifier's own cursor over the event outbox (the push worker keeps another).
ENSURE_NOTICE_CURSOR = "INSERT INTO mail_notice_cursor DEFAULT VALUES ON CONFLICT DO NOTHING"

NOTICE_CURSOR = "SELECT last_seq FROM mail_notice_cursor FOR UPDATE"

ADVANCE_NOTICE_CURSOR = "UPDATE mail_notice_cursor SET last_seq = $1"

EVENTS_AFTER = "SELECT seq, topic, type, payload::text AS payload FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2"

# Only a live account with a verified address hears anything: mail to an address nobody proved
# could tell a stranger where and when someone will be.
RECIPIENT = """
SELECT email, locale, notification_prefs -> 'email' ->> $2::text AS wanted FROM accounts
 WHERE id = $1 AND deleted_at IS NULL AND email_verified_at IS NOT NULL
"""

BOOKING_FACTS = """
SELECT b.account_id, b.status, b.fee, b.pay_by, lower(b.during) AS start, upper(b.during) AS "end",
       b.ended_by, b.end_reason, f.name || ' ' || r.name AS place,
       EXISTS (SELECT 1 FROM lottery_results lr WHERE lr.booking_id = b.id) AS from_lottery
  FROM bookings b JOIN resources r ON r.id = b.resource_id JOIN facilities f ON f.id = r.facility_id
 WHERE b.id = $1
"""

# A facility's name for the lottery: the organisation's, or its one facility's when it has one.
LOTTERY_FACTS = """
SELECT l.month, coalesce((SELECT min(f.name) FROM lottery_resources lr JOIN resources r ON r.id = lr.resource_id
                           JOIN facilities f ON f.id = r.facility_id WHERE lr.lottery_id = l.id
                          HAVING count(DISTINCT f.id) = 1), o.name) AS facility
  FROM lotteries l JOIN organizations o ON o.id = l.organization_id
 WHERE l.id = $1
"""

SESSION_FACTS = """
SELECT s.day, s.block, s.cancel_reason, o.name AS nursery
  FROM childcare_sessions s JOIN organizations o ON o.id = s.nursery_id
 WHERE s.id = $1
"""
