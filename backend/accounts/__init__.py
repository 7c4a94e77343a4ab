"""Accounts, sessions, organisations, memberships and access control."""
