"""The shell of the Flet client: header, routing to one home per role, live updates, and the
connection to the browser. It only composes; each home lives in its own module.

A web session's browser link can drop at any time (tunnels, dead zones, a laptop lid). While it
is down the server cannot draw anything: the browser keeps the last screen, read-only, under a
banner of its own (mobile/web.py). When the link returns, Flet re-attaches the same session and
fires `connect`; the shell then redraws everything and refetches the home's data, because updates
sent while the link was down were dropped, not queued. Nothing on the drawing path waits for
the browser (a chime is played in the background with a timeout), so a dead link cannot stall it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import flet as ft
import flet_audio as fta
import flet_geolocator as ftg

from mobile.api import ApiError, Failure, MusubiApi
from mobile.fonts import FAMILY
from mobile.realtime import LiveConnection
from mobile.send_queue import QueueStore
from mobile.sounds import alert_tone
from mobile.state.account import AccountModel
from mobile.state.er import ErModel
from mobile.state.i18n import Translator
from mobile.state.paramedic import ParamedicModel
from mobile.state.session import SessionModel
from mobile.views import account, admin, er, facility, intake, nursery, paramedic, resident
from mobile.views.pending_input import ShownInput, catch_up, watch_inputs
from mobile.views.widgets import BIG, STATE_COLORS, TARGET, Handler, badge, error_line
from schema.events import Event

log = logging.getLogger("musubi.web")

CHIME_TIMEOUT_SECONDS = 3.0
CHIME_ATTEMPTS = 5
CHIME_RETRY_SECONDS = 1.0
PREFERENCE_TIMEOUT_SECONDS = 3.0
# Long enough for a person to answer the browser's "allow location?" prompt and for a first fix.
LOCATE_TIMEOUT_SECONDS = 30.0
SCREEN_KEY = "screen"  # the root every redraw of one screen is reconciled against (see `render`)


class HomeModel(Protocol):
    error: Failure | None

    async def on_event(self, event: Event) -> None: ...

    async def resync(self) -> None: ...


@dataclass(frozen=True)
class Home:
    """A role's home: how its view model is opened at login, and how it is drawn."""

    open: Callable[[Any], Awaitable[Any]]
    view: Callable[[Any, Any], list[ft.Control]]
    watchdog_seconds: float | None = None  # refetch this often as a safety net under the live stream
    chime: bool = False  # the home sounds an alert


# The one table of homes: login opens the entry for the person's role, rendering draws it.
HOMES: dict[str, Home] = {
    "paramedic": Home(paramedic.open_home, paramedic.view),
    "er": Home(er.open_home, er.view, watchdog_seconds=er.WATCHDOG_SECONDS, chime=True),
    "caseworker": Home(intake.open_home, intake.view),
    "shelter": Home(intake.open_home, intake.view),
    "resident": Home(resident.open_home, resident.view),
    "nursery": Home(nursery.open_home, nursery.view),
    "facility": Home(facility.open_home, facility.view),
    "admin": Home(admin.open_home, admin.view),
}


def home_for(role_home: str) -> Home:
    return HOMES.get(role_home, HOMES["resident"])


@dataclass(frozen=True)
class PreferencesStore:
    """The send queue's store on this device, one key per person: Flet's SharedPreferences, which is
    the browser's localStorage on the web build, so a reloaded or reopened page finds what waits."""

    app: MusubiApp
    key: str

    async def load(self) -> str | None:
        value = await self.app._preferences(lambda prefs: prefs.get(self.key))
        return value if isinstance(value, str) else None

    async def save(self, text: str) -> None:
        # While the browser is away the queue still sends from here; waiting out a storage timeout
        # per item would only slow it. The next flush after the browser returns stores the state.
        if self.app.browser_connected:
            await self.app._preferences(lambda prefs: prefs.set(self.key, text))


class MusubiApp:
    def __init__(self, page: ft.Page, api_url: str, gateway_url: str | None = None) -> None:
        self.page = page
        self.t = Translator("ja")
        self.session = SessionModel(MusubiApi(api_url, user_agent=page.client_user_agent))
        self.gateway_url = gateway_url
        self.live: LiveConnection | None = None
        self.live_state = "offline"
        self.model: HomeModel | None = None
        self.account: AccountModel | None = None  # the account screen, open over the home
        self.browser_connected = True  # the Flet session's link to the browser
        self.chime: fta.Audio | None = None
        self.chimed = 0
        self._watchdog: asyncio.Task[None] | None = None
        self.preferences: ft.SharedPreferences | None = None
        self.geolocator: ftg.Geolocator | None = None
        self.shown_inputs: list[ShownInput] = []  # the inputs of the last redraw, as drawn
        self.catching_up = False

    # -- plumbing ---------------------------------------------------------------------------

    def act(self, work: Callable[[], Awaitable[object]]) -> Handler:
        """An event handler that runs `work`, then redraws."""

        async def handler(_: Any) -> None:
            # The action reads what the fields show, even text whose change event has not run yet
            # (the placement once refused "enter the name" with the name on the screen).
            self.catch_up_inputs()
            await work()
            self.render()

        return handler

    def catch_up_inputs(self) -> None:
        """What was typed since the last redraw reaches the models (see pending_input)."""
        self.catching_up = True
        try:
            catch_up(self.shown_inputs)
        finally:
            self.catching_up = False

    def render(self) -> None:
        """Draw the whole screen from the models. While the browser is away there is nobody to draw
        for (Flet drops the updates): the redraw on `connect` brings it up to date.

        The screen is rebuilt as new Python objects, but under one keyed root, so Flet reconciles
        it with what the browser shows like React does: a control of the same type at the same
        place keeps its identity and only its changed properties travel. Without the key every
        redraw (a live-state change, an event) replaced every widget, and a tap that landed during
        the swap went to a widget that no longer existed and was lost.

        The root's key names the screen (login, account, which home): going to another screen
        builds it afresh, so no field of the one left (its typed text, its focus) lives on in
        whatever control happens to stand at the same place on the next."""
        if not self.browser_connected or self.catching_up:
            return  # a binding that redraws while being caught up: this redraw follows anyway
        self.catch_up_inputs()  # what was typed reaches the models before they are drawn
        name, controls = self.screen()
        root = ft.Column(controls, key=f"{SCREEN_KEY}:{name}")
        self.shown_inputs = watch_inputs(root)
        self.page.controls[:] = [root]
        self.page.update()
        self.ring_if_due()

    async def start(self) -> None:
        self.page.title = "Musubi 結び"
        self.page.scroll = ft.ScrollMode.AUTO
        self.page.padding = 12
        self.page.theme_mode = ft.ThemeMode.LIGHT
        self.page.on_connect = self.on_browser_connect
        self.page.on_disconnect = self.on_browser_disconnect
        self.page.on_close = self.on_session_closed
        self.render()

    async def on_browser_disconnect(self, _: Any) -> None:
        log.info("browser link lost; keeping the session")
        self.browser_connected = False

    async def on_browser_connect(self, _: Any) -> None:
        log.info("browser link back; redrawing and refetching")
        self.browser_connected = True
        self.render()
        self.nudge_send_queue()
        await self.resync()

    async def on_session_closed(self, _: Any) -> None:
        """The browser never came back: stop listening for it."""
        await self.stop_home()

    async def resync(self) -> None:
        if self.model is not None:
            await self.model.resync()
        self.render()

    async def on_event(self, event: Event) -> None:
        if self.model is not None:
            await self.model.on_event(event)
        self.render()

    def on_state(self, state: str) -> None:
        self.live_state = state
        if state == "live":
            self.nudge_send_queue()
        self.render()

    def nudge_send_queue(self) -> None:
        """The connection is back: what the send queue holds goes now, not at its next retry."""
        if isinstance(self.model, ParamedicModel):
            self.model.queue.nudge()

    def ring_if_due(self) -> None:
        """Sound the chime for alerts not yet sounded, without waiting for the browser to play it:
        a browser that cannot play (or has gone) must never hold up the screen."""
        if not (isinstance(self.model, ErModel) and self.chime is not None and self.model.chimes > self.chimed):
            return
        self.chimed = self.model.chimes
        chime = self.chime

        async def play() -> None:
            # A page that has just come back (reloaded after a dropped link) may not have built its
            # audio yet, and the first play is refused: an alert that arrived meanwhile must still
            # sound, so try again while this browser is here (a rare double chime beats none).
            for attempt in range(1, CHIME_ATTEMPTS + 1):
                try:
                    await asyncio.wait_for(chime.play(), CHIME_TIMEOUT_SECONDS)
                    return
                except Exception as error:  # whatever the browser answers, try again
                    log.info("chime not played (attempt %d): %s", attempt, type(error).__name__)
                if not self.browser_connected or chime is not self.chime:
                    return
                await asyncio.sleep(CHIME_RETRY_SECONDS)

        self.page.run_task(play)

    async def watchdog(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            await self.resync()

    # -- screens ------------------------------------------------------------------------------

    def screen(self) -> tuple[str, list[ft.Control]]:
        """The screen to show and its name (login, account, which home)."""
        if self.session.me is None or self.model is None:
            return "login", self.login_screen()
        if self.account is not None:
            back = self.act(self.close_account)
            return "account", [
                self.header(),
                ft.Divider(),
                *account.view(self, self.account, back, self.account_deleted),
            ]
        home = self.session.home
        return f"home:{home}", [self.header(), ft.Divider(), *home_for(home).view(self, self.model)]

    def header(self) -> ft.Control:
        t = self.t
        assert self.session.me is not None
        return ft.Row(
            [
                ft.Text(t("app_title"), size=20, weight=ft.FontWeight.BOLD),
                ft.Text(self.session.me.display_name),
                badge(t(self.live_state), STATE_COLORS.get(self.live_state, ft.Colors.GREY_800)),
                ft.TextButton(t("language"), height=TARGET, on_click=self.act(self.toggle_language)),
                ft.TextButton(t("account"), icon=ft.Icons.PERSON, height=TARGET, on_click=self.act(self.open_account)),
                ft.TextButton(t("logout"), height=TARGET, on_click=self.act(self.logout)),
                *self.role_switcher(),
            ],
            wrap=True,
        )

    def role_switcher(self) -> list[ft.Control]:
        """One button per home for people with several memberships; the current one filled."""
        homes = self.session.homes
        if len(homes) < 2:
            return []
        return [
            (ft.Button if home == self.session.home else ft.OutlinedButton)(
                f"{self.t('switch_to')}: {self.t('home_' + home)}",
                height=TARGET,
                on_click=self.act(partial(self.switch_home, home)),
            )
            for home in homes
        ]

    def login_screen(self) -> list[ft.Control]:
        t, session = self.t, self.session
        submit = self.act(self.login)
        # Enabled once both fields hold something, so nobody sends (and is scolded for) an empty form.
        button = ft.Button(t("login"), on_click=submit, height=BIG, width=360, disabled=not session.can_log_in)

        def typed(name: str) -> Callable[[ft.Event[ft.TextField]], None]:
            def keep(event: ft.Event[ft.TextField]) -> None:
                setattr(session, name, event.data or "")
                if button.disabled == session.can_log_in:
                    # Redraw rather than update this button: each redraw is reconciled onto the last,
                    # so this Python object may not be the one on screen, and Flet freezes reconciled
                    # controls (updating one in place crashed the session).
                    self.render()

            return keep

        return [
            ft.Text(t("app_title"), size=28, weight=ft.FontWeight.BOLD),
            ft.TextField(
                label=t("email"),
                value=session.email,
                autofocus=True,
                width=360,
                keyboard_type=ft.KeyboardType.EMAIL,
                on_change=typed("email"),
                on_submit=submit,
            ),
            ft.TextField(
                label=t("password"),
                value=session.password,
                password=True,
                width=360,
                on_change=typed("password"),
                on_submit=submit,
            ),
            button,
            ft.TextButton(t("language"), height=TARGET, on_click=self.act(self.toggle_language)),
            *error_line(t, session.error),
        ]

    async def toggle_language(self) -> None:
        self.t.toggle()

    # -- homes ----------------------------------------------------------------------------------

    def _preference_key(self) -> str:
        assert self.session.me is not None
        return f"musubi.home.{self.session.me.id}"

    async def _preferences(self, work: Callable[[ft.SharedPreferences], Awaitable[Any]]) -> Any:
        """Read or write this device's storage; a browser that does not answer must not hold up login."""
        if self.preferences is None:
            self.preferences = ft.SharedPreferences()
            self.page.services.append(self.preferences)
        with contextlib.suppress(Exception):
            return await asyncio.wait_for(work(self.preferences), PREFERENCE_TIMEOUT_SECONDS)
        return None

    async def remember(self, name: str, value: str) -> None:
        """Keep a small setting of this person on this device (e.g. the resident's search filters)."""
        assert self.session.me is not None
        key = f"musubi.{name}.{self.session.me.id}"
        await self._preferences(lambda prefs: prefs.set(key, value))

    async def recall(self, name: str) -> Any:
        """What `remember` kept, or None (nothing kept, or a browser that does not answer in time)."""
        assert self.session.me is not None
        key = f"musubi.{name}.{self.session.me.id}"
        return await self._preferences(lambda prefs: prefs.get(key))

    async def locate(self) -> tuple[float, float] | None:
        """The device's position (latitude, longitude) when the person allows it; None when they do not,
        the device has no fix, or the browser does not answer in time. Asks the browser itself (the
        Geolocator service of the prebuilt web client): nothing is fetched from elsewhere."""
        if self.geolocator is None:
            self.geolocator = ftg.Geolocator()
            self.page.services.append(self.geolocator)
        try:
            position = await asyncio.wait_for(self.geolocator.get_current_position(), LOCATE_TIMEOUT_SECONDS)
        except Exception as error:  # denied, no fix, timed out: each means "not known"
            log.info("no device position: %s", error)
            return None
        if position.latitude is None or position.longitude is None:
            return None
        return float(position.latitude), float(position.longitude)

    def queue_store(self) -> QueueStore:
        """The send queue's store, bound to this person now (not looked up per call like `remember`):
        a save that lands after a logout must not write into the next person's queue."""
        assert self.session.me is not None
        return PreferencesStore(self, f"musubi.send_queue.{self.session.me.id}")

    async def switch_home(self, home: str) -> None:
        """Close the current home and open the chosen one; this device remembers the choice."""
        if home == self.session.home or home not in self.session.homes:
            return
        key = self._preference_key()
        await self._preferences(lambda prefs: prefs.set(key, home))
        await self.stop_home()
        self.account = None
        self.session.chosen = home
        await self.open_home()

    async def login(self) -> None:
        if not self.session.can_log_in or not await self.session.login():
            return
        if len(self.session.homes) > 1:
            key = self._preference_key()
            remembered = await self._preferences(lambda prefs: prefs.get(key))
            self.session.chosen = remembered if isinstance(remembered, str) else None
        await self.open_home()

    async def open_home(self) -> None:
        home = home_for(self.session.home)
        self.model = await home.open(self)
        if isinstance(self.model, ParamedicModel):
            # Each item's state on screen as it changes; what retries sent, picked up by the home.
            self.model.queue.on_change, self.model.queue.on_drained = self.render, self.resync
        if home.chime:
            self.chime = fta.Audio(src=alert_tone())
            self.page.services.append(self.chime)
        if home.watchdog_seconds is not None:
            self._watchdog = asyncio.create_task(self.watchdog(home.watchdog_seconds))
        self.live = LiveConnection(
            self.session.api, self.on_event, self.on_state, on_resync=self.resync, url_override=self.gateway_url
        )
        self.live.start()

    async def stop_home(self) -> None:
        if isinstance(self.model, ParamedicModel):
            await self.model.queue.close()  # what still waits stays in this device's storage
        self.model = None
        if self.chime is not None:
            self.page.services.remove(self.chime)
            self.chime, self.chimed = None, 0
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self.live is not None:
            await self.live.stop()
            self.live = None

    # -- the account screen ---------------------------------------------------------------------

    async def open_account(self) -> None:
        assert self.session.me is not None
        self.account = AccountModel(self.session.api, self.session.me)
        try:
            await self.account.load()
        except ApiError as error:
            self.account.error = error

    async def close_account(self) -> None:
        if self.account is not None:
            self.session.me = self.account.me  # the name in the header may have changed
        self.account = None

    async def account_deleted(self) -> None:
        await self.logout()

    async def logout(self) -> None:
        self.account = None
        await self.stop_home()
        await self.session.logout()


def make_main(
    api_url: str, gateway_url: str | None = None, font_url: str | None = None
) -> Callable[[ft.Page], Awaitable[None]]:
    async def main(page: ft.Page) -> None:
        if font_url is not None:
            page.fonts = {FAMILY: font_url}
            page.theme = ft.Theme(font_family=FAMILY)
        app = MusubiApp(page, api_url, gateway_url)
        await app.start()
        await asyncio.sleep(0)

    return main
