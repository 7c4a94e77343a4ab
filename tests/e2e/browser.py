"""What the browser tests share: Chromium, logging in like a person, screenshots, a cuttable link."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.processes import free_port
from tests.support import PASSWORD, Actor

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "e2e"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip


async def snap(page: Any, name: str) -> None:
    # The accessibility tree updates before the canvas repaints: let a few frames pass.
    await page.wait_for_timeout(600)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / name, full_page=True)


LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class RequestLog:
    """Every request a page makes (page.on("request")), so a test can tell which hosts it reached:
    a hospital's or an ambulance's network may reach nothing but our server."""

    def __init__(self, page: Any) -> None:
        self.urls: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))

    @property
    def off_machine(self) -> list[str]:
        """Requests to any host but this machine (data: and blob: URLs never leave the page)."""
        return [url for url in self.urls if not _stays_here(url)]


# The request log of every page a browser test logged in on; tests/e2e/conftest.py fails any test
# whose pages reached another host (issue 23: the browser test run records zero such requests).
WATCHED: list[RequestLog] = []


def _stays_here(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob") or parts.hostname in LOCAL_HOSTS


async def log_in(page: Any, url: str, person: Actor) -> None:
    """Open the app at `url` and log in as `person` (with the tests' password)."""
    WATCHED.append(RequestLog(page))
    await page.goto(url)
    # Flutter draws on a canvas; its accessibility tree is what people with screen readers use, and us.
    await page.wait_for_selector("flt-semantics-placeholder", state="attached", timeout=60_000)
    # Playwright's evaluate and keyboard calls have no timeout of their own: a renderer that stops
    # answering would hold the test until its 600 s run out, so each gets a bound here.
    async with asyncio.timeout(PAGE_CALL_SECONDS):
        await page.evaluate("document.querySelector('flt-semantics-placeholder').click()")
    await sign_in(page, person.email, PASSWORD)


PAGE_CALL_SECONDS = 30


async def type_into(page: Any, label: str, text: str) -> None:
    """Replace a field's text like a person. Flutter attaches its editor just after a field takes
    focus, and keystrokes before that reach the DOM but not the app (a loaded machine draws late),
    so tap and type again until the field holds the text. A field below or above the window is
    scrolled to first (a tap outside the window reaches nothing); a field that never takes the text
    leaves a screenshot and what the page's inputs held, for the person reading the failure."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    field = page.get_by_label(label, exact=True)
    for _attempt in range(6):
        try:
            async with asyncio.timeout(PAGE_CALL_SECONDS * 2):
                await reveal(page, field)
                await field.click(timeout=10_000)
                # Flutter's editor is the labelled input or, for some fields and on a busy page, an input
                # of its own without the label: the typing lands in whichever has the focus.
                await page.wait_for_function(
                    "document.activeElement && ['INPUT', 'TEXTAREA'].includes(document.activeElement.tagName)",
                    timeout=10_000,
                )
                await page.keyboard.press("Control+A")
                await page.keyboard.type(text, delay=10)
                await page.wait_for_function(_HOLDS_TEXT, arg=[label, text], timeout=5_000)
            return
        except (AssertionError, PlaywrightTimeout, TimeoutError):
            continue
    await _show_inputs(page, f"type_into({label!r})")
    await page.wait_for_function(_HOLDS_TEXT, arg=[label, text], timeout=5_000)


async def _show_inputs(page: Any, what: str) -> None:
    """What the page's inputs hold and which has the focus (printed, so pytest shows it with the
    failure), and a screenshot beside the others."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(PAGE_CALL_SECONDS):
            inputs = await page.evaluate(_INPUTS)
            print(f"{what} failed; inputs (label, value, focused): {inputs}")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=ARTIFACTS / "failed-typing.png", full_page=True)


_INPUTS = """() => [...document.querySelectorAll("input, textarea")].map(
    e => [e.ariaLabel, e.type === "password" ? "*".repeat(e.value.length) : e.value, e === document.activeElement])"""

# The field (by its label) or the editor that has the focus holds exactly the text.
_HOLDS_TEXT = """([label, text]) => {
    const editor = document.activeElement;
    const field = [...document.querySelectorAll("input, textarea")].find(e => e.ariaLabel === label);
    return (editor && editor.value === text) || (field !== undefined && field.value === text);
}"""


async def reveal(page: Any, locator: Any) -> None:
    """Scroll Flutter's canvas with the wheel until the element is inside the window: Playwright's own
    scrolling moves the DOM, not what Flutter draws, and a tap outside the window reaches nothing."""
    height = page.viewport_size["height"]
    await page.mouse.move(200, height / 2)
    for _attempt in range(12):
        # Flutter leaves a node far outside the window out of the page: not found yet means scroll on.
        box = await locator.bounding_box(timeout=5_000) if await locator.count() else None
        if box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height:
            return
        await page.mouse.wheel(0, 400 if box is None else box["y"] - height / 2)
        await page.wait_for_timeout(400)
    raise AssertionError(f"could not scroll {locator} into view")


async def tap_until(button: Any, answer: Any) -> None:
    """Tap a button until what it should bring is visible (a form, a dialog, a message): a tap that
    landed while the screen was still drawing is tapped again, as a person would. Only for taps
    that do no harm twice (opening, validating, moving a day)."""
    from playwright.async_api import expect

    for _attempt in range(3):
        if await button.count():  # gone: the first tap was taken, its answer is on the way
            await button.click()
        try:
            await expect(answer).to_be_visible(timeout=15_000)
            return
        except AssertionError:
            continue
    await expect(answer).to_be_visible()


async def fill_and_tap(page: Any, fields: dict[str, str], button: Any, answer: Any, refusal: Any) -> None:
    """Type the fields and tap until the answer shows. When the app answers with `refusal` instead
    (it has not got the text: keystrokes can reach the page before Flutter attaches its editor),
    type the fields again and tap again, as a person told "enter the name" would."""
    for label, text in fields.items():
        await type_into(page, label, text)
    await tap_until(button, answer.or_(refusal))
    if await answer.count():
        return
    for label, text in fields.items():
        await type_into(page, label, text)
    await tap_until(button, answer)


async def tap_until_gone(button: Any) -> None:
    """Tap a button whose answer removes it (accept, send) and wait until it is gone; a tap that
    landed while the screen was still drawing is tapped again, as a person would."""
    from playwright.async_api import expect

    for _attempt in range(3):
        if await button.count():
            await button.click()
        try:
            await expect(button).to_have_count(0, timeout=15_000)
            return
        except AssertionError:
            continue
    await expect(button).to_have_count(0)


async def pick(page: Any, role: str, name: str, *, exact: bool = True) -> None:
    """Tap a radio or checkbox until it shows checked: a tap that lands while the screen is being
    redrawn (just after login, say) is lost, and a person taps again. `exact=False`: the name is
    part of the control's (a hospital's, followed by its distance and state)."""
    from playwright.async_api import expect

    control = page.get_by_role(role, name=name, exact=exact)
    for _attempt in range(3):
        await control.click()
        try:
            await expect(control).to_be_checked(timeout=10_000)
            return
        except AssertionError:
            continue
    await expect(control).to_be_checked()


async def choose(page: Any, menu: str, option: str, answer: Any) -> None:
    """Open the dropdown named `menu` (unless it is open), tap `option`, and wait for `answer` (what
    the choice shows); a menu closed by a redraw before the tap landed is opened again, as a person
    would."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout
    from playwright.async_api import expect

    entry = page.get_by_role("button", name=option, exact=True)
    for _attempt in range(3):
        if not await entry.count():
            await page.get_by_role("button", name=menu, exact=True).click()
        with contextlib.suppress(PlaywrightTimeout):
            await entry.click(timeout=10_000)
        try:
            await expect(answer).to_be_visible(timeout=20_000)
            return
        except AssertionError:
            continue
    await expect(answer).to_be_visible()


async def sign_in(page: Any, email: str | None, password: str) -> None:
    """Fill the login form shown on `page` and submit it; "ログイン" is enabled once both fields
    hold something, which is what a person waits for too. With `email` None only the password is
    typed: the form must still hold the e-mail (as it does after a logout or a wrong password)."""
    from playwright.async_api import expect

    button = page.get_by_role("button", name="ログイン")
    for _attempt in range(4):
        if email is not None:
            await type_into(page, "メールアドレス", email)
        await type_into(page, "パスワード", password)
        try:
            # The DOM can show text the app never received (keystrokes before its editor attached):
            # the enabled button is the app's own word that it has both fields.
            await expect(button).to_be_enabled(timeout=5_000)
            break
        except AssertionError:
            continue
    await expect(button).to_be_enabled()
    await button.click()


class CuttableLink:
    """A TCP proxy between the browser and the web client that a test can cut and restore, like a
    tunnel or a dead zone: cutting drops every open connection and refuses new ones until restored."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.cut_off = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        self.cut_off = True
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        self.cut_off = False

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            client_writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers |= {client_writer, upstream_writer}

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.transport.abort()

        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))
        self._writers -= {client_writer, upstream_writer}
