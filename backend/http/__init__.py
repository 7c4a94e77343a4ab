"""HTTP plumbing: the app factory, idempotency, strict body validation, health, the OpenAPI document."""
