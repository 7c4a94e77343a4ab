"""The draw: a deterministic function of (seed, published applications, taken slots, cap).

Anyone holding the published data can recompute it (`musubi lottery verify <id>`).

ALGORITHM = "musubi-lottery-v1":

1. Order applications by the key (tier, H), where tier is 0 for residents and 1 for others,
   and H = SHA-256(seed ‖ application id as 8-byte big-endian) in hex. Within a tier this is
   a uniformly random order that nobody could know before the seed was revealed, and the
   seed was fixed (its SHA-256 published) before anyone applied.
2. For each tier in turn (residents first), for rank 1, 2, 3, walk that tier's applications
   in order. An application that has not won yet, whose applicant (pseudonym) has fewer than
   `per_user_cap` wins, and whose preference at this rank overlaps neither a taken slot nor a
   slot already won, wins that preference.
3. The result lists every application with the rank it won (or none), by application id;
   its digest is SHA-256 of the canonical JSON of that list.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec

ALGORITHM = "musubi-lottery-v1"


@dataclass(frozen=True)
class Slot:
    resource_id: int
    start: datetime
    end: datetime

    def overlaps(self, other: Slot) -> bool:
        return self.resource_id == other.resource_id and self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Entry:
    application_id: int
    pseudonym: str
    resident: bool
    preferences: tuple[Slot, ...]  # index 0 is 第1希望


def commitment(seed: bytes) -> str:
    return hashlib.sha256(seed).hexdigest()


def order_key(seed: bytes, entry: Entry) -> tuple[int, str]:
    digest = hashlib.sha256(seed + entry.application_id.to_bytes(8, "big")).hexdigest()
    return (0 if entry.resident else 1, digest)


def draw(seed: bytes, entries: Sequence[Entry], taken: Sequence[Slot], per_user_cap: int) -> dict[int, int | None]:
    """application id → rank won (1–3) or None."""
    ordered = sorted(entries, key=lambda entry: order_key(seed, entry))
    allocated: list[Slot] = list(taken)
    wins: dict[int, int | None] = {entry.application_id: None for entry in entries}
    per_person: dict[str, int] = defaultdict(int)
    for tier in (True, False):
        tier_entries = [entry for entry in ordered if entry.resident is tier]
        for rank in (1, 2, 3):
            for entry in tier_entries:
                if wins[entry.application_id] is not None or per_person[entry.pseudonym] >= per_user_cap:
                    continue
                if len(entry.preferences) < rank:
                    continue
                wanted = entry.preferences[rank - 1]
                if any(wanted.overlaps(slot) for slot in allocated):
                    continue
                allocated.append(wanted)
                wins[entry.application_id] = rank
                per_person[entry.pseudonym] += 1
    return wins


def result_digest(wins: dict[int, int | None]) -> str:
    canonical = msgspec.json.encode([[application_id, wins[application_id]] for application_id in sorted(wins)])
    return hashlib.sha256(canonical).hexdigest()
