"""The administrator's home: members and invitations, the audit log, and (prefecture) the dashboard."""

from __future__ import annotations

from functools import partial

import flet as ft

from mobile.state.admin import AdminModel, Section, dashboard
from mobile.views.charts import bar_chart
from mobile.views.staff_widgets import nav_button
from mobile.views.widgets import MUTED, TARGET, Shell, choice_button, error_line, heading, local_time

# The kinds of record an auditor asks about most; "" is every kind.
AUDIT_KINDS = ("", "child", "ems_case", "intake_request", "booking", "account", "organization")


async def open_home(shell: Shell) -> AdminModel:
    session = shell.session
    # The prefecture's admin first: their view spans every organisation's audit entries.
    admin_of = [m for m in session.memberships if m.role == "admin"]
    admin_of.sort(key=lambda m: m.organization_kind != "prefecture")
    assert admin_of  # the home is only chosen for admins
    model = AdminModel(session.api, admin_of[0].organization_id, admin_of[0].organization_kind)
    await model.resync()
    return model


def view(shell: Shell, model: AdminModel) -> list[ft.Control]:
    t = shell.t
    sections: list[Section] = ["members", "audit", *(["dashboard"] if model.sees_dashboard else [])]  # type: ignore[list-item]
    controls: list[ft.Control] = [
        ft.Row(
            [choice_button(t("section_" + s), s == model.section, shell.act(partial(model.show, s))) for s in sections],
            wrap=True,
        ),
        *error_line(t, model.error),
    ]
    if model.section == "audit":
        return controls + _audit(shell, model)
    if model.section == "dashboard":
        return controls + _dashboard(shell, model)
    return controls + _members(shell, model)


def _members(shell: Shell, model: AdminModel) -> list[ft.Control]:
    t = shell.t
    controls: list[ft.Control] = [heading(t("members"))]
    for member in model.members:
        roles = ", ".join(t("role_" + role) for role in member.roles)
        controls.append(ft.Text(f"{member.display_name} · {member.email} · {roles}"))

    def keep_email(event: ft.Event[ft.TextField]) -> None:
        model.email = event.data or ""

    controls += [
        heading(t("invite_member")),
        ft.TextField(
            label=t("email"),
            value=model.email,
            # A new field after each invitation sent: the old one would keep the browser's text, since
            # an empty value redrawn over an empty value is no change to Flet.
            key=f"invite-{model.invitations_sent}",
            width=320,
            keyboard_type=ft.KeyboardType.EMAIL,
            on_change=keep_email,
        ),
        ft.Row(
            [
                ft.Text(t("role")),
                *(
                    choice_button(t("role_" + role), role == model.role, shell.act(partial(model.choose_role, role)))
                    for role in model.roles
                ),
            ],
            wrap=True,
        ),
        ft.Button(t("invite"), icon=ft.Icons.SEND, height=TARGET, on_click=shell.act(model.invite)),
        heading(t("invitations")),
    ]
    if not model.invitations:
        controls.append(ft.Text(t("no_items")))
    for invitation in model.invitations:
        until = f"{t('expires')} {invitation.expires_at.date()}"
        # Text then button, not a wrapping row: a text that expands inside a wrap is laid out at no width.
        controls += [
            ft.Text(f"{invitation.email} · {t('role_' + invitation.role)} · {until}"),
            ft.OutlinedButton(
                f"{t('revoke')}: {invitation.email}",
                height=TARGET,
                on_click=shell.act(partial(model.revoke, invitation.id)),
            ),
        ]
    return controls


def _audit(shell: Shell, model: AdminModel) -> list[ft.Control]:
    t = shell.t

    def bound(name: str) -> ft.TextField:
        def keep(event: ft.Event[ft.TextField]) -> None:
            setattr(model, name, event.data or "")

        return ft.TextField(
            label=t("audit_" + name), value=getattr(model, name), width=170, on_change=keep, on_submit=apply
        )

    apply = shell.act(model.filter_audit)

    async def kind(subject_type: str) -> None:
        await model.filter_audit(subject_type)

    async def save_csv() -> None:
        if (data := await model.audit_csv()) is not None:
            picker = ft.FilePicker()
            shell.page.services.append(picker)
            await picker.save_file(file_name="audit.csv", src_bytes=data)

    controls: list[ft.Control] = [
        heading(t("audit_log")),
        ft.Text(t("audit_kind")),
        ft.Row(
            [
                choice_button(
                    t("kind_" + (subject_type or "all")),
                    model.subject_type == subject_type,
                    shell.act(partial(kind, subject_type)),
                )
                for subject_type in AUDIT_KINDS
            ],
            wrap=True,
        ),
        ft.Row(
            [
                bound("subject_id"),
                bound("actor"),
                ft.Button(t("filter"), icon=ft.Icons.FILTER_ALT, height=TARGET, on_click=apply),
                nav_button(ft.Icons.DOWNLOAD, t("download_csv"), shell.act(save_csv)),
            ],
            wrap=True,
        ),
        ft.Row(
            [
                nav_button(ft.Icons.CHEVRON_LEFT, t("newer"), shell.act(model.newer)),
                ft.Text(f"{t('page')} {model.page_number}"),
                nav_button(ft.Icons.CHEVRON_RIGHT, t("older"), shell.act(model.older)),
                nav_button(ft.Icons.REFRESH, t("refresh"), shell.act(model.resync)),
            ],
            wrap=True,
        ),
    ]
    if not model.audit:
        controls.append(ft.Text(t("no_items")))
    for entry in model.audit:
        who = " · ".join(filter(None, (entry.actor_name, entry.actor_email))) or "—"
        if entry.actor_account_id is not None:
            who += f" (#{entry.actor_account_id})"  # the id the actor filter takes
        lines: list[ft.Control] = [
            ft.Text(f"{entry.at.date()} {local_time(entry.at)} · {who}", weight=ft.FontWeight.BOLD),
            ft.Text(f"{entry.action} · {t('kind_' + entry.subject_type)} #{entry.subject_id}"),
        ]
        if entry.reason:
            lines.append(ft.Text(entry.reason, color=MUTED, size=13))
        controls.append(
            ft.Container(
                ft.Column(lines, spacing=2),
                padding=8,
                border=ft.Border.all(1, ft.Colors.GREY_400),
                border_radius=6,
            )
        )
    return controls


def _dashboard(shell: Shell, model: AdminModel) -> list[ft.Control]:
    t = shell.t
    controls: list[ft.Control] = [heading(t("dashboard")), ft.Text(t("dashboard_help"), color=MUTED)]
    if model.stats is None:
        return [*controls, ft.Text(t("no_data"))]
    return controls + [bar_chart(t, series) for series in dashboard(model.stats, model.municipalities)]
