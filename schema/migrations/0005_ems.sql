-- Ambulance-to-hospital patient handoff (救急搬送). Columns marked PHI are cleared by the purge
-- job after the retention period; the timing columns stay for de-identified statistics.

CREATE TABLE ems_cases (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fire_department_id  bigint NOT NULL REFERENCES organizations (id),
    opened_by           bigint NOT NULL REFERENCES accounts (id),
    opened_at           timestamptz NOT NULL,
    -- PHI
    estimated_age       integer CHECK (estimated_age BETWEEN 0 AND 130),
    sex                 text CHECK (sex IN ('male', 'female', 'unknown')),
    chief_complaint     text,
    jcs                 text CHECK (jcs IN ('0', 'I-1', 'I-2', 'I-3', 'II-10', 'II-20', 'II-30', 'III-100', 'III-200', 'III-300')),
    gcs_e               smallint CHECK (gcs_e BETWEEN 1 AND 4),
    gcs_v               smallint CHECK (gcs_v BETWEEN 1 AND 5),
    gcs_m               smallint CHECK (gcs_m BETWEEN 1 AND 6),
    allergies           text[],
    medications         text[],
    lat                 double precision,
    lon                 double precision,
    eta_minutes         integer CHECK (eta_minutes BETWEEN 0 AND 1440),
    -- timing (kept)
    first_request_at    timestamptz,
    destination_at      timestamptz,
    purged_at           timestamptz
);
CREATE INDEX ems_cases_department_idx ON ems_cases (fire_department_id, opened_at DESC);
CREATE INDEX ems_cases_purge_idx ON ems_cases (opened_at) WHERE purged_at IS NULL;

CREATE TABLE ems_vitals (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id     bigint NOT NULL REFERENCES ems_cases (id) ON DELETE CASCADE,
    taken_at    timestamptz NOT NULL,
    sbp         smallint CHECK (sbp BETWEEN 0 AND 300),
    dbp         smallint CHECK (dbp BETWEEN 0 AND 250),
    hr          smallint CHECK (hr BETWEEN 0 AND 300),
    rr          smallint CHECK (rr BETWEEN 0 AND 80),
    spo2        smallint CHECK (spo2 BETWEEN 0 AND 100),
    temp        numeric(3, 1) CHECK (temp BETWEEN 25 AND 45),
    recorded_by bigint NOT NULL REFERENCES accounts (id),
    created_at  timestamptz NOT NULL
);
CREATE INDEX ems_vitals_case_idx ON ems_vitals (case_id, taken_at);

CREATE TABLE ems_attachments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id     bigint NOT NULL REFERENCES ems_cases (id) ON DELETE CASCADE,
    media_type  text NOT NULL CHECK (media_type IN ('image/jpeg', 'image/png')),
    content     bytea NOT NULL,
    size        integer NOT NULL,
    sha256      bytea NOT NULL,
    uploaded_by bigint NOT NULL REFERENCES accounts (id),
    created_at  timestamptz NOT NULL
);
CREATE INDEX ems_attachments_case_idx ON ems_attachments (case_id);

CREATE TABLE ems_requests (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id         bigint NOT NULL REFERENCES ems_cases (id) ON DELETE CASCADE,
    hospital_id     bigint NOT NULL REFERENCES organizations (id),
    -- pending → accepted | declined; accepted → selected (the destination) | released; pending → released
    status          text NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'selected', 'released')),
    sent_at         timestamptz NOT NULL,
    responded_at    timestamptz,
    responded_by    bigint REFERENCES accounts (id),
    reason          text CHECK (reason IN ('no_beds', 'no_specialist', 'treating_another_patient', 'equipment_down', 'other')),
    reason_note     text,  -- PHI-adjacent free text: purged
    department      text,
    realerted_at    timestamptz,
    realert_count   integer NOT NULL DEFAULT 0,
    CONSTRAINT ems_requests_once_per_hospital UNIQUE (case_id, hospital_id)
);
-- One destination per case, whatever races: at most one selected request per case.
CREATE UNIQUE INDEX ems_requests_one_destination ON ems_requests (case_id) WHERE status = 'selected';
CREATE INDEX ems_requests_inbox_idx ON ems_requests (hospital_id, sent_at DESC) WHERE status IN ('pending', 'accepted');
CREATE INDEX ems_requests_unanswered_idx ON ems_requests (coalesce(realerted_at, sent_at)) WHERE status = 'pending';

-- Acceptance board: per hospital and department, with an expiry after which it reads 'unknown'.
CREATE TABLE hospital_board (
    hospital_id bigint NOT NULL REFERENCES organizations (id),
    department  text NOT NULL,
    status      text NOT NULL CHECK (status IN ('accepting', 'limited', 'not_accepting')),
    until       timestamptz NOT NULL,
    updated_by  bigint NOT NULL REFERENCES accounts (id),
    updated_at  timestamptz NOT NULL,
    CONSTRAINT hospital_board_pkey PRIMARY KEY (hospital_id, department)
);
