-- Sending a case to hospitals and a hospital's answer, each in one statement (issue 16: the other
-- commands people rush on; in a mass-casualty incident every ambulance sends at once). Each function
-- is its own transaction and keeps the order of locks every change of a case keeps: the case first,
-- then its requests.

-- send_ems_requests: the case's crew asks the hospitals `p_hospitals` (distinct, in order) to take the
-- patient. outcome 'sent' with one row per request of the case to those hospitals (new or sent
-- before); or, with nothing written: 'not-found' (no such case, or not this crew's), 'destination-set',
-- 'case-closed', or 'unknown-hospital' with one row per id that is not an active hospital.
CREATE FUNCTION send_ems_requests(
    p_case      bigint,
    -- The fire departments the caller is a paramedic of: only a case of theirs is found.
    p_crews     bigint[],
    p_account   bigint,
    p_hospitals bigint[],
    p_now       timestamptz,
    -- One outbox event per hospital, in the order of p_hospitals; "requestId" gets the new request's
    -- id, and a hospital already asked gets no second event.
    p_topics    text[],
    p_types     text[],
    p_payloads  jsonb[]
) RETURNS TABLE (
    outcome         text,
    request_id      bigint,
    hospital_id     bigint,
    status          text,
    sent_at         timestamptz,
    responded_at    timestamptz,
    reason          text,
    department      text
)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    the_case    ems_cases%ROWTYPE;
BEGIN
    -- 1. The case, locked as every change of it is (CASE_FOR_UPDATE), and only for its crew.
    SELECT * INTO the_case FROM ems_cases c WHERE c.id = p_case AND c.fire_department_id = ANY(p_crews) FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'not-found';
        RETURN NEXT;
        RETURN;
    END IF;
    IF the_case.destination_at IS NOT NULL THEN
        outcome := 'destination-set';
        RETURN NEXT;
        RETURN;
    END IF;
    IF the_case.closed_at IS NOT NULL THEN
        outcome := 'case-closed';
        RETURN NEXT;
        RETURN;
    END IF;

    -- 2. Every id an active hospital; the others named, and nothing written.
    RETURN QUERY
    SELECT 'unknown-hospital'::text, NULL::bigint, h.id, NULL::text, NULL::timestamptz, NULL::timestamptz,
           NULL::text, NULL::text
      FROM unnest(p_hospitals) AS h(id)
     WHERE NOT EXISTS (SELECT 1 FROM organizations o
                        WHERE o.id = h.id AND o.kind = 'hospital' AND o.deactivated_at IS NULL);
    IF FOUND THEN
        RETURN;
    END IF;

    -- 3. The audit row (as the service's _authorize writes it for the crew).
    INSERT INTO audit (actor_account_id, action, subject_type, subject_id, reason, at)
    VALUES (p_account, 'ems.requests.send', 'ems_case', p_case::text, 'crew of the case', p_now);

    -- 4. The requests not sent before, each with its event, and the case's first request time.
    WITH sent AS (
        INSERT INTO ems_requests (case_id, hospital_id, status, sent_at)
        SELECT p_case, h.id, 'pending', p_now FROM unnest(p_hospitals) AS h(id)
        ON CONFLICT (case_id, hospital_id) DO NOTHING
        RETURNING ems_requests.id, ems_requests.hospital_id
    )
    INSERT INTO outbox (topic, type, payload, created_at)
    SELECT e.topic, e.type, e.payload || jsonb_build_object('requestId', sent.id), p_now
      FROM sent
      JOIN unnest(p_hospitals, p_topics, p_types, p_payloads) AS e(hospital_id, topic, type, payload)
        ON e.hospital_id = sent.hospital_id;
    UPDATE ems_cases c SET first_request_at = coalesce(c.first_request_at, p_now) WHERE c.id = p_case;

    -- 5. The case's requests to these hospitals, as the API shows them (REQUESTS).
    RETURN QUERY
    SELECT 'sent'::text, r.id, r.hospital_id, r.status, r.sent_at, r.responded_at, r.reason, r.department
      FROM ems_requests r
     WHERE r.case_id = p_case AND r.hospital_id = ANY(p_hospitals)
     ORDER BY r.id;
END
$$;

-- answer_ems_request: an ER's answer to a pending request, whose case and hospital the service has
-- read (a request never changes either) and whose event it has named. outcome 'answered' with the
-- request; or, with nothing written: 'not-found', 'request-not-open' (with its status) or
-- 'unknown-department'. `p_reason` is the decline's reason, and the audit row's whatever the answer.
CREATE FUNCTION answer_ems_request(
    p_request       bigint,
    p_case          bigint,
    p_status        text,
    p_account       bigint,
    p_reason        text,
    p_note          text,
    p_department    text,
    p_now           timestamptz,
    -- The outbox events of the answer.
    p_topics        text[],
    p_types         text[],
    p_payloads      jsonb[]
) RETURNS TABLE (
    outcome         text,
    request_id      bigint,
    hospital_id     bigint,
    status          text,
    sent_at         timestamptz,
    responded_at    timestamptz,
    reason          text,
    department      text
)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    the_request ems_requests%ROWTYPE;
BEGIN
    -- 1. The case first, as every change of the case does, then the request.
    PERFORM 1 FROM ems_cases c WHERE c.id = p_case FOR UPDATE;
    SELECT * INTO the_request FROM ems_requests r WHERE r.id = p_request FOR UPDATE;
    IF NOT FOUND THEN  -- requests are never deleted but with their case
        outcome := 'not-found';
        RETURN NEXT;
        RETURN;
    END IF;
    IF the_request.status <> 'pending' THEN
        outcome := 'request-not-open';
        status := the_request.status;
        RETURN NEXT;
        RETURN;
    END IF;

    -- 2. An accepting department is one of the hospital's, not retired meanwhile (ACTIVE_DEPARTMENT).
    IF p_department IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM hospital_departments d
         WHERE d.hospital_id = the_request.hospital_id AND d.department = p_department AND d.retired_at IS NULL
           FOR SHARE) THEN
        outcome := 'unknown-department';
        RETURN NEXT;
        RETURN;
    END IF;

    -- 3. The answer, its audit row and its event.
    UPDATE ems_requests r
       SET status = p_status, responded_at = p_now, responded_by = p_account,
           reason = CASE WHEN p_status = 'declined' THEN p_reason END, reason_note = p_note, department = p_department
     WHERE r.id = p_request;
    INSERT INTO audit (actor_account_id, action, subject_type, subject_id, reason, at)
    VALUES (p_account, 'ems.request.' || p_status, 'ems_case', p_case::text, p_reason, p_now);
    INSERT INTO outbox (topic, type, payload, created_at)
    SELECT e.topic, e.type, e.payload, p_now FROM unnest(p_topics, p_types, p_payloads) AS e(topic, type, payload);

    RETURN QUERY
    SELECT 'answered'::text, r.id, r.hospital_id, r.status, r.sent_at, r.responded_at, r.reason, r.department
      FROM ems_requests r
     WHERE r.id = p_request;
END
$$;
