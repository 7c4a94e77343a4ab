-- E-mail notices and verified residency.
--
-- Notices: the mail notifier reads the event outbox after its own cursor (as the push worker does)
-- and queues one message per notice in email_outbox; a provisional booking is reminded of its
-- payment deadline once, the day before.
--
-- Residency: an account declares its municipality; that municipality's staff verify or decline
-- it. Only a verified residency gives the resident fee, the resident booking horizon, the
-- lottery's resident tier and the municipality's childcare quota. accounts.municipality_id was
-- set by hand at the counter; those values are carried over as verified, and nothing reads the
-- column any more (it stays only so that code in flight still finds it; it is never written).

CREATE TABLE mail_notice_cursor (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    last_seq    bigint NOT NULL DEFAULT 0
);
INSERT INTO mail_notice_cursor (last_seq) SELECT coalesce(max(seq), 0) FROM outbox;

ALTER TABLE bookings ADD COLUMN payment_reminded_at timestamptz;
CREATE INDEX bookings_payment_due_idx ON bookings (pay_by)
    WHERE status = 'provisional' AND payment_reminded_at IS NULL;
