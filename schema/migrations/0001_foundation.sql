-- Foundation: reference data, accounts, organisations, sessions, idempotency, audit, outbox.
-- Times are always passed in from the application's clock (never now()), so tests can move time.

CREATE TABLE municipalities (
    id          integer PRIMARY KEY,
    name_ja     text NOT NULL UNIQUE,
    name_en     text NOT NULL UNIQUE,
    kind        text NOT NULL CHECK (kind IN ('city', 'town', 'village')),
    lat         double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon         double precision NOT NULL CHECK (lon BETWEEN -180 AND 180)
);

CREATE TABLE accounts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email           text NOT NULL,
    password_hash   text NOT NULL,
    display_name    text NOT NULL,
    locale          text NOT NULL DEFAULT 'ja' CHECK (locale IN ('ja', 'en')),
    created_at      timestamptz NOT NULL
);
-- One account per person: e-mail addresses compare case-insensitively.
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));

CREATE TABLE organizations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('municipality', 'facility_operator', 'nursery',
                        'guidance_center', 'shelter', 'fire_department', 'hospital', 'prefecture')),
    name            text NOT NULL,
    municipality_id integer REFERENCES municipalities (id),
    created_at      timestamptz NOT NULL,
    CONSTRAINT organizations_municipality_has_municipality_id
        CHECK (kind <> 'municipality' OR municipality_id IS NOT NULL)
);
CREATE INDEX organizations_municipality_idx ON organizations (municipality_id);

CREATE TABLE memberships (
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    account_id      bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('admin', 'staff', 'caseworker', 'paramedic', 'er_staff')),
    created_at      timestamptz NOT NULL,
    CONSTRAINT memberships_pkey PRIMARY KEY (organization_id, account_id, role)
);
CREATE INDEX memberships_account_idx ON memberships (account_id);

-- Opaque bearer tokens; only their SHA-256 is stored, so a database leak yields no usable token.
CREATE TABLE sessions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX sessions_account_idx ON sessions (account_id);

-- Fixed-window counters of failed logins, one row per bucket ('account:<email>', 'address:<ip>').
CREATE TABLE login_throttle (
    bucket          text PRIMARY KEY,
    window_start    timestamptz NOT NULL,
    failures        integer NOT NULL CHECK (failures >= 0)
);

-- Idempotency-Key records. A row with no response_status is in flight and leased until
-- locked_until; a crashed request's lease runs out and a retry may take it over.
CREATE TABLE idempotency_keys (
    principal           text NOT NULL,
    key                 text NOT NULL,
    request_hash        bytea NOT NULL,
    locked_until        timestamptz,
    response_status     integer,
    response_headers    jsonb,
    response_body       bytea,
    created_at          timestamptz NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Who looked at or changed personal data, and why. Written in the caller's transaction.
CREATE TABLE audit (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_account_id    bigint,
    action              text NOT NULL,
    subject_type        text NOT NULL,
    subject_id          text NOT NULL,
    reason              text,
    at                  timestamptz NOT NULL
);
CREATE INDEX audit_subject_idx ON audit (subject_type, subject_id, at);
CREATE INDEX audit_actor_idx ON audit (actor_account_id, at);

-- Events to publish, written in the same transaction as the change they describe.
CREATE TABLE outbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic       text NOT NULL,
    type        text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL
);
