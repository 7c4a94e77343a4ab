-- Public-facility booking: facilities, bookable resources, bookings, waitlist.
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Where a person lives decides resident fees and lottery priority (self-declared; checked at the counter).
ALTER TABLE accounts ADD COLUMN municipality_id integer REFERENCES municipalities (id);

CREATE TABLE facilities (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id),
    municipality_id integer NOT NULL REFERENCES municipalities (id),
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('gym', 'court', 'meeting_room', 'pool', 'field', 'hall', 'studio', 'other')),
    address         text NOT NULL,
    lat             double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon             double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    created_at      timestamptz NOT NULL
);
CREATE INDEX facilities_search_idx ON facilities (kind, municipality_id);
CREATE INDEX facilities_organization_idx ON facilities (organization_id);

CREATE TABLE resources (
    id                          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    facility_id                 bigint NOT NULL REFERENCES facilities (id),
    name                        text NOT NULL,
    unit_minutes                integer NOT NULL CHECK (unit_minutes BETWEEN 15 AND 480 AND unit_minutes % 15 = 0),
    opens_at                    time NOT NULL,
    closes_at                   time NOT NULL,
    fee_per_unit                integer NOT NULL CHECK (fee_per_unit >= 0),            -- yen, residents
    non_resident_fee_per_unit   integer CHECK (non_resident_fee_per_unit >= 0),        -- null: same as residents
    cancel_deadline_hours       integer NOT NULL CHECK (cancel_deadline_hours >= 0),
    payment_deadline_hours      integer NOT NULL CHECK (payment_deadline_hours > 0),
    pay_at_counter              boolean NOT NULL DEFAULT false,
    max_bookings_per_month      integer CHECK (max_bookings_per_month > 0),           -- per user; null: no cap
    waitlist_hold_minutes       integer NOT NULL CHECK (waitlist_hold_minutes > 0),
    lottery_only                boolean NOT NULL DEFAULT false,
    created_at                  timestamptz NOT NULL,
    CONSTRAINT resources_hours CHECK (closes_at > opens_at)
);
CREATE INDEX resources_facility_idx ON resources (facility_id);

-- 減免: fee reductions by category, in percent.
CREATE TABLE fee_reductions (
    resource_id bigint NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    category    text NOT NULL,
    percent     integer NOT NULL CHECK (percent BETWEEN 1 AND 100),
    PRIMARY KEY (resource_id, category)
);

CREATE TABLE bookings (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resource_id     bigint NOT NULL REFERENCES resources (id),
    account_id      bigint NOT NULL REFERENCES accounts (id),
    during          tstzrange NOT NULL CHECK (NOT isempty(during) AND lower_inc(during) AND NOT upper_inc(during)),
    -- held: a freed slot kept for a waiter until hold_until; provisional: to be paid by pay_by (仮予約);
    -- confirmed: 本予約; cancelled by a person; released by the system (unpaid, hold not taken).
    status          text NOT NULL CHECK (status IN ('held', 'provisional', 'confirmed', 'cancelled', 'released')),
    fee             integer NOT NULL CHECK (fee >= 0),
    reduction       text,
    pay_by          timestamptz,
    hold_until      timestamptz,
    created_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    end_reason      text,
    ended_by        bigint,
    CONSTRAINT bookings_deadline_for_status CHECK (
        (status <> 'provisional' OR pay_by IS NOT NULL) AND (status <> 'held' OR hold_until IS NOT NULL)),
    -- No double booking, whatever races in Python: live bookings of a resource never overlap.
    CONSTRAINT bookings_no_overlap EXCLUDE USING gist (resource_id WITH =, during WITH &&)
        WHERE (status IN ('held', 'provisional', 'confirmed'))
);
CREATE INDEX bookings_account_idx ON bookings (account_id, lower(during) DESC);
CREATE INDEX bookings_expiring_idx ON bookings (coalesce(pay_by, hold_until))
    WHERE status IN ('provisional', 'held');

CREATE TABLE waitlist_entries (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resource_id bigint NOT NULL REFERENCES resources (id),
    account_id  bigint NOT NULL REFERENCES accounts (id),
    during      tstzrange NOT NULL,
    status      text NOT NULL CHECK (status IN ('waiting', 'offered', 'booked', 'expired', 'cancelled')),
    offered_booking_id bigint REFERENCES bookings (id),
    created_at  timestamptz NOT NULL
);
-- One place in the queue per person and slot.
CREATE UNIQUE INDEX waitlist_entries_once_idx ON waitlist_entries (resource_id, account_id, during)
    WHERE status IN ('waiting', 'offered');
CREATE INDEX waitlist_entries_queue_idx ON waitlist_entries (resource_id, created_at, id) WHERE status = 'waiting';
