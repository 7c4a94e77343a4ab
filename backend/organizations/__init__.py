"""Organisations and people: what organisation admins and the prefecture run themselves."""
