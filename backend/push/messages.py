"""What a push says: per event type, priority, lifetime, collapse id and a generic alert text.

Payloads carry the event type and ids only — never a name, symptom or child detail — so a
lock screen or a push log shows nothing personal. The app fetches details over HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PushKind:
    priority: int  # apns-priority: 10 = now, 5 = power-considerate
    ttl_seconds: int
    collapse_key: str | None  # payload id that identifies what a newer push replaces
    ja: str
    en: str


URGENT: dict[str, PushKind] = {
    "ems.request.created": PushKind(
        10, 300, "requestId", "救急搬送の受入照会が届きました", "New ambulance transport request"
    ),
    "ems.request.realerted": PushKind(
        10, 300, "requestId", "未回答の受入照会があります", "Ambulance request still unanswered"
    ),
    "intake.requested": PushKind(10, 1800, "requestId", "一時保護の受入依頼が届きました", "New child intake request"),
    "waitlist.offered": PushKind(
        5, 1800, "bookingId", "キャンセル待ちの枠を確保しました", "A slot you waited for is held for you"
    ),
    "childcare.offered": PushKind(
        5, 3600, "reservationId", "一時預かりの空きを確保しました", "A childcare place is held for you"
    ),
    "childcare.reminder": PushKind(
        5, 43_200, "reservationId", "明日は一時預かりの予約があります", "Childcare reservation tomorrow"
    ),
    "lottery.result": PushKind(5, 86_400, "lotteryId", "抽選結果が出ました", "Lottery results are out"),
}

# Organisation topics reach the members whose role acts on them.
TOPIC_ROLES: dict[str, tuple[str, ...]] = {
    "hospital": ("er_staff",),
    "shelter": ("staff", "admin"),
    "guidance": ("caseworker",),
    "fire": ("paramedic",),
    "nursery": ("staff", "admin"),
}


def payload_for(event_type: str, event: dict[str, Any], locale: str) -> dict[str, Any]:
    kind = URGENT[event_type]
    aps: dict[str, Any] = {
        "alert": {"title": "Musubi", "body": kind.ja if locale == "ja" else kind.en},
        "sound": "default",
    }
    if kind.priority == 10:
        aps["interruption-level"] = "time-sensitive"
    ids = {key: value for key, value in event.items() if key.endswith("Id") and isinstance(value, int)}
    return {"aps": aps, "type": event_type, "ids": ids}


def collapse_id(event_type: str, event: dict[str, Any]) -> str | None:
    key = URGENT[event_type].collapse_key
    return f"{event_type}:{event[key]}" if key and key in event else None
