"""What each message says, in Japanese and English: plain text and HTML from one source.

Each kind is a function taking only what that message may carry — a link, an organisation's
name, a role — so no caller can slip a child's or a patient's data into a mail: the
parameters for it do not exist. Names of people are left out too; the greeting is generic.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Literal

MailLocale = Literal["ja", "en"]


@dataclass(frozen=True, slots=True)
class Mail:
    kind: str
    locale: MailLocale
    subject: str
    text: str
    html: str


def _compose(
    kind: str, locale: MailLocale, subject: str, paragraphs: list[str], link: str | None = None, action: str = ""
) -> Mail:
    footer = (
        "このメールは Musubi から自動で送信されています。お心当たりのない場合は破棄してください。"
        if locale == "ja"
        else "This message was sent automatically by Musubi. If it was not meant for you, please ignore it."
    )
    text_parts = [*paragraphs]
    html_parts = [f"<p>{html.escape(p)}</p>" for p in paragraphs]
    if link is not None:
        text_parts.append(f"{action}:\n{link}" if action else link)
        href = html.escape(link, quote=True)
        html_parts.append(f'<p><a href="{href}">{html.escape(action or link)}</a></p>')
        html_parts.append(f'<p style="color:#666;font-size:small">{href}</p>')
    text_parts.append("--\n" + footer)
    html_parts.append(f'<p style="color:#666;font-size:small">{html.escape(footer)}</p>')
    body_html = (
        f'<!doctype html><html lang="{locale}"><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head><body>{''.join(html_parts)}</body></html>"
    )
    return Mail(kind=kind, locale=locale, subject=subject, text="\n\n".join(text_parts) + "\n", html=body_html)


def verify_email(locale: MailLocale, link: str, valid_hours: int) -> Mail:
    if locale == "ja":
        return _compose(
            "verify_email",
            locale,
            "【Musubi】メールアドレスの確認",
            [
                "Musubi へのご登録ありがとうございます。",
                f"下のリンクを開いてメールアドレスを確認してください（有効期限 {valid_hours} 時間、1 回限り）。"
                "確認が済むまで、予約や申込みはできません。",
            ],
            link,
            "メールアドレスを確認する",
        )
    return _compose(
        "verify_email",
        locale,
        "[Musubi] Confirm your e-mail address",
        [
            "Thank you for signing up to Musubi.",
            f"Open the link below to confirm your e-mail address (valid for {valid_hours} hours, once). "
            "Until then you cannot book, reserve or apply.",
        ],
        link,
        "Confirm my e-mail address",
    )


def reset_password(locale: MailLocale, link: str, valid_minutes: int) -> Mail:
    if locale == "ja":
        return _compose(
            "reset_password",
            locale,
            "【Musubi】パスワードの再設定",
            [
                "パスワード再設定の依頼を受け付けました。",
                f"下のリンクから新しいパスワードを設定してください（有効期限 {valid_minutes} 分、1 回限り）。"
                "ご依頼でない場合は、このメールを破棄してください。パスワードは変わりません。",
            ],
            link,
            "パスワードを再設定する",
        )
    return _compose(
        "reset_password",
        locale,
        "[Musubi] Reset your password",
        [
            "We were asked to reset the password of your Musubi account.",
            f"Choose a new password with the link below (valid for {valid_minutes} minutes, once). "
            "If you did not ask for this, ignore this message; your password stays as it is.",
        ],
        link,
        "Choose a new password",
    )


_ROLE_NAMES: dict[str, tuple[str, str]] = {
    "admin": ("管理者", "administrator"),
    "staff": ("職員", "staff"),
    "caseworker": ("児童福祉司", "caseworker"),
    "paramedic": ("救急隊員", "paramedic"),
    "er_staff": ("救急外来職員", "ER staff"),
}


def invitation(locale: MailLocale, link: str, organization_name: str, role: str, valid_days: int) -> Mail:
    role_ja, role_en = _ROLE_NAMES.get(role, (role, role))
    if locale == "ja":
        return _compose(
            "invitation",
            locale,
            f"【Musubi】{organization_name} への招待",
            [
                f"{organization_name} から、Musubi で「{role_ja}」として参加するよう招待されました。",
                f"このアドレスで Musubi にログインし（未登録なら登録してメールアドレスを確認し）、"
                f"下のリンクから招待を受けてください（有効期限 {valid_days} 日、1 回限り）。",
            ],
            link,
            "招待を受ける",
        )
    return _compose(
        "invitation",
        locale,
        f"[Musubi] Invitation to {organization_name}",
        [
            f"{organization_name} invites you to join it on Musubi as {role_en}.",
            "Sign in to Musubi with this address (sign up and confirm the address first if you have no account), "
            f"then accept with the link below (valid for {valid_days} days, once).",
        ],
        link,
        "Accept the invitation",
    )


def password_changed(locale: MailLocale) -> Mail:
    if locale == "ja":
        return _compose(
            "password_changed",
            locale,
            "【Musubi】パスワードが変更されました",
            [
                "Musubi アカウントのパスワードが変更され、ほかの端末はログアウトされました。",
                "お心当たりのない場合は、すぐにパスワードを再設定し、窓口にご連絡ください。",
            ],
        )
    return _compose(
        "password_changed",
        locale,
        "[Musubi] Your password was changed",
        [
            "The password of your Musubi account was changed, and your other devices were signed out.",
            "If this was not you, reset your password at once and contact us.",
        ],
    )


def email_changed(locale: MailLocale) -> Mail:
    """To the previous address, so a stolen session cannot move the account away unnoticed."""
    if locale == "ja":
        return _compose(
            "email_changed",
            locale,
            "【Musubi】メールアドレスが変更されました",
            [
                "Musubi アカウントのメールアドレスが変更されました。以後のお知らせは新しいアドレスに届きます。",
                "お心当たりのない場合は、窓口にご連絡ください。",
            ],
        )
    return _compose(
        "email_changed",
        locale,
        "[Musubi] Your e-mail address was changed",
        [
            "The e-mail address of your Musubi account was changed; messages now go to the new address.",
            "If this was not you, contact us.",
        ],
    )
