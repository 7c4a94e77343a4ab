-- Invitations replace granting a role by typing an address; sessions say where and when they
-- were used; accounts carry notification preferences and can be erased.

CREATE TABLE invitations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           text NOT NULL,
    role            text NOT NULL CHECK (role IN ('admin', 'staff', 'caseworker', 'paramedic', 'er_staff')),
    -- The mailed link's token; only its SHA-256 is kept.
    token_hash      bytea NOT NULL UNIQUE,
    invited_by      bigint REFERENCES accounts (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    accepted_at     timestamptz,
    accepted_by     bigint REFERENCES accounts (id) ON DELETE SET NULL,
    revoked_at      timestamptz,
    CONSTRAINT invitations_expire_after_creation CHECK (expires_at > created_at),
    CONSTRAINT invitations_accepted_or_revoked CHECK (accepted_at IS NULL OR revoked_at IS NULL),
    CONSTRAINT invitations_accepted_by_someone CHECK ((accepted_at IS NULL) = (accepted_by IS NULL))
);
-- One open invitation per person and role in an organisation (inviting again replaces it).
CREATE UNIQUE INDEX invitations_one_pending ON invitations (organization_id, lower(email), role)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;

ALTER TABLE sessions ADD COLUMN last_used_at timestamptz;
ALTER TABLE sessions ADD COLUMN user_agent text CHECK (length(user_agent) <= 200);

-- Per kind of notice and channel: {"push": {...}, "email": {"booking": false}}; absent = on.
ALTER TABLE accounts ADD COLUMN notification_prefs jsonb NOT NULL DEFAULT '{}';
-- An erased account keeps its id (audit rows and anonymised statistics name it) and nothing else.
ALTER TABLE accounts ADD COLUMN deleted_at timestamptz;
