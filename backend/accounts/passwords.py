"""Minimum password strength: a length rule and a local list of common passwords.

Length, not composition rules (NIST SP 800-63B): composition rules make passwords harder to
remember, not to guess. The list ships with the package, so checking never calls out.
"""

from __future__ import annotations

import functools
from importlib import resources

from backend.core.errors import Unprocessable
from schema.base import FieldError

MIN_LENGTH = 10


@functools.cache
def common_passwords() -> frozenset[str]:
    text = (resources.files("backend.accounts") / "common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def weakness(password: str, email: str | None = None) -> str | None:
    """Why `password` is too weak, or None."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    folded = "".join(password.split()).lower()
    if folded in common_passwords():
        return "This password is among the most common ones; choose another."
    if len(set(folded)) <= 2:
        return "This password repeats one or two characters; choose another."
    if email and folded in (email.lower(), email.lower().partition("@")[0]):
        return "Do not use your e-mail address as the password."
    return None


def require_strong(password: str, field: str, email: str | None = None) -> None:
    reason = weakness(password, email)
    if reason is not None:
        raise Unprocessable(reason, slug="weak-password", errors=[FieldError(field=field, message=reason)])
