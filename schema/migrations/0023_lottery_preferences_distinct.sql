-- One application names each slot once: ranking the same court and time twice is a typing slip,
-- and at the draw it would only repeat a preference that already lost.
ALTER TABLE lottery_preferences
    ADD CONSTRAINT lottery_preferences_distinct UNIQUE (application_id, resource_id, during);
