"""The few HTML pages mail links open (verification, password reset, invitation).

They work without JavaScript or the app: a person clicks a link in a mail on any device.
Opening a page never uses its token — mail scanners fetch links before people do — a
button posts it. Each page says the same in Japanese and English.
"""

from __future__ import annotations

import html

from litestar import Response

_PAGES: dict[str, tuple[str, str]] = {
    "verify": (
        "メールアドレスの確認 / Confirm your e-mail address",
        '<form method="post" action="/verify"><input type="hidden" name="token" value="{token}">'
        '<button type="submit">確認する / Confirm</button></form>',
    ),
    "verified": (
        "確認しました / Address confirmed",
        "<p>メールアドレスを確認しました。アプリに戻ってください。</p>"
        "<p>Your address is confirmed; return to the app.</p>",
    ),
    "verify-failed": (
        "リンクが無効です / The link is not valid",
        "<p>このリンクは使用済み・期限切れ、または新しいリンクに置き換えられています。アプリから再送してください。</p>"
        "<p>This link was used, has expired or was replaced. Ask the app for a new one.</p>",
    ),
    "reset": (
        "パスワードの再設定 / Choose a new password",
        '<form method="post" action="/reset-password"><input type="hidden" name="token" value="{token}">'
        '<label>新しいパスワード / New password <input type="password" name="password" minlength="10" '
        'autocomplete="new-password" required></label> <button type="submit">設定 / Save</button></form>',
    ),
    "reset-done": (
        "パスワードを変更しました / Password changed",
        "<p>新しいパスワードでログインしてください。</p><p>Sign in with your new password.</p>",
    ),
    "reset-failed": (
        "再設定できませんでした / The password was not changed",
        "<p>リンクが無効か、パスワードが短すぎる・よく使われるものです。</p>"
        "<p>The link is not valid, or the password is too short or too common.</p>",
    ),
    "invitation": (
        "招待 / Invitation",
        "<p>招待を受けたアドレスで Musubi アプリにログインし、次のコードで招待を受けてください。</p>"
        "<p>Sign in to the Musubi app with the invited address and accept with this code:</p>"
        "<p><code>{token}</code></p>",
    ),
}


def link_page(kind: str, token: str, status_code: int = 200) -> Response[str]:
    title, body = _PAGES[kind]
    content = (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="referrer" content="no-referrer"><title>{html.escape(title)}</title></head>'
        f"<body><h1>Musubi</h1><h2>{html.escape(title)}</h2>{body.format(token=html.escape(token, quote=True))}"
        "</body></html>"
    )
    # The token is in the URL: no caching, no referrer to third parties.
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return Response(content, status_code=status_code, media_type="text/html", headers=headers)
