-- A reduction (減免) is a claim the resident makes about themselves (a disability card, a child's
-- group); facility staff check it before the booking becomes final. Until then the booking stays
-- provisional, and its payment deadline releases it if nobody approves.
ALTER TABLE bookings
    ADD COLUMN reduction_approved_at timestamptz,
    ADD COLUMN reduction_approved_by bigint REFERENCES accounts (id);

-- The database refuses a confirmed booking with an unapproved reduction, whichever path confirms it.
-- NOT VALID: rows confirmed before this rule existed stay as they were; every new write is checked.
ALTER TABLE bookings
    ADD CONSTRAINT bookings_reduction_approved_before_confirmed
    CHECK (status <> 'confirmed' OR reduction IS NULL OR reduction_approved_at IS NOT NULL) NOT VALID;
