"""All SQL of the push context."""

# A token belongs to one account: registering it again (another login on the phone) moves it.
UPSERT_DEVICE = """
INSERT INTO devices (account_id, platform, token, locale, created_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (token) DO UPDATE
   SET account_id = EXCLUDED.account_id, locale = EXCLUDED.locale, created_at = EXCLUDED.created_at,
       deactivated_at = NULL, deactivation_reason = NULL
RETURNING id, platform, locale, created_at
"""

# Registrations of one account are serialised, so its device count cannot be outrun by a burst.
LOCK_DEVICES_OF_ACCOUNT = "SELECT pg_advisory_xact_lock(hashtextextended('devices:' || $1::bigint::text, 0))"
# Active devices other than this token (registering a known token again adds none).
OTHER_ACTIVE_DEVICES = "SELECT count(*) FROM devices WHERE account_id = $1 AND deactivated_at IS NULL AND token <> $2"

DELETE_DEVICE = "DELETE FROM devices WHERE id = $1 AND account_id = $2"

ENSURE_CURSOR = "INSERT INTO push_cursor DEFAULT VALUES ON CONFLICT DO NOTHING"

CURSOR = "SELECT last_seq FROM push_cursor FOR UPDATE"

ADVANCE_CURSOR = "UPDATE push_cursor SET last_seq = $1"

PUBLISHED_AFTER = """
SELECT id, seq, topic, type, payload::text AS payload FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2
"""

DEVICES_OF_ACCOUNT = "SELECT id, locale FROM devices WHERE account_id = $1 AND deactivated_at IS NULL"

DEVICES_OF_ROLE = """
SELECT d.id, d.locale FROM devices d
 WHERE d.deactivated_at IS NULL
   AND d.account_id IN (SELECT account_id FROM memberships WHERE organization_id = $1 AND role = ANY($2::text[]))
"""

INSERT_DELIVERY = """
INSERT INTO push_deliveries (outbox_id, device_id, event_type, priority, ttl_seconds, collapse_id, payload, status,
                             next_attempt_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8)
ON CONFLICT (outbox_id, device_id) DO NOTHING
"""

# Claim due deliveries with a lease, so two workers never send the same one at once.
CLAIM_DUE = """
UPDATE push_deliveries p SET next_attempt_at = $2, attempts = p.attempts + 1
  FROM devices d
 WHERE d.id = p.device_id AND p.id IN (
        SELECT id FROM push_deliveries WHERE status = 'pending' AND next_attempt_at <= $1
         ORDER BY priority DESC, id LIMIT $3 FOR UPDATE SKIP LOCKED)
RETURNING p.id, p.device_id, d.token, p.event_type, p.priority, p.ttl_seconds, p.collapse_id,
          p.payload::text AS payload, p.attempts, p.created_at, p.apns_id
"""

MARK_SENT = "UPDATE push_deliveries SET status = 'sent', http_status = 200, sent_at = $2 WHERE id = $1"

MARK_FINAL = "UPDATE push_deliveries SET status = $2, http_status = $3, reason = $4 WHERE id = $1"

RETRY_LATER = "UPDATE push_deliveries SET next_attempt_at = $2, http_status = $3, reason = $4 WHERE id = $1"

DEACTIVATE_DEVICE = "UPDATE devices SET deactivated_at = $2, deactivation_reason = $3 WHERE id = $1"
