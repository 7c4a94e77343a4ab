"""The printable day roster (園児名簿) the nursery saves from its home: escaped, allergies bold and
red, one page per session, in the chosen language."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser

from mobile.state.i18n import Translator
from mobile.state.nursery import parse_meeting, roster_html
from schema.childcare import RosterBand, RosterChild, RosterSession
from schema.time import TOKYO

DAY = date(2026, 12, 3)


def child(name: str, allergies: list[str], notes: str = "", **more: object) -> RosterChild:
    fields: dict[str, object] = {"attendance": "expected", "arrived_at": None} | more
    return RosterChild(
        reservation_id=1,
        child_id=1,
        name=name,
        birth_date=date(2022, 4, 1),
        age_years=4,
        allergies=allergies,
        notes=notes,
        **fields,  # type: ignore[arg-type]
    )


def sessions() -> list[RosterSession]:
    morning = RosterSession(
        session_id=1,
        block="morning",
        cancelled_at=None,
        bands=[
            RosterBand(
                band="3-5",
                capacity=3,
                used=2,
                children=[
                    child("<script>alert('x')</script>", ["卵 egg", "小麦 & <wheat>"], "昼寝は1時間\n迎えは祖母"),
                    child("佐藤 陽菜", [], attendance="arrived", arrived_at=datetime(2026, 12, 3, 0, 5, tzinfo=UTC)),
                ],
            ),
            RosterBand(band="0", capacity=1, used=0, children=[]),
        ],
    )
    afternoon = RosterSession(
        session_id=2,
        block="afternoon",
        cancelled_at=datetime(2026, 12, 1, tzinfo=UTC),
        bands=[RosterBand(band="1-2", capacity=2, used=0, children=[])],
    )
    return [morning, afternoon]


class Texts(HTMLParser):
    """The document as a browser reads it: the text, and the tags each piece of text sits in."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[tuple[str, str]] = []
        self.pieces: list[tuple[str, list[tuple[str, str]]]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in ("meta",):
            self.open.append((tag, dict(attrs).get("class") or ""))

    def handle_endtag(self, tag: str) -> None:
        while self.open and self.open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.pieces.append((data, list(self.open)))


def read(document: str) -> Texts:
    texts = Texts()
    texts.feed(document)
    return texts


def test_names_notes_and_allergies_are_escaped_never_markup() -> None:
    document = roster_html("ひまわり <保育園> & 子育て", DAY, sessions(), Translator("ja"))
    texts = read(document)
    assert "script" not in texts.tags
    assert "<script>" not in document
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in document
    shown = [text for text, _ in texts.pieces]
    assert "<script>alert('x')</script>" in shown
    assert "ひまわり <保育園> & 子育て" in shown
    assert any("小麦 & <wheat>" in text for text in shown)
    assert "昼寝は1時間\n迎えは祖母" in shown


def test_allergies_are_bold_and_red_and_a_child_without_any_says_none() -> None:
    texts = read(roster_html("みと保育園", DAY, sessions(), Translator("ja")))
    [(allergies, inside)] = [(text, tags) for text, tags in texts.pieces if "卵 egg" in text]
    assert allergies == "卵 egg、小麦 & <wheat>"
    assert ("strong", "") in inside
    assert ("span", "allergy") in inside
    assert ".allergy { color: #b00000; font-weight: bold; }" in roster_html("x", DAY, sessions(), Translator("ja"))
    assert "なし" in [text for text, _ in texts.pieces]


def test_each_session_is_a_page_in_large_type_with_the_nursery_and_the_day() -> None:
    document = roster_html("みと保育園", DAY, sessions(), Translator("ja"))
    assert document.startswith("<!DOCTYPE html>")
    assert '<html lang="ja">' in document
    assert document.count('<section class="session">') == 2
    media = re.search(r"@media print \{(.*)\}", document, re.S)
    assert media is not None
    assert "break-after: page" in media.group(1)
    assert re.search(r"body \{[^}]*font-size: 20pt", document)
    shown = [text for text, _ in read(document).pieces]
    assert "みと保育園 · 2026-12-03 (木) · 午前" in shown
    assert "(取消済)" in shown  # the cancelled afternoon
    assert [t for t in shown if re.fullmatch(r".+歳: \d/\d", t)] == ["3〜5歳: 2/3", "0歳: 0/1", "1〜2歳: 0/2"]
    assert "4歳" in shown
    assert "到着 09:05" in shown  # arrived at 00:05 UTC, shown in Japan time
    assert "来園予定" in shown


def test_english_when_the_app_is_in_english() -> None:
    document = roster_html("Mito Nursery", DAY, sessions(), Translator("en"))
    shown = [text for text, _ in read(document).pieces]
    assert '<html lang="en">' in document
    assert "Mito Nursery · 2026-12-03 (Thu) · Morning" in shown
    assert shown[shown.index("Name") : shown.index("Name") + 5] == ["Name", "Age", "Allergies", "Notes", "Attendance"]
    assert "卵 egg, 小麦 & <wheat>" in shown
    assert "4 yrs" in shown


def test_an_empty_day_still_prints_its_heading() -> None:
    shown = [text for text, _ in read(roster_html("みと保育園", DAY, [], Translator("ja"))).pieces]
    assert "みと保育園" in shown
    assert "枠はありません" in shown


def test_meeting_times_are_read_as_japan_time() -> None:
    assert parse_meeting("2026-12-03 10:00") == datetime(2026, 12, 3, 10, 0, tzinfo=TOKYO)
    assert parse_meeting(" 2026-12-03T10:00 ") == datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
    assert parse_meeting("12/3 10:00") is None
    assert parse_meeting("2026-13-03 10:00") is None
