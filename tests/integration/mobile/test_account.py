"""The account screen's view model (issue 23) against the real backend: what each section sends and
what the person is told, including refusals decided on the device before anything is sent."""

from __future__ import annotations

import httpx

from mobile.api import ApiError, MusubiApi
from mobile.state.account import AccountModel
from tests.integration.mobile.test_staff_homes import signed_in
from tests.support import PASSWORD, Actors

NEW_PASSWORD = "a brand new passphrase 2026"


async def opened(base_url: str, email: str) -> tuple[MusubiApi, AccountModel]:
    api, session = await signed_in(base_url, email)
    assert session.me is not None
    model = AccountModel(api, session.me)
    await model.load()
    return api, model


async def test_password_change_is_checked_on_the_device_then_by_the_server(
    base_url: str, http: httpx.AsyncClient, actors: Actors
) -> None:
    person = await actors.resident()
    other_device = await actors.login(person.email, person.account_id)
    api, model = await opened(base_url, person.email)
    assert len(model.sessions) == 3  # the fixture's, the other device's, and this one
    assert [s.current for s in model.sessions].count(True) == 1

    model.current_password, model.new_password = PASSWORD, "short"
    assert not await model.change_password()
    assert model.error == "password_too_short"
    model.current_password, model.new_password = "not my password", NEW_PASSWORD
    assert not await model.change_password()
    assert isinstance(model.error, ApiError)
    assert model.error.slug == "wrong-password"
    assert (model.current_password, model.new_password) == ("", "")  # never kept after sending

    model.current_password, model.new_password = PASSWORD, NEW_PASSWORD
    assert await model.change_password(), model.error
    assert model.notice == "password_changed"
    assert [s.current for s in model.sessions] == [True]  # every other session ended
    assert (await http.get("/v1/me", headers=other_device.headers)).status_code == 401
    logged_in = await http.post("/v1/sessions", json={"email": person.email, "password": NEW_PASSWORD})
    assert logged_in.status_code == 201
    await api.close()


async def test_profile_notices_sessions_feed_export_and_deletion(
    base_url: str, http: httpx.AsyncClient, actors: Actors
) -> None:
    person = await actors.resident()
    other_device = await actors.login(person.email, person.account_id)
    api, model = await opened(base_url, person.email)

    model.display_name = "  "
    assert not await model.save_name()
    assert model.error == "name_needed"
    model.display_name = "山田 花子"
    assert await model.save_name(), model.error
    assert model.me.display_name == "山田 花子"
    assert await model.set_locale("en")
    assert model.me.locale == "en"

    assert model.notices_on("email", "lottery_result")
    assert await model.set_notice("email", "lottery_result", False)
    assert not model.notices_on("email", "lottery_result")
    assert model.notices_on("push", "lottery_result")

    other = next(s for s in model.sessions if not s.current)
    assert await model.revoke_session(other.id), model.error
    assert other.id not in {s.id for s in model.sessions}
    assert await model.revoke_other_sessions()
    assert [s.current for s in model.sessions] == [True]
    assert (await http.get("/v1/me", headers=other_device.headers)).status_code == 401

    assert await model.issue_feed(), model.error
    assert model.feed is not None
    assert model.feed.url.endswith(".ics")
    first = model.feed.url
    assert (await http.get(first)).status_code == 200
    assert await model.issue_feed()
    assert model.feed.url != first
    assert (await http.get(first)).status_code == 404  # regenerating kills the old link

    exported = await model.export()
    assert exported is not None
    assert "山田 花子" in exported.decode()

    model.new_email = "moved@example.jp"
    assert not await model.change_email()
    assert model.error == "email_and_password_needed"
    model.email_password = PASSWORD
    assert await model.change_email(), model.error
    assert model.notice == "email_change_sent"
    assert (model.me.email, model.me.email_verified) == ("moved@example.jp", False)

    assert await model.delete(), model.error
    gone = await http.post("/v1/sessions", json={"email": "moved@example.jp", "password": PASSWORD})
    assert gone.status_code == 401
    await api.close()
