"""Realtime gateway: outbox relay, Redis fan-out, websockets with resume."""
