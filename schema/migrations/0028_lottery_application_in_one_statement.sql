-- A lottery application in one statement (issue 16: the other commands people rush on). The service
-- reads the lottery, its resources' hours and the applicant's applications and residency once
-- (APPLICATION_CHECKS), answers what it can on that read (no such lottery, not open, preferences that
-- do not fit, the cap) and then apply_to_lottery writes the application and its preferences in one
-- statement, which is its own transaction, after checking again what may have changed since.
--
-- Applicants no longer queue behind each other: an application shares the lottery row's lock
-- (FOR SHARE) instead of taking it whole (FOR UPDATE, which serialised every applicant of a lottery);
-- the draw still takes it whole, so no application slips in while it runs, and one waiting for it
-- finds it drawn. The per-person cap is kept by a lock on the (lottery, person) pair alone.

-- outcome: 'applied' (with the application's id); 'lottery-not-open' or 'cap-reached' (nothing written).
CREATE FUNCTION apply_to_lottery(
    p_lottery   bigint,
    p_account   bigint,
    p_pseudonym text,
    p_resident  boolean,
    p_now       timestamptz,
    -- The preferences, rank by rank.
    p_ranks     smallint[],
    p_resources bigint[],
    p_starts    timestamptz[],
    p_ends      timestamptz[]
) RETURNS TABLE (outcome text, id bigint)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    cap             integer;
    application_id  bigint;
BEGIN
    -- 1. The lottery still takes applications; a draw under way is waited for, and then it has been drawn.
    SELECT l.per_user_cap INTO cap FROM lotteries l
     WHERE l.id = p_lottery AND l.opens_at <= p_now AND p_now < l.closes_at
       AND l.drawn_at IS NULL AND l.cancelled_at IS NULL
       FOR SHARE;
    IF NOT FOUND THEN
        outcome := 'lottery-not-open';
        RETURN NEXT;
        RETURN;
    END IF;

    -- 2. The cap per person, with one person's applications to one lottery serialised.
    PERFORM pg_advisory_xact_lock(hashtextextended('lottery-cap:' || p_lottery::text || ':' || p_account::text, 0));
    IF (SELECT count(*) FROM lottery_applications a
         WHERE a.lottery_id = p_lottery AND a.account_id = p_account) >= cap THEN
        outcome := 'cap-reached';
        RETURN NEXT;
        RETURN;
    END IF;

    -- 3. The application and its preferences, rank by rank.
    INSERT INTO lottery_applications (lottery_id, account_id, pseudonym, resident, created_at)
    VALUES (p_lottery, p_account, p_pseudonym, p_resident, p_now)
    RETURNING lottery_applications.id INTO application_id;
    INSERT INTO lottery_preferences (application_id, rank, resource_id, during)
    SELECT application_id, p.rank, p.resource_id, tstzrange(p.starts, p.ends)
      FROM unnest(p_ranks, p_resources, p_starts, p_ends) AS p(rank, resource_id, starts, ends);

    outcome := 'applied';
    id := application_id;
    RETURN NEXT;
END
$$;
