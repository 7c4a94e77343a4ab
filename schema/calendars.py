"""The personal calendar feed: a secret subscription URL per person."""

from __future__ import annotations

from datetime import datetime

from schema.base import Wire


class CalendarFeed(Wire):
    """Shown once, when made: only a hash of the token is kept, so a lost URL is regenerated, not read back."""

    url: str
    # The same URL for calendar apps that subscribe on a webcal:// link (Apple Calendar, Outlook).
    webcal_url: str
    created_at: datetime
