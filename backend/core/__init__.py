"""The core every context stands on: settings, database, clock, callers and access, audit,
outbox, errors, pagination and observability."""
