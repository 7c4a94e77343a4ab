-- Temporary childcare (一時預かり保育): sessions with places per age band, child profiles,
-- per-nursery approval, reservations, waitlist holds, monthly hour quotas.

CREATE TABLE childcare_sessions (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    nursery_id              bigint NOT NULL REFERENCES organizations (id),
    day                     date NOT NULL,
    block                   text NOT NULL CHECK (block IN ('morning', 'afternoon', 'full_day')),
    cancel_deadline_hours   integer NOT NULL DEFAULT 24 CHECK (cancel_deadline_hours >= 0),
    created_at              timestamptz NOT NULL,
    CONSTRAINT childcare_sessions_once UNIQUE (nursery_id, day, block)
);
CREATE INDEX childcare_sessions_day_idx ON childcare_sessions (day, nursery_id);

CREATE TABLE childcare_places (
    session_id  bigint NOT NULL REFERENCES childcare_sessions (id) ON DELETE CASCADE,
    band        text NOT NULL CHECK (band IN ('0', '1-2', '3-5')),
    capacity    integer NOT NULL CHECK (capacity BETWEEN 0 AND 200),
    used        integer NOT NULL DEFAULT 0 CHECK (used >= 0),
    CONSTRAINT childcare_places_pkey PRIMARY KEY (session_id, band),
    -- Never more children than places, whoever races: places are taken with a conditional UPDATE.
    CONSTRAINT childcare_places_within_capacity CHECK (used <= capacity)
);

CREATE TABLE children (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id       bigint NOT NULL REFERENCES accounts (id),
    name            text NOT NULL,
    birth_date      date NOT NULL,
    allergies       text[] NOT NULL,
    notes           text NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX children_parent_idx ON children (parent_id);

-- 面談 done: the nursery knows this child and may take reservations for it.
CREATE TABLE child_approvals (
    child_id    bigint NOT NULL REFERENCES children (id) ON DELETE CASCADE,
    nursery_id  bigint NOT NULL REFERENCES organizations (id),
    approved_by bigint NOT NULL REFERENCES accounts (id),
    approved_at timestamptz NOT NULL,
    CONSTRAINT child_approvals_pkey PRIMARY KEY (child_id, nursery_id)
);

CREATE TABLE childcare_reservations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id      bigint NOT NULL REFERENCES childcare_sessions (id),
    child_id        bigint NOT NULL REFERENCES children (id),
    band            text NOT NULL,
    hours           integer NOT NULL CHECK (hours > 0),
    -- held: kept for a waiter until hold_until; reserved; cancelled; released (hold not taken); no_show.
    status          text NOT NULL CHECK (status IN ('held', 'reserved', 'cancelled', 'released', 'no_show')),
    hold_until      timestamptz,
    created_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    reminded_at     timestamptz
);
-- A child holds at most one live place in a session.
CREATE UNIQUE INDEX childcare_reservations_once ON childcare_reservations (session_id, child_id)
    WHERE status IN ('held', 'reserved');
CREATE INDEX childcare_reservations_child_idx ON childcare_reservations (child_id, created_at DESC);
CREATE INDEX childcare_reservations_holds_idx ON childcare_reservations (hold_until) WHERE status = 'held';

CREATE TABLE childcare_waitlist (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id  bigint NOT NULL REFERENCES childcare_sessions (id),
    child_id    bigint NOT NULL REFERENCES children (id),
    band        text NOT NULL,
    status      text NOT NULL CHECK (status IN ('waiting', 'offered', 'booked', 'expired')),
    reservation_id bigint REFERENCES childcare_reservations (id),
    created_at  timestamptz NOT NULL
);
CREATE UNIQUE INDEX childcare_waitlist_once ON childcare_waitlist (session_id, child_id) WHERE status IN ('waiting', 'offered');

-- Monthly hours a child may use, set by each municipality; usage counted per child and month.
CREATE TABLE childcare_quotas (
    municipality_id integer PRIMARY KEY REFERENCES municipalities (id),
    monthly_hours   integer NOT NULL CHECK (monthly_hours BETWEEN 0 AND 744),
    updated_at      timestamptz NOT NULL
);
CREATE TABLE childcare_hours_used (
    child_id    bigint NOT NULL REFERENCES children (id) ON DELETE CASCADE,
    month       date NOT NULL,
    hours       integer NOT NULL CHECK (hours >= 0),
    CONSTRAINT childcare_hours_used_pkey PRIMARY KEY (child_id, month)
);
