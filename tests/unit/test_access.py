from __future__ import annotations

import pytest

from backend.core.auth import (
    ANY_ADMIN,
    PREFECTURE_ADMIN,
    PUBLIC,
    SIGNED_IN,
    Caller,
    Member,
    check_access,
    may_join,
    private_topics,
)
from backend.core.errors import Forbidden, Unauthorized
from schema.accounts import Membership

NURSE = Caller(
    account_id=5,
    session_id=1,
    locale="ja",
    memberships=(Membership(organization_id=3, organization_kind="hospital", role="er_staff"),),
)
RESIDENT = Caller(account_id=6, session_id=2, locale="en", memberships=())


def test_rules_admit_by_kind_and_role() -> None:
    assert NURSE.satisfies([Member("hospital", "er_staff")])
    assert NURSE.satisfies([Member("hospital", None)])
    assert not NURSE.satisfies([Member("hospital", "admin"), PREFECTURE_ADMIN, ANY_ADMIN])
    assert RESIDENT.satisfies([SIGNED_IN])


def test_check_access_answers_401_without_caller_and_403_without_role() -> None:
    check_access((PUBLIC,), None)
    with pytest.raises(Unauthorized):
        check_access((SIGNED_IN,), None)
    with pytest.raises(Forbidden):
        check_access((PREFECTURE_ADMIN,), RESIDENT)


def test_organization_scope() -> None:
    assert NURSE.organization_ids("hospital") == {3}
    assert NURSE.organization_ids("hospital", roles=("admin",)) == frozenset()
    assert NURSE.organization_ids("shelter") == frozenset()


def test_topics_follow_memberships() -> None:
    assert private_topics(NURSE) == ["user:5", "hospital:3", "hospitals:board"]
    assert private_topics(RESIDENT) == ["user:6"]
    assert may_join(RESIDENT, "vacancy:facility:12")
    assert not may_join(RESIDENT, "hospital:3")
    assert not may_join(RESIDENT, "vacancy:facility:12:extra")
    assert not may_join(NURSE, "user:6")
