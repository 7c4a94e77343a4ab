"""The account screen: one column of sections, phone-first, the same for every role."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import flet as ft

from mobile.state.account import CHANNELS, NOTICE_KINDS, AccountModel, Channel
from mobile.views.widgets import BIG, MUTED, TARGET, Handler, Shell, choice_button, error_line, heading, local_time
from schema.accounts import NoticeKind

LOCALES = (("ja", "日本語"), ("en", "English"))
FIELD_WIDTH = 360


def _bound(model: AccountModel, name: str) -> Callable[[ft.Event[ft.TextField]], None]:
    """Keep a field's text in the model, so a redraw never wipes what was typed."""

    def keep(event: ft.Event[ft.TextField]) -> None:
        setattr(model, name, event.data or "")

    return keep


def _field(model: AccountModel, name: str, label: str, *, password: bool = False, email: bool = False) -> ft.TextField:
    return ft.TextField(
        label=label,
        value=getattr(model, name),
        password=password,
        can_reveal_password=password,
        keyboard_type=ft.KeyboardType.EMAIL if email else ft.KeyboardType.TEXT,
        width=FIELD_WIDTH,
        key=f"{name}-{model.sent}",
        on_change=_bound(model, name),
    )


def view(shell: Shell, model: AccountModel, back: Handler, deleted: Callable[[], Awaitable[None]]) -> list[ft.Control]:
    t = shell.t
    return [
        ft.Row(
            [
                ft.TextButton(t("back_home"), icon=ft.Icons.ARROW_BACK, height=TARGET, on_click=back),
                heading(t("account"), size=22),
            ],
            wrap=True,
        ),
        *_feedback(shell, model, ""),
        *_profile(shell, model),
        *_language(shell, model),
        heading(t("change_password")),
        _field(model, "current_password", t("current_password"), password=True),
        _field(model, "new_password", t("new_password"), password=True),
        ft.Button(t("change_password"), height=TARGET, on_click=_acted(shell, model, model.change_password)),
        *_feedback(shell, model, "password"),
        *_calendar(shell, model),
        *_sessions(shell, model),
        heading(t("notices")),
        ft.Text(t("notices_help"), color=MUTED),
        *(
            ft.Row(
                [
                    ft.Text(t("notice_" + kind), expand=True),
                    *(_notice_box(shell, model, channel, kind) for channel in CHANNELS),
                ]
            )
            for kind in NOTICE_KINDS
        ),
        *_feedback(shell, model, "notices"),
        *_leaving(shell, model, deleted),
    ]


def _acted(shell: Shell, model: AccountModel, work: Callable[[], Awaitable[object]]) -> Handler:
    """Run an action, redraw, and say how it went in a snack bar at the bottom of the window: the
    redraw may leave the screen scrolled away from the section's own line (replacing a focused
    field scrolled the page back to the top)."""

    async def run() -> None:
        await work()
        if model.error is not None:
            text, color = shell.t.failure(model.error), ft.Colors.RED_800
        elif model.notice is not None:
            text, color = shell.t(model.notice), ft.Colors.GREEN_800
        else:
            return
        shell.page.show_dialog(ft.SnackBar(ft.Text(text, color=ft.Colors.WHITE), bgcolor=color))

    return shell.act(run)


def _feedback(shell: Shell, model: AccountModel, section: str) -> list[ft.Control]:
    """The last action's outcome, under the section it came from: on a long phone screen a message at
    the top would be out of sight of the button just pressed."""
    if model.section != section:
        return []
    lines = error_line(shell.t, model.error)
    if model.notice is not None:
        lines.append(ft.Text(shell.t(model.notice), color=ft.Colors.GREEN_900, weight=ft.FontWeight.BOLD))
    return lines


def _profile(shell: Shell, model: AccountModel) -> list[ft.Control]:
    """The name others see, and the address (a new one is verified again before it may book)."""
    t, me = shell.t, model.me
    verified = t("email_verified") if me.email_verified else t("email_unverified")
    return [
        heading(t("profile")),
        _field(model, "display_name", t("display_name")),
        ft.Button(t("save_name"), height=TARGET, on_click=_acted(shell, model, model.save_name)),
        *_feedback(shell, model, "profile"),
        ft.Text(f"{t('email')}: {me.email}"),
        ft.Text(verified, color=MUTED if me.email_verified else ft.Colors.RED_800),
        _field(model, "new_email", t("new_email"), email=True),
        _field(model, "email_password", t("password_to_confirm"), password=True),
        ft.Button(t("change_email"), height=TARGET, on_click=_acted(shell, model, model.change_email)),
        *_feedback(shell, model, "email"),
    ]


def _language(shell: Shell, model: AccountModel) -> list[ft.Control]:
    async def choose(locale: str) -> None:
        if await model.set_locale(locale):
            shell.t.locale = locale  # the account's language is the screen's from now on

    return [
        heading(shell.t("account_language")),
        ft.Row(
            [
                choice_button(name, model.me.locale == locale, shell.act(partial(choose, locale)))
                for locale, name in LOCALES
            ],
            wrap=True,
        ),
        *_feedback(shell, model, "language"),
    ]


def _calendar(shell: Shell, model: AccountModel) -> list[ft.Control]:
    """The personal feed's secret URL, shown once when issued; issuing again kills the old one."""
    t = shell.t
    controls: list[ft.Control] = [heading(t("calendar_feed")), ft.Text(t("calendar_feed_help"), color=MUTED)]
    if model.feed is not None:
        feed = model.feed

        async def copy(url: str) -> None:
            clipboard = ft.Clipboard()
            shell.page.services.append(clipboard)
            await clipboard.set(url)

        # Shown whole (a phone's calendar app wants all of it) and copied with one tap: the webcal://
        # form is what Apple Calendar and Outlook subscribe to.
        for label, url in ((t("feed_url"), feed.url), (t("feed_webcal_url"), feed.webcal_url)):
            controls += [
                ft.Text(f"{label}: {url}", size=14),
                ft.TextButton(
                    f"{t('copy')}: {label}", icon=ft.Icons.COPY, height=TARGET, on_click=shell.act(partial(copy, url))
                ),
            ]
    controls += [
        ft.Row(
            [
                ft.Button(
                    t("issue_feed" if model.feed is None else "regenerate_feed"),
                    icon=ft.Icons.EVENT,
                    height=TARGET,
                    on_click=_acted(shell, model, model.issue_feed),
                ),
                ft.TextButton(t("revoke_feed"), height=TARGET, on_click=_acted(shell, model, model.revoke_feed)),
            ],
            wrap=True,
        ),
        *_feedback(shell, model, "feed"),
    ]
    return controls


# (word in a User-Agent, what a person calls it), most specific first: Edge and Chrome both say "Safari".
BROWSERS = (("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"),
           ("Mac OS", "Mac"), ("Linux", "Linux"))  # fmt: skip


def device_name(user_agent: str) -> str:
    """A browser's User-Agent in the words a person knows ("Chrome · Android"); anything else as sent."""
    browser = next((name for word, name in BROWSERS if word in user_agent), None)
    system = next((name for word, name in SYSTEMS if word in user_agent), None)
    if browser is None:
        return user_agent[:60]
    return f"{browser} · {system}" if system else browser


def _sessions(shell: Shell, model: AccountModel) -> list[ft.Control]:
    t = shell.t
    controls: list[ft.Control] = [heading(t("sessions"))]
    for session in model.sessions:
        device = device_name(session.device) if session.device else t("unknown_device")
        used = session.last_used_at or session.created_at
        line = f"{device} · {t('last_used')} {used.date()} {local_time(used)}"
        if session.current:
            controls.append(ft.Text(f"{line} · {t('this_device')}", weight=ft.FontWeight.BOLD))
            continue
        controls += [
            ft.Text(line),
            ft.OutlinedButton(
                t("end_session"),
                height=TARGET,
                on_click=_acted(shell, model, partial(model.revoke_session, session.id)),
            ),
        ]
    if len(model.sessions) > 1:
        end_others = _acted(shell, model, model.revoke_other_sessions)
        controls.append(ft.TextButton(t("end_other_sessions"), height=TARGET, on_click=end_others))
    return controls + _feedback(shell, model, "sessions")


def _leaving(shell: Shell, model: AccountModel, deleted: Callable[[], Awaitable[None]]) -> list[ft.Control]:
    """The person's rights over their data (APPI): a copy of everything held, and deletion."""
    t = shell.t

    async def save_export() -> None:
        if (data := await model.export()) is not None:
            picker = ft.FilePicker()
            shell.page.services.append(picker)
            await picker.save_file(file_name="musubi-my-data.json", src_bytes=data)

    return [
        heading(t("data_export")),
        ft.Text(t("export_help"), color=MUTED),
        ft.OutlinedButton(
            t("download_export"), icon=ft.Icons.DOWNLOAD, height=TARGET, on_click=_acted(shell, model, save_export)
        ),
        *_feedback(shell, model, "export"),
        heading(t("delete_account")),
        ft.Text(t("delete_help"), color=MUTED),
        ft.OutlinedButton(
            t("delete_account"),
            icon=ft.Icons.DELETE_FOREVER,
            height=TARGET,
            style=ft.ButtonStyle(color=ft.Colors.RED_800),
            on_click=partial(_confirm_deletion, shell, model, deleted),
        ),
        *_feedback(shell, model, "delete"),
    ]


def _notice_box(shell: Shell, model: AccountModel, channel: Channel, kind: NoticeKind) -> ft.Control:
    async def toggle(event: ft.Event[ft.Checkbox]) -> None:
        await model.set_notice(channel, kind, bool(event.control.value))
        shell.render()

    return ft.Checkbox(
        label=shell.t("channel_" + channel),
        value=model.notices_on(channel, kind),
        on_change=toggle,
    )


async def _confirm_deletion(
    shell: Shell, model: AccountModel, deleted: Callable[[], Awaitable[None]], _: Any = None
) -> None:
    """Deletion cannot be undone, so it asks once more in a dialog that names what happens."""
    t = shell.t

    async def keep(_: Any) -> None:
        shell.page.pop_dialog()

    async def delete(_: Any) -> None:
        shell.page.pop_dialog()
        if await model.delete():
            await deleted()
        shell.render()

    shell.page.show_dialog(
        ft.AlertDialog(
            modal=True,
            title=ft.Text(t("delete_confirm_title")),
            content=ft.Text(t("delete_confirm_body")),
            actions=[
                ft.TextButton(t("keep_account"), height=TARGET, on_click=keep),
                ft.Button(
                    t("delete_confirm"),
                    height=BIG,
                    bgcolor=ft.Colors.RED_800,
                    color=ft.Colors.WHITE,
                    on_click=delete,
                ),
            ],
        )
    )
