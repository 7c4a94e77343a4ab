-- Replays are requests: a handler whose answer carries sealed personal data (a placed child's
-- identity) has only its status and a reference to the resource kept; a replay re-reads that
-- resource through its normal, access-checked and audited GET. Such a row never has a body.
ALTER TABLE idempotency_keys ADD COLUMN response_ref text;
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_ref_or_body
    CHECK (response_ref IS NULL OR response_body IS NULL);
