from __future__ import annotations

from backend.auth import Caller, may_join, needs_membership, private_topics
from backend.topics import (
    HOSPITAL_BOARD,
    facility_vacancy_topic,
    hospital_topic,
    nursery_vacancy_topic,
    organization_of,
    personal_account,
    user_topic,
)
from schema.accounts import Membership

NURSE = Caller(
    account_id=5,
    session_id=1,
    locale="ja",
    memberships=(Membership(organization_id=3, organization_kind="hospital", role="er_staff"),),
)


def test_the_access_rules_admit_the_topics_the_services_publish_to() -> None:
    assert private_topics(NURSE) == [user_topic(5), hospital_topic(3), HOSPITAL_BOARD]
    assert may_join(NURSE, facility_vacancy_topic(9))
    assert may_join(NURSE, nursery_vacancy_topic(9))
    assert not may_join(NURSE, hospital_topic(4))
    assert not may_join(NURSE, user_topic(6))
    assert needs_membership(hospital_topic(3))
    assert not needs_membership(user_topic(5))


def test_workers_read_back_whose_topic_an_event_was_on() -> None:
    assert personal_account(user_topic(5)) == 5
    assert personal_account(hospital_topic(3)) is None
    assert organization_of(hospital_topic(3)) == ("hospital", 3)
    assert organization_of(user_topic(5)) is None
    assert organization_of(HOSPITAL_BOARD) is None
