"""The administrator's home: members, invitations, and the audit log filtered by subject."""

from __future__ import annotations

from functools import partial

import flet as ft

from mobile.state.admin import AdminModel
from mobile.views.staff_widgets import nav_button
from mobile.views.widgets import MUTED, TARGET, Shell, error_line, heading, local_time

ROLES = ("staff", "admin")


async def open_home(shell: Shell) -> AdminModel:
    session = shell.session
    # The prefecture's admin first: their view spans every organisation's audit entries.
    admin_of = [m for m in session.memberships if m.role == "admin"]
    admin_of.sort(key=lambda m: m.organization_kind != "prefecture")
    assert admin_of  # the home is only chosen for admins
    model = AdminModel(session.api, admin_of[0].organization_id)
    await model.resync()
    return model


def view(shell: Shell, model: AdminModel) -> list[ft.Control]:
    t = shell.t
    controls: list[ft.Control] = [heading(t("members"))]
    for member in model.members:
        controls.append(ft.Text(f"{member['displayName']} · {member['email']} · {t('role_' + member['role'])}"))

    def keep_email(event: ft.Event[ft.TextField]) -> None:
        model.email = event.data or ""

    async def choose(role: str) -> None:
        model.role = role

    controls += [
        heading(t("invitations")),
        ft.Row(
            [
                ft.TextField(label=t("email"), value=model.email, width=280, on_change=keep_email),
                *(
                    (ft.Button if role == model.role else ft.OutlinedButton)(
                        t("role_" + role), height=TARGET, on_click=shell.act(partial(choose, role))
                    )
                    for role in ROLES
                ),
                ft.Button(t("invite"), height=TARGET, on_click=shell.act(model.invite)),
            ],
            wrap=True,
        ),
    ]
    if not model.invitations:
        controls.append(ft.Text(t("no_items")))
    for invitation in model.invitations:
        controls.append(
            ft.Row(
                [
                    ft.Text(f"{invitation['email']} · {t('role_' + invitation['role'])}", expand=True),
                    ft.OutlinedButton(
                        f"{t('revoke')}: {invitation['email']}",
                        height=TARGET,
                        on_click=shell.act(partial(model.revoke, invitation["id"])),
                    ),
                ],
                wrap=True,
            )
        )

    subject_type = ft.TextField(label=t("subject_type"), value=model.subject_type, hint_text="child", width=180)
    subject_id = ft.TextField(label=t("subject_id"), value=model.subject_id, width=140)

    async def apply_filter() -> None:
        await model.filter_audit(subject_type.value or "", subject_id.value or "")

    controls += [
        heading(t("audit_log")),
        ft.Row(
            [
                subject_type,
                subject_id,
                ft.Button(t("filter"), height=TARGET, on_click=shell.act(apply_filter)),
                nav_button(ft.Icons.REFRESH, t("refresh"), shell.act(model.resync)),
            ],
            wrap=True,
        ),
    ]
    if not model.audit:
        controls.append(ft.Text(t("no_items")))
    for entry in model.audit:
        who = entry["actorName"] or entry["actorEmail"] or "—"
        line = f"{entry['at'][:10]} {local_time(entry['at'])} · {who} · {entry['action']} · "
        line += f"{entry['subjectType']} #{entry['subjectId']}"
        controls.append(ft.Text(line))
        if entry.get("reason"):
            controls.append(ft.Text(entry["reason"], color=MUTED))
    return controls + error_line(t, model.error)
