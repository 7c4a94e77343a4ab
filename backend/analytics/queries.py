"""All SQL of the prefecture's figures: weekly aggregates, no row about a person leaves here.

Weeks start on Monday in Japan time (date_trunc('week') of the Tokyo date).
"""

# Utilisation = hours of live bookings / hours the resources were open, per municipality and
# facility kind. Open hours count every day of the range for every resource (closures are not
# subtracted). $1, $2: the range as instants.
BOOKINGS = """
WITH days AS (
    SELECT d::date AS day
      FROM generate_series(($1::timestamptz AT TIME ZONE 'Asia/Tokyo')::date,
                           (($2::timestamptz - interval '1 microsecond') AT TIME ZONE 'Asia/Tokyo')::date,
                           interval '1 day') AS d
), open_hours AS (
    SELECT date_trunc('week', d.day)::date AS week, f.municipality_id, f.kind,
           sum(extract(epoch FROM r.closes_at - r.opens_at) / 3600.0) AS hours
      FROM days d CROSS JOIN resources r JOIN facilities f ON f.id = r.facility_id
     GROUP BY 1, 2, 3
), booked AS (
    SELECT date_trunc('week', lower(b.during) AT TIME ZONE 'Asia/Tokyo')::date AS week, f.municipality_id, f.kind,
           count(*) AS bookings, sum(extract(epoch FROM upper(b.during) - lower(b.during)) / 3600.0) AS hours
      FROM bookings b JOIN resources r ON r.id = b.resource_id JOIN facilities f ON f.id = r.facility_id
     WHERE b.status IN ('provisional', 'confirmed') AND lower(b.during) >= $1 AND lower(b.during) < $2
     GROUP BY 1, 2, 3
)
SELECT o.week, o.municipality_id, o.kind AS facility_kind, coalesce(b.bookings, 0) AS bookings,
       coalesce(b.hours, 0)::float8 AS booked_hours, o.hours::float8 AS open_hours
  FROM open_hours o LEFT JOIN booked b USING (week, municipality_id, kind)
 ORDER BY o.week, o.municipality_id, o.kind
"""

CHILDCARE = """
SELECT date_trunc('week', s.day)::date AS week, p.band, sum(p.capacity)::int AS capacity, sum(p.used)::int AS reserved
  FROM childcare_sessions s JOIN childcare_places p ON p.session_id = s.id
 WHERE s.day >= ($1::timestamptz AT TIME ZONE 'Asia/Tokyo')::date
   AND s.day < ($2::timestamptz AT TIME ZONE 'Asia/Tokyo')::date
 GROUP BY 1, 2
 ORDER BY 1, 2
"""

INTAKE = """
SELECT date_trunc('week', created_at AT TIME ZONE 'Asia/Tokyo')::date AS week,
       count(*) AS requests,
       count(*) FILTER (WHERE status = 'placed') AS placed,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM placed_at - created_at) / 60)
           FILTER (WHERE placed_at IS NOT NULL) AS median_minutes_to_placement,
       avg(extract(epoch FROM placed_at - created_at) / 60)
           FILTER (WHERE placed_at IS NOT NULL) AS mean_minutes_to_placement
  FROM intake_requests
 WHERE created_at >= $1 AND created_at < $2
 GROUP BY 1
 ORDER BY 1
"""

EMS = """
WITH per_case AS (
    SELECT date_trunc('week', c.opened_at AT TIME ZONE 'Asia/Tokyo')::date AS week, count(r.id) AS inquiries
      FROM ems_cases c LEFT JOIN ems_requests r ON r.case_id = c.id
     WHERE c.opened_at >= $1 AND c.opened_at < $2
     GROUP BY c.id, 1
)
SELECT week, count(*) AS cases,
       count(*) FILTER (WHERE inquiries > 0) AS cases_with_requests,
       avg(inquiries) FILTER (WHERE inquiries > 0) AS mean_inquiries_per_case,
       count(*) FILTER (WHERE inquiries >= 4) AS cases_needing_4_or_more
  FROM per_case
 GROUP BY week
 ORDER BY week
"""
