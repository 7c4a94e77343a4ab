-- The meeting (面談) a nursery proposes to a parent before the child's first stay (issue 23).
--
-- The time sits on the application itself: it is the nursery's answer in progress, it is shown
-- to the parent with the application, and it is set only while the application is pending (or
-- with the approval that answers it). Who set it is kept beside it, as for every decision on an
-- application.

ALTER TABLE child_applications
    ADD COLUMN meeting_at timestamptz,
    ADD COLUMN meeting_set_by bigint REFERENCES accounts (id),
    ADD CONSTRAINT child_applications_meeting_recorded CHECK ((meeting_at IS NULL) = (meeting_set_by IS NULL)),
    -- A meeting about an application can not be held before the parent asked for it.
    ADD CONSTRAINT child_applications_meeting_after_applying CHECK (meeting_at IS NULL OR meeting_at > applied_at);
