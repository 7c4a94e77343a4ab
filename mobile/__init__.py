"""Flet client for every role."""
