"""Musubi HTTP API (Litestar)."""
