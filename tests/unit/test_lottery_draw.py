from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta

from backend.lottery.draw import Entry, Slot, commitment, draw, result_digest
from backend.lottery.verify import verify_published

T0 = datetime(2027, 4, 10, 1, 0, tzinfo=UTC)


def slot(resource: int = 1, hour: int = 0) -> Slot:
    return Slot(resource, T0 + timedelta(hours=hour), T0 + timedelta(hours=hour + 1))


def entry(application_id: int, *preferences: Slot, resident: bool = False, person: str | None = None) -> Entry:
    return Entry(application_id, person or f"p{application_id}", resident, tuple(preferences))


def seed(n: int) -> bytes:
    return hashlib.sha256(f"seed-{n}".encode()).digest()


def test_same_seed_and_applications_give_the_same_result() -> None:
    entries = [entry(i, slot(1, i % 3), slot(2, i % 2)) for i in range(1, 30)]
    assert draw(seed(1), entries, [], 2) == draw(seed(1), list(reversed(entries)), [], 2)
    assert result_digest(draw(seed(1), entries, [], 2)) == result_digest(draw(seed(1), entries, [], 2))
    assert any(draw(seed(n), entries, [], 2) != draw(seed(1), entries, [], 2) for n in range(2, 10))


def test_no_slot_is_given_twice_nor_one_already_taken() -> None:
    entries = [entry(i, slot(1, 0), slot(1, 1), slot(1, 2)) for i in range(1, 10)]
    wins = draw(seed(3), entries, [slot(1, 1)], 5)
    won = [entries[i - 1].preferences[rank - 1] for i, rank in wins.items() if rank is not None]
    assert len(won) == 2  # hours 0 and 2; hour 1 was taken
    assert slot(1, 1) not in won
    assert len(set(won)) == len(won)


def test_residents_win_before_non_residents_for_the_same_slot() -> None:
    for n in range(200):
        entries = [entry(i, slot(), resident=False) for i in range(1, 6)] + [entry(99, slot(), resident=True)]
        assert draw(seed(n), entries, [], 1)[99] == 1


def test_per_person_cap_is_respected() -> None:
    mine = [entry(i, slot(1, i), person="same person") for i in range(1, 6)]
    wins = draw(seed(4), mine, [], 2)
    assert sum(rank is not None for rank in wins.values()) == 2


def test_equal_applicants_win_equally_often_chi_square() -> None:
    # Four applicants with identical preferences for one slot, over 4,000 published seeds.
    counts: Counter[int] = Counter()
    entries = [entry(i, slot()) for i in range(1, 5)]
    for n in range(4000):
        wins = draw(seed(n), entries, [], 1)
        counts[next(i for i, rank in wins.items() if rank is not None)] += 1
    expected = 1000
    chi_square = sum((counts[i] - expected) ** 2 / expected for i in range(1, 5))
    assert chi_square < 16.27, counts  # p = 0.001 with 3 degrees of freedom


def _published(entries: list[Entry], secret: bytes) -> dict[str, object]:
    wins = draw(secret, entries, [], 1)
    return {
        "state": "drawn",
        "algorithm": "musubi-lottery-v1",
        "seed": secret.hex(),
        "seedCommitment": commitment(secret),
        "perUserCap": 1,
        "applications": [
            {
                "applicationId": e.application_id,
                "pseudonym": e.pseudonym,
                "resident": e.resident,
                "preferences": [
                    {"rank": n, "resourceId": p.resource_id, "start": p.start.isoformat(), "end": p.end.isoformat()}
                    for n, p in enumerate(e.preferences, 1)
                ],
            }
            for e in entries
        ],
        "taken": [],
        "results": [{"applicationId": k, "wonRank": v} for k, v in sorted(wins.items())],
        "resultDigest": result_digest(wins),
    }


def test_verify_accepts_the_published_draw_and_detects_tampering() -> None:
    entries = [entry(i, slot(), slot(1, 1)) for i in range(1, 8)]
    published = _published(entries, seed(5))
    assert verify_published(published) == []

    other_seed = dict(published, seed=seed(6).hex())
    assert any("commitment" in p for p in verify_published(other_seed))

    applications = list(published["applications"])  # type: ignore[call-overload]
    fewer = dict(published, applications=applications[1:])
    assert verify_published(fewer)

    results = [dict(r) for r in published["results"]]  # type: ignore[attr-defined]
    winner = next(r for r in results if r["wonRank"] == 1)
    loser = next(r for r in results if r["wonRank"] is None)
    winner["wonRank"], loser["wonRank"] = None, 1
    assert verify_published(dict(published, results=results))
