-- Back office (issue 17): organisations and people, shelter bed categories and cancelled
-- intake requests, hospital departments, closing ambulance cases.

-- Organisations: where they are, and whether they still operate. A deactivated organisation
-- keeps its rows (bookings, cases and audit rows refer to it) but grants nothing: every
-- query that turns memberships into access skips it.
ALTER TABLE organizations
    ADD COLUMN address              text CHECK (length(address) BETWEEN 1 AND 300),
    ADD COLUMN lat                  double precision CHECK (lat BETWEEN -90 AND 90),
    ADD COLUMN lon                  double precision CHECK (lon BETWEEN -180 AND 180),
    ADD COLUMN deactivated_at       timestamptz,
    ADD COLUMN deactivated_by       bigint REFERENCES accounts (id),
    ADD COLUMN deactivation_reason  text CHECK (length(deactivation_reason) BETWEEN 1 AND 500),
    ADD CONSTRAINT organizations_coordinates_together CHECK ((lat IS NULL) = (lon IS NULL)),
    ADD CONSTRAINT organizations_deactivation_has_reason
        CHECK ((deactivated_at IS NULL) = (deactivation_reason IS NULL));
CREATE INDEX organizations_kind_idx ON organizations (kind, id);

-- Memberships that ended (removed, or replaced by another role). The audit viewer attributes a
-- row to an organisation when its actor was a member *at the time*, so an admin can still see
-- what a person who has left read while they were staff.
CREATE TABLE past_memberships (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    account_id      bigint NOT NULL,
    role            text NOT NULL,
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz NOT NULL,
    ended_by        bigint,
    CONSTRAINT past_memberships_ordered CHECK (ended_at >= started_at)
);
CREATE INDEX past_memberships_account_idx ON past_memberships (account_id, organization_id);

-- Shelter bed categories: a label staff can rename, and retirement. A retired category takes
-- no placement and may only be retired while nobody sleeps in it.
ALTER TABLE shelter_units
    ADD COLUMN label        text CHECK (length(label) BETWEEN 1 AND 100),
    ADD COLUMN retired_at   timestamptz,
    ADD CONSTRAINT shelter_units_retired_empty CHECK (retired_at IS NULL OR occupied = 0);

-- A guidance centre may cancel an open request (the child went home, placed by other means).
ALTER TABLE intake_requests
    ADD COLUMN cancelled_at     timestamptz,
    ADD COLUMN cancelled_by     bigint REFERENCES accounts (id),
    ADD COLUMN cancel_reason    text CHECK (length(cancel_reason) BETWEEN 1 AND 500);
UPDATE intake_requests SET cancelled_at = created_at WHERE status = 'cancelled';
ALTER TABLE intake_requests
    ADD CONSTRAINT intake_requests_cancel_recorded CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL));

-- Hospital departments: the board and the answers name one of the hospital's own departments.
-- Retired departments stay (old answers refer to them) but are shown and accepted no more.
CREATE TABLE hospital_departments (
    hospital_id bigint NOT NULL REFERENCES organizations (id),
    department  text NOT NULL CHECK (department ~ '^[a-z][a-z_]{1,39}$'),
    name        text CHECK (length(name) BETWEEN 1 AND 100),
    created_at  timestamptz NOT NULL,
    retired_at  timestamptz,
    CONSTRAINT hospital_departments_pkey PRIMARY KEY (hospital_id, department)
);
INSERT INTO hospital_departments (hospital_id, department, created_at)
SELECT hospital_id, department, min(at) FROM (
    SELECT hospital_id, department, updated_at AS at FROM hospital_board
    UNION ALL
    SELECT hospital_id, department, coalesce(responded_at, sent_at) FROM ems_requests WHERE department IS NOT NULL
) AS used
GROUP BY hospital_id, department;
ALTER TABLE hospital_board
    ADD CONSTRAINT hospital_board_department_fkey
        FOREIGN KEY (hospital_id, department) REFERENCES hospital_departments (hospital_id, department);
ALTER TABLE ems_requests
    ADD CONSTRAINT ems_requests_department_fkey
        FOREIGN KEY (hospital_id, department) REFERENCES hospital_departments (hospital_id, department);

-- Closing an ambulance case: handed over at the destination, or not transported (refused,
-- treated on scene, died), with a reason. The reason is free text about the patient: purged
-- with the rest of the PHI.
ALTER TABLE ems_cases
    ADD COLUMN closed_at    timestamptz,
    ADD COLUMN closed_by    bigint REFERENCES accounts (id),
    ADD COLUMN outcome      text CHECK (outcome IN ('handed_over', 'not_transported')),
    ADD COLUMN close_reason text CHECK (length(close_reason) BETWEEN 1 AND 500),
    ADD CONSTRAINT ems_cases_close_recorded CHECK ((closed_at IS NULL) = (outcome IS NULL)),
    ADD CONSTRAINT ems_cases_handed_over_has_destination
        CHECK (outcome IS DISTINCT FROM 'handed_over' OR destination_at IS NOT NULL),
    ADD CONSTRAINT ems_cases_not_transported_has_reason
        CHECK (outcome IS DISTINCT FROM 'not_transported' OR close_reason IS NOT NULL OR purged_at IS NOT NULL);

-- A closed case has no open request, and none can be opened on it: the same two-sided lock
-- argument as ems_requests_closed_after_destination (migration 0011).
CREATE FUNCTION ems_request_open_needs_open_case() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT closed_at FROM ems_cases WHERE id = NEW.case_id FOR SHARE) IS NOT NULL THEN
        RAISE EXCEPTION 'case % is closed; request to hospital % cannot be open', NEW.case_id, NEW.hospital_id
              USING ERRCODE = 'check_violation', CONSTRAINT = 'ems_requests_none_open_after_close',
                    TABLE = 'ems_requests';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER ems_requests_none_open_after_close_on_insert
    BEFORE INSERT ON ems_requests
    FOR EACH ROW WHEN (NEW.status IN ('pending', 'accepted'))
    EXECUTE FUNCTION ems_request_open_needs_open_case();

CREATE TRIGGER ems_requests_none_open_after_close_on_update
    BEFORE UPDATE OF status ON ems_requests
    FOR EACH ROW WHEN (NEW.status IN ('pending', 'accepted') AND NEW.status IS DISTINCT FROM OLD.status)
    EXECUTE FUNCTION ems_request_open_needs_open_case();

CREATE FUNCTION ems_close_needs_no_open_request() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM ems_requests WHERE case_id = NEW.id AND status IN ('pending', 'accepted')) THEN
        RAISE EXCEPTION 'case % still has open requests; release them before closing it', NEW.id
              USING ERRCODE = 'check_violation', CONSTRAINT = 'ems_requests_none_open_after_close',
                    TABLE = 'ems_cases';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER ems_cases_close_releases_requests
    BEFORE UPDATE OF closed_at ON ems_cases
    FOR EACH ROW WHEN (NEW.closed_at IS NOT NULL)
    EXECUTE FUNCTION ems_close_needs_no_open_request();
