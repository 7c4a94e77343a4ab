from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.cluster import Cluster
from tests.e2e.browser import WATCHED, CuttableLink
from tests.processes import MusubiProcess, free_port


@pytest.fixture
async def web_process(small_cluster: Cluster, database_url: str) -> AsyncIterator[MusubiProcess]:
    port = free_port()
    web = MusubiProcess(
        "web",
        {
            "DATABASE_URL": database_url,  # not used by the web client; keeps it from starting an embedded one
            "REDIS_URL": "memory://",
            "MUSUBI_WEB_API_URL": small_cluster.api_url(0),
            "MUSUBI_WEB_PORT": str(port),
            "MUSUBI_DATA_DIR": tempfile.mkdtemp(prefix="musubi-web-"),
            "MUSUBI_SECRET_KEY": "unused-by-the-web-client",
        },
        port=port,
    )
    await web.start()
    try:
        yield web
    finally:
        web.terminate()


@pytest.fixture
def web_client(web_process: MusubiProcess) -> str:
    return f"http://127.0.0.1:{web_process.port}/"


@pytest.fixture
async def cuttable_web_client(web_process: MusubiProcess) -> AsyncIterator[CuttableLink]:
    """The web client behind a link the test can cut (see CuttableLink)."""
    assert web_process.port is not None
    link = CuttableLink(web_process.port)
    await link.start()
    try:
        yield link
    finally:
        await link.stop()


@pytest.fixture(autouse=True)
def _no_request_leaves_the_machine() -> Iterator[None]:
    """Every browser test, not only the one about it: a page that reached any host but this machine
    (a CDN script, a web font) fails the test that opened it."""
    WATCHED.clear()
    yield
    reached = [url for log in WATCHED for url in log.off_machine]
    WATCHED.clear()
    assert reached == [], f"a page reached a host other than this machine: {reached[:5]}"


BROWSER_TEST_TIMEOUT_SECONDS = 600


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`make test` runs on two workers (pytest-xdist, --dist loadgroup); the browser tests all go to
    one of them, one after another, so two Chromiums never draw at once on a 2-core machine.

    A browser test walks a person through a whole job, waiting for what they would see and tapping
    again where they would: while the other worker's heaviest tests run, such a walk can outlast the
    suite's 300 s per test without being stuck, so it gets 600 s."""
    for item in items:
        if "tests/e2e/" in item.nodeid.replace("\\", "/") or item.nodeid.startswith("e2e/"):
            item.add_marker(pytest.mark.xdist_group("browser"))
            item.add_marker(pytest.mark.timeout(BROWSER_TEST_TIMEOUT_SECONDS))
