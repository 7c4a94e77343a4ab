"""Every word the client shows exists in Japanese and English, and every problem the backend can
answer has a message in both: a missing one would show a raw key or an English server title."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mobile.api import ApiError
from mobile.state.i18n import LABELS, PROBLEMS, Translator
from schema.base import FieldError

ROOT = Path(__file__).resolve().parents[3]
SLUG = r"\"([a-z][a-z0-9]*(?:-[a-z0-9]+)*)\""
# The shapes in which backend/ names a problem slug (errors.py and the contexts' services).
SLUG_SITES = [
    rf"slug\s*=\s*{SLUG}",  # DomainError subclasses and raise …(slug="…")
    rf"register_constraint\(\s*\"[^\"]+\",\s*\d{{3}},\s*{SLUG}",
    rf"problem_response\(\s*\d+,\s*{SLUG}",
    rf"\(\s*\d{{3}},\s*{SLUG},\s*\"[A-Z]",  # (status, slug, "Title") maps
    rf"\d{{3}}:\s*\(\s*{SLUG},\s*\"[A-Z]",  # status → (slug, "Title")
    rf"slug, title = {SLUG},",
    rf"\(\s*{SLUG},\s*exc\.detail",  # the fallback ("http-error", exc.detail …)
]


def backend_slugs() -> set[str]:
    slugs: set[str] = set()
    for source in (ROOT / "backend").rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        for site in SLUG_SITES:
            slugs |= set(re.findall(site, text))
    return slugs


def keys_used_by_the_client() -> set[str]:
    """Literal keys passed to the translator (`t("…")`, `self("…")`) and device-side error keys."""
    keys: set[str] = set()
    for source in (ROOT / "mobile").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name | ast.Attribute)
                and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr) in ("t", "self")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                keys.add(node.args[0].value)
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(target, ast.Attribute) and target.attr == "error" for target in node.targets)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                keys.add(node.value.value)
    return keys


def test_backend_slugs_are_found() -> None:
    # The scan itself must keep working: a few slugs every version has.
    assert {"not-found", "validation", "slot-taken", "bad-credentials", "internal"} <= backend_slugs()


def test_every_problem_the_backend_can_answer_has_a_message_in_both_languages() -> None:
    missing = sorted(backend_slugs() - PROBLEMS.keys())
    assert missing == [], f"add to mobile/state/i18n.py PROBLEMS: {missing}"
    for slug, (ja, en) in PROBLEMS.items():
        assert ja.strip(), slug
        assert en.strip(), slug


def test_every_label_the_client_uses_exists_in_both_languages() -> None:
    missing = sorted(keys_used_by_the_client() - LABELS.keys())
    assert missing == [], f"add to mobile/state/i18n.py LABELS: {missing}"
    for key, (ja, en) in LABELS.items():
        assert ja.strip(), key
        assert en.strip(), key


def test_a_server_error_is_shown_in_the_chosen_language() -> None:
    taken = ApiError(409, "This slot is already booked", "https://musubi.jp/problems/slot-taken")
    t = Translator("ja")
    assert t.failure(taken) == PROBLEMS["slot-taken"][0]
    t.toggle()
    assert t.failure(taken) == PROBLEMS["slot-taken"][1]
    # Field errors keep their path, so the person sees which field to fix.
    invalid = ApiError(
        422, "Invalid", "https://musubi.jp/problems/validation", [FieldError(field="$.age", message="x")]
    )
    assert "$.age" in t.failure(invalid)
