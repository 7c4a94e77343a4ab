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
