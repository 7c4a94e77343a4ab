from __future__ import annotations

import msgspec
import pytest

from realtime.tickets import TicketClaims, TicketError, sign_ticket, verify_ticket

SECRET = b"unit-test-secret"
CLAIMS = TicketClaims(
    sub=7, sid=11, jti="t-1", topics=("user:7", "hospital:3"), since=(1_900, 1_920), exp=2_000, iat=1_940
)


def test_signed_ticket_verifies_to_the_same_claims() -> None:
    assert verify_ticket(SECRET, sign_ticket(SECRET, CLAIMS), now=1_950) == CLAIMS


def test_ticket_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(TicketError, match="signature"):
        verify_ticket(SECRET, sign_ticket(b"other", CLAIMS), now=1_950)


def test_widened_topics_break_the_signature() -> None:
    version, _, signature = sign_ticket(SECRET, CLAIMS).split(".")
    widened = sign_ticket(b"x", msgspec.structs.replace(CLAIMS, topics=("user:7", "hospital:4")))
    with pytest.raises(TicketError):
        verify_ticket(SECRET, f"{version}.{widened.split('.')[1]}.{signature}", now=1_950)


def test_expired_ticket_says_so() -> None:
    with pytest.raises(TicketError) as refused:
        verify_ticket(SECRET, sign_ticket(SECRET, CLAIMS), now=2_000)
    assert refused.value.expired


@pytest.mark.parametrize("garbage", ["", "v1", "v1..", "v2.a.b", "v1.!!!.???", "v1.e30.e30"])
def test_garbage_is_refused_not_crashing(garbage: str) -> None:
    with pytest.raises(TicketError):
        verify_ticket(SECRET, garbage, now=0)


def test_ticket_without_a_floor_per_topic_is_refused() -> None:
    lopsided = msgspec.structs.replace(CLAIMS, since=(1_900,))
    with pytest.raises(TicketError, match="malformed"):
        verify_ticket(SECRET, sign_ticket(SECRET, lopsided), now=1_950)
