"""What each message says, in Japanese and English: plain text and HTML from one source.

Each kind is a function taking only what that message may carry — a link, an organisation's
name, a role — so no caller can slip a child's or a patient's data into a mail: the
parameters for it do not exist. Names of people are left out too; the greeting is generic.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from schema.time import TOKYO

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


# Notices to residents (README: "Notices"). Each takes only the facts of its notice: a place's
# name, times, an amount, a reason the facility or nursery wrote. A child is never named; a
# childcare notice says "your reservation" and the nursery's name and time, nothing more.


def _when(locale: MailLocale, start: datetime, end: datetime | None = None) -> str:
    start = start.astimezone(TOKYO)
    if locale == "ja":
        text = f"{start.year}年{start.month}月{start.day}日 {start:%H:%M}"
    else:
        text = f"{start.day} {start:%b} {start.year}, {start:%H:%M}"
    if end is not None:
        text += f"–{end.astimezone(TOKYO):%H:%M}"
    return text


def _day(locale: MailLocale, day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if locale == "ja" else f"{day.day} {day:%b} {day.year}"


_BLOCKS: dict[str, tuple[str, str]] = {
    "morning": ("午前", "morning"),
    "afternoon": ("午後", "afternoon"),
    "full_day": ("終日", "full day"),
}


def _block(locale: MailLocale, block: str) -> str:
    ja, en = _BLOCKS.get(block, (block, block))
    return ja if locale == "ja" else en


def booking_confirmed(
    locale: MailLocale, place: str, start: datetime, end: datetime, fee: int, pay_by: datetime | None
) -> Mail:
    when = _when(locale, start, end)
    if pay_by is None:
        if locale == "ja":
            return _compose(
                "booking_confirmed",
                locale,
                "【Musubi】予約が確定しました",
                [f"{place}　{when} の予約が確定しました。", f"料金: {fee:,} 円"],
            )
        return _compose(
            "booking_confirmed",
            locale,
            "[Musubi] Your booking is confirmed",
            [f"Your booking of {place} on {when} is confirmed.", f"Fee: ¥{fee:,}"],
        )
    deadline = _when(locale, pay_by)
    if locale == "ja":
        return _compose(
            "booking_confirmed",
            locale,
            "【Musubi】仮予約を受け付けました",
            [
                f"{place}　{when} を仮予約しました。",
                f"料金 {fee:,} 円を {deadline} までにお支払いください。期限を過ぎると仮予約は取り消されます。",
            ],
        )
    return _compose(
        "booking_confirmed",
        locale,
        "[Musubi] Provisional booking: please pay by the deadline",
        [
            f"{place} on {when} is provisionally booked for you.",
            f"Please pay the fee of ¥{fee:,} by {deadline}; after that the booking is released.",
        ],
    )


def payment_due(locale: MailLocale, place: str, start: datetime, end: datetime, fee: int, pay_by: datetime) -> Mail:
    when, deadline = _when(locale, start, end), _when(locale, pay_by)
    if locale == "ja":
        return _compose(
            "payment_due",
            locale,
            "【Musubi】お支払い期限は明日です",
            [
                f"{place}　{when} の仮予約のお支払い期限は {deadline} です。",
                f"料金 {fee:,} 円を期限までにお支払いください。期限を過ぎると仮予約は取り消されます。",
            ],
        )
    return _compose(
        "payment_due",
        locale,
        "[Musubi] Payment due tomorrow",
        [
            f"The payment for your provisional booking of {place} on {when} is due by {deadline}.",
            f"Please pay the fee of ¥{fee:,} by then; after that the booking is released.",
        ],
    )


def booking_cancelled_by_facility(locale: MailLocale, place: str, start: datetime, end: datetime, reason: str) -> Mail:
    when = _when(locale, start, end)
    if locale == "ja":
        return _compose(
            "booking_cancelled_by_facility",
            locale,
            "【Musubi】施設により予約が取り消されました",
            [f"{place}　{when} の予約は、施設により取り消されました。", f"理由: {reason}"],
        )
    return _compose(
        "booking_cancelled_by_facility",
        locale,
        "[Musubi] The facility cancelled your booking",
        [f"Your booking of {place} on {when} was cancelled by the facility.", f"Reason: {reason}"],
    )


def waitlist_offer(locale: MailLocale, place: str, start: datetime, end: datetime, hold_until: datetime) -> Mail:
    when, until = _when(locale, start, end), _when(locale, hold_until)
    if locale == "ja":
        return _compose(
            "waitlist_offer",
            locale,
            "【Musubi】キャンセル待ちの枠を確保しました",
            [
                f"キャンセル待ちをしていた {place}　{when} に空きが出ました。",
                f"{until} まであなたのために確保しています。それまでにアプリで予約してください。",
            ],
        )
    return _compose(
        "waitlist_offer",
        locale,
        "[Musubi] A slot you waited for is held for you",
        [
            f"{place} on {when}, which you were waiting for, has come free.",
            f"It is held for you until {until}; book it in the app before then.",
        ],
    )


def lottery_result(
    locale: MailLocale, facility: str, month: date, won: bool, place: str | None, start: datetime | None,
    end: datetime | None, pay_by: datetime | None,
) -> Mail:  # fmt: skip
    if locale == "ja":
        period = f"{month.year}年{month.month}月"
        if won and place and start and end:
            lines = [f"{facility} の {period} 分の抽選に当選しました: {place}　{_when(locale, start, end)}。"]
            if pay_by is not None:
                lines.append(f"{_when(locale, pay_by)} までにお支払いまたは確定の手続きをしてください。")
        else:
            lines = [f"{facility} の {period} 分の抽選は、残念ながら落選となりました。"]
        return _compose("lottery_result", locale, "【Musubi】抽選結果のお知らせ", lines)
    period = f"{month:%B %Y}"
    if won and place and start and end:
        lines = [f"You won the {facility} lottery for {period}: {place} on {_when(locale, start, end)}."]
        if pay_by is not None:
            lines.append(f"Please pay or confirm by {_when(locale, pay_by)}.")
    else:
        lines = [f"You were not drawn in the {facility} lottery for {period}."]
    return _compose("lottery_result", locale, "[Musubi] Lottery result", lines)


def childcare_confirmed(locale: MailLocale, nursery: str, day: date, block: str) -> Mail:
    if locale == "ja":
        return _compose(
            "childcare_confirmed",
            locale,
            "【Musubi】一時預かりの予約が確定しました",
            [f"{nursery}　{_day(locale, day)}（{_block(locale, block)}）の一時預かりの予約が確定しました。"],
        )
    return _compose(
        "childcare_confirmed",
        locale,
        "[Musubi] Childcare reservation confirmed",
        [f"Your childcare reservation at {nursery} on {_day(locale, day)} ({_block(locale, block)}) is confirmed."],
    )


def childcare_reminder(locale: MailLocale, nursery: str, day: date, block: str) -> Mail:
    if locale == "ja":
        return _compose(
            "childcare_reminder",
            locale,
            "【Musubi】明日は一時預かりの予約があります",
            [f"明日 {_day(locale, day)}（{_block(locale, block)}）に {nursery} の一時預かりの予約があります。"],
        )
    return _compose(
        "childcare_reminder",
        locale,
        "[Musubi] Childcare reservation tomorrow",
        [f"You have a childcare reservation at {nursery} tomorrow, {_day(locale, day)} ({_block(locale, block)})."],
    )


def childcare_cancelled_by_nursery(locale: MailLocale, nursery: str, day: date, block: str, reason: str) -> Mail:
    if locale == "ja":
        return _compose(
            "childcare_cancelled_by_nursery",
            locale,
            "【Musubi】一時預かりが園の都合で中止になりました",
            [
                f"{nursery}　{_day(locale, day)}（{_block(locale, block)}）の一時預かりは、園の都合で中止になりました。"
                "ご予約は取り消され、利用時間は戻されています。",
                f"理由: {reason}",
            ],
        )
    return _compose(
        "childcare_cancelled_by_nursery",
        locale,
        "[Musubi] The nursery cancelled a childcare session",
        [
            f"The nursery {nursery} cancelled the session on {_day(locale, day)} ({_block(locale, block)}). "
            "Your reservation is cancelled and its hours are given back.",
            f"Reason: {reason}",
        ],
    )
