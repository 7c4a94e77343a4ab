"""The account screen names each session's device in words a person knows."""

from __future__ import annotations

from mobile.views.account import device_name

ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.5 Mobile/15E148 Safari/604.1"
)
WINDOWS_EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
    " Edg/126.0"
)


def test_browsers_are_named_by_browser_and_system_and_anything_else_as_sent() -> None:
    assert device_name(ANDROID_CHROME) == "Chrome · Android"
    assert device_name(IPHONE_SAFARI) == "Safari · iPhone"
    assert device_name(WINDOWS_EDGE) == "Edge · Windows"
    assert device_name("musubi-cli/1.0") == "musubi-cli/1.0"
