-- Consent before visibility (issue 15, items 1 and 7).
--
-- 1. A nursery sees a child only after the parent applied to it. An approval (面談 done) now
--    answers an application: every child_approvals row references an application of the same
--    child to the same nursery whose status is 'approved', and that status can not change while
--    the approval exists. A nursery staff member can therefore no longer make an arbitrary child
--    visible to their nursery, whatever the application code does.
-- 2. After discharge, the shelter's access to the child's identity ends at a moment fixed when
--    the child leaves (placements.identity_access_until), so the audit trail shows when it ended
--    even if the setting is later changed.

CREATE TABLE child_applications (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    child_id        bigint NOT NULL REFERENCES children (id) ON DELETE CASCADE,
    nursery_id      bigint NOT NULL REFERENCES organizations (id),
    -- pending → approved | declined (by the nursery) | withdrawn (by the parent).
    status          text NOT NULL CHECK (status IN ('pending', 'approved', 'declined', 'withdrawn')),
    applied_by      bigint NOT NULL REFERENCES accounts (id),
    applied_at      timestamptz NOT NULL,
    decided_by      bigint REFERENCES accounts (id),
    decided_at      timestamptz,
    decline_reason  text CHECK (length(decline_reason) BETWEEN 1 AND 500),
    CONSTRAINT child_applications_decided CHECK ((status = 'pending') = (decided_at IS NULL)),
    CONSTRAINT child_applications_decline_has_reason CHECK ((status = 'declined') = (decline_reason IS NOT NULL)),
    -- The target of child_approvals' foreign key: an approval names the application, its child,
    -- its nursery and its 'approved' status, so none of them can disagree.
    CONSTRAINT child_applications_answerable UNIQUE (id, child_id, nursery_id, status)
);
-- One open application per child and nursery; after a decline or withdrawal the parent may apply again.
CREATE UNIQUE INDEX child_applications_one_pending ON child_applications (child_id, nursery_id)
    WHERE status = 'pending';
CREATE INDEX child_applications_nursery_pending_idx ON child_applications (nursery_id, id) WHERE status = 'pending';
CREATE INDEX child_applications_child_idx ON child_applications (child_id, id);

-- Approvals made before applications existed could have been made for any child (the hole this
-- migration closes). Keep those the parent has shown consent to by reserving a place at that
-- nursery, as applications approved at the approval's time; drop the others: the parent applies
-- again if they want that nursery. The dropped approvals stay on record in the audit table.
DELETE FROM child_approvals a
 WHERE NOT EXISTS (
    SELECT 1 FROM childcare_reservations r JOIN childcare_sessions s ON s.id = r.session_id
     WHERE r.child_id = a.child_id AND s.nursery_id = a.nursery_id
 );

ALTER TABLE child_approvals
    ADD COLUMN application_id bigint,
    ADD COLUMN application_status text NOT NULL DEFAULT 'approved'
        CONSTRAINT child_approvals_answer_an_approved_application CHECK (application_status = 'approved');

WITH legacy AS (
    INSERT INTO child_applications (child_id, nursery_id, status, applied_by, applied_at, decided_by, decided_at)
    SELECT a.child_id, a.nursery_id, 'approved', c.parent_id, a.approved_at, a.approved_by, a.approved_at
      FROM child_approvals a JOIN children c ON c.id = a.child_id
    RETURNING id, child_id, nursery_id
)
UPDATE child_approvals a SET application_id = legacy.id
  FROM legacy WHERE legacy.child_id = a.child_id AND legacy.nursery_id = a.nursery_id;

ALTER TABLE child_approvals
    ALTER COLUMN application_id SET NOT NULL,
    ADD CONSTRAINT child_approvals_application_fkey
        FOREIGN KEY (application_id, child_id, nursery_id, application_status)
        REFERENCES child_applications (id, child_id, nursery_id, status) ON DELETE CASCADE,
    ADD CONSTRAINT child_approvals_application_once UNIQUE (application_id);

-- Shelter identity access after discharge.
ALTER TABLE placements ADD COLUMN identity_access_until timestamptz;
UPDATE placements SET identity_access_until = discharged_at + interval '30 days' WHERE discharged_at IS NOT NULL;
ALTER TABLE placements
    ADD CONSTRAINT placements_identity_access_ends_after_discharge CHECK (
        (discharged_at IS NULL) = (identity_access_until IS NULL) AND identity_access_until >= discharged_at
    );
