-- Child-protection shelter intake (一時保護). The child's identity exists only in
-- placements.identity_ciphertext (AES-GCM); requests carry no name.

CREATE TABLE shelter_units (
    shelter_id  bigint NOT NULL REFERENCES organizations (id),
    category    text NOT NULL CHECK (category ~ '^((0-5|6-12|13-17):(any|female|male)|special)$'),
    capacity    integer NOT NULL CHECK (capacity BETWEEN 0 AND 500),
    occupied    integer NOT NULL DEFAULT 0 CHECK (occupied >= 0),
    updated_at  timestamptz NOT NULL,
    CONSTRAINT shelter_units_pkey PRIMARY KEY (shelter_id, category),
    -- Capacity is never exceeded, whoever races: beds are taken with a conditional UPDATE.
    CONSTRAINT shelter_units_within_capacity CHECK (occupied <= capacity)
);

CREATE TABLE intake_requests (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guidance_center_id  bigint NOT NULL REFERENCES organizations (id),
    created_by          bigint NOT NULL REFERENCES accounts (id),
    created_at          timestamptz NOT NULL,
    age_years           integer NOT NULL CHECK (age_years BETWEEN 0 AND 17),
    sex                 text NOT NULL CHECK (sex IN ('female', 'male', 'other')),
    category            text NOT NULL,
    needs               text[] NOT NULL,
    urgency             text NOT NULL CHECK (urgency IN ('emergency', 'urgent', 'planned')),
    status              text NOT NULL CHECK (status IN ('open', 'placed', 'cancelled')),
    placed_at           timestamptz
);
CREATE INDEX intake_requests_center_idx ON intake_requests (guidance_center_id, created_at DESC);

CREATE TABLE intake_targets (
    request_id      bigint NOT NULL REFERENCES intake_requests (id) ON DELETE CASCADE,
    shelter_id      bigint NOT NULL REFERENCES organizations (id),
    status          text NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'placed', 'closed')),
    responded_at    timestamptz,
    responded_by    bigint REFERENCES accounts (id),
    reason          text,
    CONSTRAINT intake_targets_pkey PRIMARY KEY (request_id, shelter_id)
);
CREATE INDEX intake_targets_shelter_idx ON intake_targets (shelter_id, request_id DESC);

CREATE TABLE placements (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id          bigint NOT NULL REFERENCES intake_requests (id),
    shelter_id          bigint NOT NULL REFERENCES organizations (id),
    category            text NOT NULL,
    placed_by           bigint NOT NULL REFERENCES accounts (id),
    placed_at           timestamptz NOT NULL,
    discharged_at       timestamptz,
    discharged_by       bigint REFERENCES accounts (id),
    -- AES-256-GCM of the identity JSON; associated data binds it to this request.
    identity_key_id     text NOT NULL,
    identity_nonce      bytea NOT NULL CHECK (length(identity_nonce) = 12),
    identity_ciphertext bytea NOT NULL
);
-- One placement per intake request.
CREATE UNIQUE INDEX placements_one_per_request ON placements (request_id);
CREATE INDEX placements_shelter_idx ON placements (shelter_id) WHERE discharged_at IS NULL;
