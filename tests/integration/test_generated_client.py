"""A client generated from our OpenAPI document, by a tool nobody here wrote, books a slot.

`openapi-python-client` reads the document as served, offline (the proxies point nowhere, so a
fetch would fail the run); the package it writes must pass `mypy --strict`, then it logs a
resident in, finds a free hour in the vacancy search and books it. The booking is then read back
over plain HTTP. If the generator drops or mistypes an operation, the document is what is wrong.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.integration.facilities.conftest import Venue, make_venue
from tests.support import PASSWORD, Actors

PACKAGE = "musubi_client"
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "ALL_PROXY": "http://127.0.0.1:9"}

pytestmark = pytest.mark.timeout(900)  # generating and type-checking 400 modules on a shared machine


def _run(*command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **OFFLINE, "NO_PROXY": "", "no_proxy": ""}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=800, check=False)


@pytest.fixture
def generated(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


async def _generate(document: dict[str, Any], folder: Path) -> ModuleType:
    (folder / "openapi.json").write_text(json.dumps(document))
    # No post hooks: the generator would otherwise run ruff from PATH over the output.
    (folder / "config.json").write_text(json.dumps({"package_name_override": PACKAGE, "post_hooks": []}))
    bin_dir = Path(sys.executable).parent
    made = await asyncio.to_thread(
        _run,
        str(bin_dir / "openapi-python-client"), "generate", "--path", "openapi.json", "--config", "config.json",
        "--meta", "none", "--output-path", PACKAGE,
        cwd=folder,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    # Warnings mean an operation or a model was left out: the document said something it could not use.
    assert "Warning" not in made.stdout + made.stderr, made.stdout + made.stderr
    checked = await asyncio.to_thread(
        _run, sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(folder / ".mypy_cache"), PACKAGE, cwd=folder
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    sys.path.insert(0, str(folder))
    return importlib.import_module(PACKAGE)


async def test_a_client_generated_from_the_document_type_checks_and_books_a_slot(
    http: httpx.AsyncClient, actors: Actors, base_url: str, generated: Path
) -> None:
    venue: Venue = await make_venue(http, actors, feePerUnit=0, nonResidentFeePerUnit=None)
    person = await actors.resident()
    document = await http.get("/schema/openapi.json")
    assert document.status_code == 200
    client_package = await _generate(document.json(), generated)

    models = importlib.import_module(f"{PACKAGE}.models")
    create_session = importlib.import_module(f"{PACKAGE}.api.accounts.create_session")
    list_vacancies = importlib.import_module(f"{PACKAGE}.api.facilities.list_vacancies")
    create_booking = importlib.import_module(f"{PACKAGE}.api.facilities.create_booking")

    async with client_package.Client(base_url=base_url, raise_on_unexpected_status=True) as anonymous:
        login = await create_session.asyncio_detailed(
            client=anonymous, body=models.AccountsSessionCreate(email=person.email, password=PASSWORD)
        )
    assert login.status_code == 201, login.content
    assert isinstance(login.parsed, models.AccountsSession)

    async with client_package.AuthenticatedClient(
        base_url=base_url, token=login.parsed.token, raise_on_unexpected_status=True
    ) as client:
        day = venue.day(3)
        search = await list_vacancies.asyncio_detailed(client=client, date=day, facility_id=venue.facility_id)
        assert search.status_code == 200, search.content
        free = [
            slot
            for slot in search.parsed
            if slot.resource_id == venue.resource_id and slot.state == models.FacilitiesVacancyState.FREE
        ]
        assert free, search.content
        slot = free[0]
        assert slot.end - slot.start == timedelta(hours=1)
        booked = await create_booking.asyncio_detailed(
            client=client, body=models.BookingCreate(resource_id=slot.resource_id, start=slot.start, end=slot.end)
        )
    assert booked.status_code == 201, booked.content
    assert isinstance(booked.parsed, models.Booking)

    mine = await http.get("/v1/me/bookings", headers={"Authorization": f"Bearer {login.parsed.token}"})
    assert mine.status_code == 200
    [booking] = [b for b in mine.json() if b["id"] == booked.parsed.id]
    assert (booking["resourceId"], booking["status"]) == (venue.resource_id, "confirmed")
    assert (datetime.fromisoformat(booking["start"]), datetime.fromisoformat(booking["end"])) == (slot.start, slot.end)
