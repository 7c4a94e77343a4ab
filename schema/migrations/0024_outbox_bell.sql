-- The relay's wake-up without serialising every commit (issue 16).
--
-- Until now every transaction that wrote to the outbox NOTIFYed at commit. PostgreSQL orders the
-- notification queue by taking one cluster-wide lock from a notifying transaction's pre-commit to
-- the end of its commit, WAL flush included: in a booking rush every booking queued behind every
-- other's commit (book_slot alone ran 1,300-1,650 tps with it and 2,300 without, on two cores).
--
-- Now one writer at a time rings: at commit (a deferred trigger, so the decision is taken as late
-- as it can be), a writer that gets the bell lock NOTIFYs; the others, whose commits land within
-- moments of the ringer's, do not. To never strand a row of a writer that did not ring, every
-- writer holds the "writing" lock (shared) from that moment to the end of its commit, and the
-- relay, before it sleeps, waits until it can take that lock alone, stamping meanwhile
-- (realtime/relay.py, whose _WRITING_LOCK is the key below).

DROP TRIGGER outbox_notify ON outbox;
DROP FUNCTION notify_outbox();

CREATE FUNCTION ring_outbox_bell() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- "writing" (0x6f7574626f78, 'outbox'): held until this transaction has committed or aborted.
    PERFORM pg_advisory_xact_lock_shared(122550254464888);
    -- The bell (0x62656c6c, 'bell'): whoever holds it rings; a second try in the same transaction
    -- gets it again, and identical notifications of one transaction are folded into one.
    IF pg_try_advisory_xact_lock(1650814060) THEN
        PERFORM pg_notify('musubi_outbox', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER outbox_bell AFTER INSERT ON outbox
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ring_outbox_bell();

-- The relay's stamp, after a look at the writing lock in the same round trip (a function, because
-- each of its statements takes a fresh snapshot: the stamp's comes after the look). `settled` is
-- true when no writer was committing at that look, so the stamp holds every row of the writers
-- that did not ring, and the relay may sleep after publishing it; false, and it stamps again
-- shortly. The stamp records the relay's progress, then numbers the next batch of committed rows
-- in insertion order. With nothing to stamp it answers one row whose other columns are NULL.
CREATE FUNCTION stamp_outbox(p_limit integer, p_head bigint, p_published bigint)
RETURNS TABLE (settled boolean, seq bigint, topic text, type text, payload text, created_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    quiet boolean := CASE WHEN pg_try_advisory_lock(122550254464888)
                          THEN pg_advisory_unlock(122550254464888) ELSE false END;
BEGIN
    RETURN QUERY
    WITH progress AS (
        UPDATE relay_state SET published_through = p_published WHERE published_through < p_published
    ), batch AS (
        SELECT id FROM outbox WHERE seq IS NULL ORDER BY id LIMIT p_limit FOR UPDATE
    ), numbered AS (
        SELECT id, p_head + row_number() OVER (ORDER BY id) AS next_seq FROM batch
    )
    UPDATE outbox o SET seq = n.next_seq FROM numbered n WHERE o.id = n.id
    RETURNING quiet, o.seq, o.topic, o.type, o.payload::text, o.created_at;
    IF NOT FOUND THEN
        settled := quiet;
        RETURN NEXT;
    END IF;
END
$$;
