-- Mail: an outbox of rendered messages written in the transaction of the change they tell of,
-- sent by `musubi mail-worker`; and single-use account tokens (e-mail verification, password
-- reset) of which only the SHA-256 is kept.

CREATE TABLE email_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Null for mail to an address with no account yet (an invitation); set null when the account is erased.
    account_id      bigint REFERENCES accounts (id) ON DELETE SET NULL,
    to_address      text NOT NULL,
    kind            text NOT NULL,
    locale          text NOT NULL CHECK (locale IN ('ja', 'en')),
    subject         text NOT NULL,
    -- Emptied once sent: the link's token then exists in clear only in the recipient's mailbox.
    body_text       text NOT NULL,
    body_html       text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL,
    -- A worker that claimed the row owns it until then; a crashed worker's claim runs out.
    locked_until    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz,
    CONSTRAINT email_outbox_sent_has_time CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX email_outbox_account_idx ON email_outbox (account_id);

-- An account's address is trusted only once a link mailed to it was followed.
ALTER TABLE accounts ADD COLUMN email_verified_at timestamptz;

CREATE TABLE account_tokens (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    token_hash  bytea NOT NULL UNIQUE,
    -- The address the link was sent to: verifying proves this address, not whatever the account holds later.
    email       text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    CONSTRAINT account_tokens_expire_after_creation CHECK (expires_at > created_at)
);
CREATE INDEX account_tokens_account_idx ON account_tokens (account_id, purpose) WHERE used_at IS NULL;
