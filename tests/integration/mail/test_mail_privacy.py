"""No message carries a child's or a patient's data, whatever the person did before it was sent."""

from __future__ import annotations

import httpx

from backend.core.context import AppContext
from backend.mail.sink import html_of, text_of
from tests.smtp_sink import SmtpServer
from tests.support import PASSWORD, Actors

CHILD = {"name": "鈴木 一郎", "birthDate": "2021-05-05", "allergies": ["ピーナッツ"], "notes": "喘息の吸入薬あり"}
COMPLAINT = "胸痛と呼吸困難"


async def test_no_mail_body_holds_child_or_patient_data(
    http: httpx.AsyncClient, actors: Actors, ctx: AppContext, smtp: SmtpServer
) -> None:
    parent = await actors.resident("parent@example.jp")
    assert (await http.post("/v1/children", json=CHILD, headers=parent.headers)).status_code == 201
    paramedic = await actors.member("fire_department", "paramedic")
    patient = {"estimatedAge": 70, "sex": "male", "chiefComplaint": COMPLAINT}
    case = await http.post("/v1/ems/cases", json=patient, headers=paramedic.headers)
    assert case.status_code == 201, case.text
    # Every kind of mail the parent and the paramedic can cause.
    await http.post("/v1/me/password", json={"current": PASSWORD, "new": "a brand new phrase"}, headers=parent.headers)
    await http.post("/v1/password-resets", json={"email": parent.email})
    await http.put(
        "/v1/me/email", json={"email": "parent2@example.jp", "currentPassword": "a brand new phrase"},
        headers=parent.headers,
    )  # fmt: skip
    admin = await actors.prefecture_admin()
    nursery = await actors.organization("nursery")
    await http.post(
        f"/v1/organizations/{nursery}/invitations", json={"email": paramedic.email, "role": "staff"},
        headers=admin.headers,
    )  # fmt: skip
    await smtp.deliver(ctx)
    # verification, password changed, reset, address changed, invitation: every kind there is.
    kinds = {m["Subject"] for m in smtp.sink.messages}
    assert len(kinds) == 5, kinds
    forbidden = [CHILD["name"], "鈴木", "一郎", "ピーナッツ", CHILD["notes"], "2021-05-05", COMPLAINT, "胸痛"]
    for message in smtp.sink.messages:
        whole = message.as_string() + text_of(message) + html_of(message)
        assert not [word for word in forbidden if word in whole], message["Subject"]
