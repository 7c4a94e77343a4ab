"""The administrator's home: members and invitations, the audit log, and (prefecture) the
organisations and the dashboard."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import flet as ft

from mobile.state.admin import CREATABLE_KINDS, NAME_MAX, ORGANIZATION_KINDS, AdminModel, Section, dashboard
from mobile.views.charts import bar_chart
from mobile.views.staff_widgets import nav_button
from mobile.views.widgets import MUTED, TARGET, Shell, ask, choice_button, error_line, heading, local_time
from schema.accounts import OrganizationKind
from schema.organizations import OrganizationDetail

# The kinds of record an auditor asks about most; "" is every kind.
AUDIT_KINDS = ("", "child", "ems_case", "intake_request", "booking", "account", "organization")


async def open_home(shell: Shell) -> AdminModel:
    session = shell.session
    # The prefecture's admin first: their view spans every organisation's audit entries.
    admin_of = [m for m in session.memberships if m.role == "admin"]
    admin_of.sort(key=lambda m: m.organization_kind != "prefecture")
    assert admin_of  # the home is only chosen for admins
    first = admin_of[0]
    section: Section = "organizations" if first.organization_kind == "prefecture" else "members"
    model = AdminModel(session.api, first.organization_id, first.organization_kind, section=section)
    await model.resync()
    return model


def view(shell: Shell, model: AdminModel) -> list[ft.Control]:
    t = shell.t
    sections: list[Section] = [
        *(["organizations"] if model.sees_organizations else []),  # type: ignore[list-item]
        "members",
        "audit",
        *(["dashboard"] if model.sees_dashboard else []),  # type: ignore[list-item]
    ]
    controls: list[ft.Control] = [
        ft.Row(
            [choice_button(t("section_" + s), s == model.section, shell.act(partial(model.show, s))) for s in sections],
            wrap=True,
        ),
        *error_line(t, model.error),
    ]
    if model.notice:
        controls.append(ft.Text(t(model.notice), color=ft.Colors.GREEN_800, weight=ft.FontWeight.BOLD))
    if model.section == "organizations" and model.sees_organizations:
        return controls + _organizations(shell, model)
    if model.section == "audit":
        return controls + _audit(shell, model)
    if model.section == "dashboard":
        return controls + _dashboard(shell, model)
    return controls + _members(shell, model)


# -- organisations (prefecture admin) --------------------------------------------------------------

ALL = "all"  # the dropdowns' "every kind" / "anywhere"
NONE = "none"  # no municipality


def _kind(value: str | None) -> OrganizationKind | None:
    return next((kind for kind in ORGANIZATION_KINDS if kind == value), None)


def _dropdown(
    label: str,
    value: str,
    options: Iterable[tuple[str, str]],
    on_pick: Callable[[str | None], Any],
    *,
    key: str,
    width: int = 200,
) -> ft.Control:
    """A dropdown named like the resident's search filters: what it chooses and what it holds (a
    dropdown's own semantics carry no name), merged into its node."""
    shown = dict(options)

    async def picked(event: Any) -> None:
        await on_pick(event.control.value)

    menu = ft.Dropdown(
        label=label,
        value=value,
        width=width,
        menu_height=420,
        on_select=picked,
        options=[ft.DropdownOption(key=k, text=text) for k, text in shown.items()],
    )
    return ft.MergeSemantics(ft.Semantics(content=menu, label=f"{label}: {shown.get(value, '')}", button=True), key=key)


def _organizations(shell: Shell, model: AdminModel) -> list[ft.Control]:
    t = shell.t
    names = model.municipalities if t.locale == "ja" else model.municipalities_en
    kinds = [(kind, t("org_kind_" + kind)) for kind in ORGANIZATION_KINDS]
    places = [(str(i), name) for i, name in names.items()]

    async def by_kind(value: str | None) -> None:
        await model.filter_kind(_kind(value))
        shell.render()

    async def by_municipality(value: str | None) -> None:
        await model.filter_municipality(int(value) if value and value.isdigit() else None)
        shell.render()

    controls: list[ft.Control] = [
        heading(t("organizations")),
        ft.Row(
            [
                _dropdown(
                    t("organization_kind"),
                    model.kind_filter or ALL,
                    [(ALL, t("kind_all")), *kinds],
                    by_kind,
                    key="filter-kind",
                ),
                _dropdown(
                    t("municipality"),
                    str(model.municipality_filter or ALL),
                    [(ALL, t("anywhere")), *places],
                    by_municipality,
                    key="filter-municipality",
                    width=240,
                ),
            ],
            wrap=True,
        ),
    ]
    if model.creating:
        controls += _creation_form(shell, model, places)
    else:
        controls.append(
            ft.Button(t("add_organization"), icon=ft.Icons.ADD, height=TARGET, on_click=shell.act(model.start_creating))
        )
    pages: list[ft.Control] = [ft.Text(f"{t('page')} {model.organization_page_number}")]
    if model.organization_cursors:
        pages.insert(0, nav_button(ft.Icons.CHEVRON_LEFT, t("previous_page"), shell.act(model.previous_organizations)))
    if model.organization_next is not None:
        pages.append(nav_button(ft.Icons.CHEVRON_RIGHT, t("next_page"), shell.act(model.next_organizations)))
    controls.append(ft.Row(pages, wrap=True, key="organization-pages"))
    if not model.organizations:
        controls.append(ft.Text(t("no_items")))
    controls += [_organization_row(shell, model, organization, names) for organization in model.organizations]
    return controls


def _creation_form(shell: Shell, model: AdminModel, places: list[tuple[str, str]]) -> list[ft.Control]:
    t = shell.t

    async def kind(value: str | None) -> None:
        if (chosen := _kind(value)) is not None:
            await model.choose_new_kind(chosen)
        shell.render()

    async def municipality(value: str | None) -> None:
        await model.choose_new_municipality(int(value) if value and value.isdigit() else None)
        shell.render()

    def keep_name(event: ft.Event[ft.TextField]) -> None:
        model.new_name = event.data or ""

    where_label = t("new_organization_municipality") + (
        f" ({t('required_mark')})" if model.new_needs_municipality else ""
    )
    form: list[ft.Control] = [
        heading(t("new_organization"), size=16),
        _dropdown(
            t("new_organization_kind"),
            model.new_kind,
            [(k, t("org_kind_" + k)) for k in CREATABLE_KINDS],
            kind,
            key="new-kind",
            width=320,
        ),
        ft.TextField(
            label=t("organization_name"),
            value=model.new_name,
            key=f"new-name-{model.organizations_created}",
            width=320,
            max_length=NAME_MAX,
            on_change=keep_name,
        ),
        _dropdown(
            where_label,
            str(model.new_municipality or NONE),
            [*([] if model.new_needs_municipality else [(NONE, t("no_municipality"))]), *places],
            municipality,
            key="new-municipality",
            width=320,
        ),
        ft.Row(
            [
                ft.Button(
                    t("create_organization"),
                    icon=ft.Icons.CHECK,
                    height=TARGET,
                    on_click=shell.act(model.create_organization),
                ),
                ft.TextButton(t("close"), height=TARGET, on_click=shell.act(model.stop_creating)),
            ],
            wrap=True,
        ),
    ]
    return [
        ft.Container(
            ft.Column(form, spacing=8),
            padding=12,
            border=ft.Border.all(1, ft.Colors.BLUE_800),
            border_radius=6,
            key="new-organization",
        )
    ]


def _organization_row(
    shell: Shell, model: AdminModel, organization: OrganizationDetail, names: dict[int, str]
) -> ft.Control:
    t = shell.t
    name = organization.name
    where = (
        names.get(organization.municipality_id, f"#{organization.municipality_id}")
        if (organization.municipality_id is not None)
        else t("no_municipality")
    )
    state = t("organization_active") if organization.active else t("organization_deactivated")
    lines: list[ft.Control] = [
        ft.Text(name, weight=ft.FontWeight.BOLD),
        ft.Text(
            f"{t('org_kind_' + organization.kind)} · {where} · {state}",
            color=None if organization.active else ft.Colors.RED_800,
        ),
    ]
    if not organization.active and organization.deactivation_reason:
        lines.append(ft.Text(f"{t('deactivation_reason')}: {organization.deactivation_reason}", color=MUTED, size=13))
    if model.renaming == organization.id:

        def keep(event: ft.Event[ft.TextField]) -> None:
            model.rename_to = event.data or ""

        lines += [
            ft.TextField(
                label=t("new_organization_name"),
                value=model.rename_to,
                key=f"rename-{organization.id}",
                width=320,
                max_length=NAME_MAX,
                on_change=keep,
                on_submit=shell.act(model.rename),
            ),
            ft.Row(
                [
                    ft.Button(f"{t('save')}: {name}", height=TARGET, on_click=shell.act(model.rename)),
                    ft.TextButton(t("close"), height=TARGET, on_click=shell.act(model.stop_renaming)),
                ],
                wrap=True,
            ),
        ]
    actions: list[ft.Control] = [
        ft.OutlinedButton(
            f"{t('members')}: {name}",
            icon=ft.Icons.GROUP,
            height=TARGET,
            on_click=shell.act(partial(model.manage_members, organization)),
        ),
        ft.OutlinedButton(
            f"{t('rename')}: {name}",
            height=TARGET,
            on_click=shell.act(partial(model.start_renaming, organization)),
        ),
    ]
    if organization.kind != "prefecture":  # the server refuses: its admins alone could undo it
        if organization.active:
            actions.append(
                ft.OutlinedButton(
                    f"{t('deactivate')}: {name}",
                    height=TARGET,
                    on_click=lambda _: _confirm_deactivation(shell, model, organization),
                )
            )
        else:
            actions.append(
                ft.OutlinedButton(
                    f"{t('reactivate')}: {name}",
                    height=TARGET,
                    on_click=shell.act(partial(model.reactivate, organization.id)),
                )
            )
    lines.append(ft.Row(actions, wrap=True))
    return ft.Container(
        ft.Column(lines, spacing=4),
        padding=8,
        border=ft.Border.all(1, ft.Colors.GREY_400),
        border_radius=6,
        key=f"organization-{organization.id}",
    )


def _confirm_deactivation(shell: Shell, model: AdminModel, organization: OrganizationDetail) -> None:
    """Say what deactivating does before it happens, and ask for the reason the audit log keeps."""
    t = shell.t
    model.deactivation_reason = ""

    def keep(event: ft.Event[ft.TextField]) -> None:
        model.deactivation_reason = event.data or ""

    ask(
        shell,
        t("deactivate_question").format(name=organization.name),
        [
            ft.Text(t("deactivate_effect")),
            ft.TextField(label=t("deactivation_reason"), width=380, max_length=500, on_change=keep),
        ],
        t("deactivate"),
        partial(model.deactivate, organization.id),
    )


# -- members and invitations -----------------------------------------------------------------------


def _members(shell: Shell, model: AdminModel) -> list[ft.Control]:
    t = shell.t
    controls: list[ft.Control] = []
    if model.elsewhere:
        controls += [
            nav_button(
                ft.Icons.ARROW_BACK,
                t("back_to_organizations"),
                shell.act(partial(model.show, "organizations")),
            ),
            heading(f"{t('members')}: {model.organization_name}"),
        ]
    else:
        controls.append(heading(t("members")))
    if not model.members:
        controls.append(ft.Text(t("no_items")))
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
