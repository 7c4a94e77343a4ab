"""Recompute a drawn lottery from its published data alone, as any citizen could."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.lottery.draw import ALGORITHM, Entry, Slot, commitment, draw, result_digest


def verify_published(lottery: dict[str, Any]) -> list[str]:
    """Problems found in a published lottery (GET /v1/lotteries/{id}); empty when it checks out."""
    if lottery.get("state") != "drawn" or not lottery.get("seed"):
        return ["the lottery has not been drawn yet: nothing to verify"]
    problems = []
    if lottery.get("algorithm") != ALGORITHM:
        problems.append(f"unknown algorithm {lottery.get('algorithm')!r}; this verifier knows {ALGORITHM}")
    seed = bytes.fromhex(lottery["seed"])
    if commitment(seed) != lottery["seedCommitment"]:
        problems.append("the revealed seed does not match the commitment published before applications opened")
    entries = [
        Entry(
            application_id=a["applicationId"],
            pseudonym=a["pseudonym"],
            resident=a["resident"],
            preferences=tuple(
                Slot(p["resourceId"], datetime.fromisoformat(p["start"]), datetime.fromisoformat(p["end"]))
                for p in sorted(a["preferences"], key=lambda p: p["rank"])
            ),
        )
        for a in lottery["applications"]
    ]
    taken = [
        Slot(t["resourceId"], datetime.fromisoformat(t["start"]), datetime.fromisoformat(t["end"]))
        for t in lottery.get("taken") or []
    ]
    recomputed = draw(seed, entries, taken, lottery["perUserCap"])
    published = {r["applicationId"]: r["wonRank"] for r in lottery.get("results") or []}
    if published != recomputed:
        differing = sorted(k for k in set(published) | set(recomputed) if published.get(k) != recomputed.get(k))
        problems.append(f"results differ from the recomputed draw for applications {differing[:20]}")
    if result_digest(recomputed) != lottery.get("resultDigest"):
        problems.append("the published result digest does not match the recomputed results")
    return problems
