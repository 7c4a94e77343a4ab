-- Push notifications (APNs): device tokens, and one delivery row per (event, device).

CREATE TABLE devices (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id          bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    platform            text NOT NULL CHECK (platform IN ('ios')),
    -- A token belongs to one account: registering it again moves it.
    token               text NOT NULL UNIQUE,
    locale              text NOT NULL CHECK (locale IN ('ja', 'en')),
    created_at          timestamptz NOT NULL,
    deactivated_at      timestamptz,
    deactivation_reason text
);
CREATE INDEX devices_account_idx ON devices (account_id) WHERE deactivated_at IS NULL;

CREATE TABLE push_deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id       bigint NOT NULL,
    device_id       bigint NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    event_type      text NOT NULL,
    priority        smallint NOT NULL CHECK (priority IN (5, 10)),
    ttl_seconds     integer NOT NULL,
    collapse_id     text,
    payload         jsonb NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'unregistered')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    http_status     integer,
    reason          text,
    -- Chosen when planned and sent with every attempt, so Apple and our records name one notification.
    apns_id         text NOT NULL DEFAULT gen_random_uuid()::text,
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz,
    CONSTRAINT push_deliveries_once UNIQUE (outbox_id, device_id)
);
CREATE INDEX push_deliveries_due_idx ON push_deliveries (next_attempt_at) WHERE status = 'pending';

-- How far the push planner has read the published outbox (by event id).
CREATE TABLE push_cursor (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    last_seq    bigint NOT NULL DEFAULT 0
);
INSERT INTO push_cursor DEFAULT VALUES;
