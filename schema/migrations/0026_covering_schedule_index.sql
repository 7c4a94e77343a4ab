-- Vacancy search reads each resource's day from bookings_schedule_idx (VACANCIES_OF_DAY in
-- backend/facilities/queries.py). With the range and the status in the index, the search needs no
-- visit to the table at all (an index-only scan): on ten times the bookings, where the table no
-- longer stays in memory, the statement's time falls by a third to a half. The index is replaced,
-- not added, so a booking's insert still writes the same number of index entries.
DROP INDEX bookings_schedule_idx;
CREATE INDEX bookings_schedule_idx ON bookings (resource_id, lower(during)) INCLUDE (during, status);
