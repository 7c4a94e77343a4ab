-- Lotteries (抽選) for popular facility slots, with a commit–reveal seed anyone can verify.

CREATE TABLE lotteries (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id         bigint NOT NULL REFERENCES organizations (id),
    month                   date NOT NULL CHECK (extract(day FROM month) = 1),
    opens_at                timestamptz NOT NULL,
    closes_at               timestamptz NOT NULL,
    first_come_at           timestamptz NOT NULL,
    confirm_hours           integer NOT NULL CHECK (confirm_hours > 0),
    per_user_cap            integer NOT NULL CHECK (per_user_cap BETWEEN 1 AND 20),
    resident_municipality_ids integer[] NOT NULL,
    -- The seed stays secret until the draw; its SHA-256 is published at creation.
    seed                    bytea NOT NULL CHECK (length(seed) = 32),
    seed_commitment         text NOT NULL,
    drawn_at                timestamptz,
    result_digest           text,
    created_by              bigint NOT NULL REFERENCES accounts (id),
    created_at              timestamptz NOT NULL,
    CONSTRAINT lotteries_window CHECK (opens_at < closes_at AND closes_at <= first_come_at)
);

CREATE TABLE lottery_resources (
    lottery_id  bigint NOT NULL REFERENCES lotteries (id) ON DELETE CASCADE,
    resource_id bigint NOT NULL REFERENCES resources (id),
    CONSTRAINT lottery_resources_pkey PRIMARY KEY (lottery_id, resource_id)
);
CREATE INDEX lottery_resources_resource_idx ON lottery_resources (resource_id);

CREATE TABLE lottery_applications (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lottery_id  bigint NOT NULL REFERENCES lotteries (id) ON DELETE CASCADE,
    account_id  bigint NOT NULL REFERENCES accounts (id),
    pseudonym   text NOT NULL,
    resident    boolean NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX lottery_applications_lottery_idx ON lottery_applications (lottery_id, account_id);

CREATE TABLE lottery_preferences (
    application_id  bigint NOT NULL REFERENCES lottery_applications (id) ON DELETE CASCADE,
    rank            smallint NOT NULL CHECK (rank BETWEEN 1 AND 3),
    resource_id     bigint NOT NULL REFERENCES resources (id),
    during          tstzrange NOT NULL,
    CONSTRAINT lottery_preferences_pkey PRIMARY KEY (application_id, rank)
);

-- Live bookings that already stood on the lottery's resources at the draw: part of the published input.
CREATE TABLE lottery_taken (
    lottery_id  bigint NOT NULL REFERENCES lotteries (id) ON DELETE CASCADE,
    resource_id bigint NOT NULL,
    during      tstzrange NOT NULL
);

CREATE TABLE lottery_results (
    lottery_id      bigint NOT NULL REFERENCES lotteries (id) ON DELETE CASCADE,
    application_id  bigint NOT NULL REFERENCES lottery_applications (id) ON DELETE CASCADE,
    won_rank        smallint,
    booking_id      bigint REFERENCES bookings (id),
    CONSTRAINT lottery_results_pkey PRIMARY KEY (application_id)
);
