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
