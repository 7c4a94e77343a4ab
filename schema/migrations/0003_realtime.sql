-- Realtime: publish order for outbox events, and a wake-up for the relay.
--
-- `id` is insertion order, but transactions commit out of that order (id 5 may commit after
-- id 6). Clients resume from a cursor, so the cursor must follow *publish* order: the relay
-- (one leader at a time) stamps each committed event with the next `seq` before publishing
-- it. `seq` is the event id clients see.
ALTER TABLE outbox ADD COLUMN seq bigint;
ALTER TABLE outbox ADD CONSTRAINT outbox_seq_key UNIQUE (seq);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE seq IS NULL;
CREATE INDEX outbox_topic_seq_idx ON outbox (topic, seq) WHERE seq IS NOT NULL;

-- How far the relay leader has published to Redis. A new leader re-publishes everything
-- after it (at-least-once; clients drop ids they have seen).
CREATE TABLE relay_state (
    id                  boolean PRIMARY KEY DEFAULT true CHECK (id),
    published_through   bigint NOT NULL DEFAULT 0
);
INSERT INTO relay_state DEFAULT VALUES;

CREATE FUNCTION notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Delivered at commit; identical notifications in one transaction are folded into one.
    PERFORM pg_notify('musubi_outbox', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION notify_outbox();
