-- Nursery back office (issue 17, "Nurseries"): staff cancel a session, record arrivals.
--
-- A cancelled session keeps its row (parents' reservations point at it) but can take no child:
-- its places are closed and empty, and a closed place refuses the conditional UPDATE that takes
-- one. The flag sits on the places row, not only on the session, because a reservation racing
-- the cancellation re-reads that row after waiting for its lock, so it sees the closure.

ALTER TABLE childcare_sessions
    ADD COLUMN cancelled_at timestamptz,
    ADD COLUMN cancelled_by bigint REFERENCES accounts (id),
    ADD COLUMN cancel_reason text CHECK (length(cancel_reason) BETWEEN 1 AND 500),
    ADD CONSTRAINT childcare_sessions_cancel_recorded CHECK (
        (cancelled_at IS NULL) = (cancelled_by IS NULL) AND (cancelled_at IS NULL) = (cancel_reason IS NULL)
    );

ALTER TABLE childcare_places
    ADD COLUMN closed boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT childcare_places_closed_are_empty CHECK (NOT closed OR used = 0);

-- Arrival is a fact about a reserved place, not a new state: the child still holds the place, so
-- the one-live-place index and the capacity counter keep counting it.
ALTER TABLE childcare_reservations
    ADD COLUMN arrived_at timestamptz,
    ADD CONSTRAINT childcare_reservations_arrival_of_reserved CHECK (arrived_at IS NULL OR status = 'reserved');

-- The roster of a nursery's day and the session list by date range read by (nursery, day).
CREATE INDEX childcare_sessions_nursery_day_idx ON childcare_sessions (nursery_id, day, id);
CREATE INDEX childcare_reservations_session_idx ON childcare_reservations (session_id) WHERE status IN ('held', 'reserved', 'no_show');
