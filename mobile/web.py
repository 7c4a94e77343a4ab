"""The web build of the client as an ASGI app: flet-web with CanvasKit, the fonts and every script
served by this server, so a page never asks another host for anything (checked by
tests/e2e/test_self_contained.py)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import flet as ft
import flet_web

from mobile.fonts import prepare_assets
from mobile.views.app import make_main

STATIC = Path(__file__).with_name("static")
LINK_WATCH = STATIC / "link-watch.js"
RIVE_OFF = STATIC / "rive-off.js"  # loaded before Flutter: keeps the Rive runtime from the CDN away
SCRIPTS = (LINK_WATCH, RIVE_OFF, STATIC / "rive-native-off.js")


def prepare_index(assets: Path, font_url: str | None) -> None:
    """Flet's own index.html plus two scripts: the link watch (static/link-watch.js), which keeps the
    last screen in sight under a bilingual banner while the browser's link to this server is down,
    and static/rive-off.js, which keeps the client from loading the Rive runtime off a CDN. flet-web
    serves an index.html found in the assets folder instead of its own."""
    page = (Path(flet_web.__file__).with_name("web") / "index.html").read_text(encoding="utf-8")
    marker = "<!-- fletAppConfig -->"
    assert marker in page, "flet-web's index.html changed: check the link watch still loads"
    # The banner is HTML, not Flutter: it needs the Japanese font too (phones and kiosks may lack one).
    font = (
        f"<style>@font-face {{ font-family: MusubiBanner; src: url({font_url.lstrip('/')}); }}</style>"
        if font_url
        else ""
    )
    scripts = "".join(f'<script src="{script.name}"></script>' for script in (RIVE_OFF, LINK_WATCH))
    page = page.replace(marker, f"{font}{scripts}\n  {marker}", 1)
    page = page.replace("<html>", '<html lang="ja">', 1)
    assets.mkdir(parents=True, exist_ok=True)
    (assets / "index.html").write_text(page, encoding="utf-8")
    for script in SCRIPTS:
        shutil.copyfile(script, assets / script.name)


def web_app(api_url: str, assets: Path, gateway_url: str | None = None) -> Any:
    font_url = prepare_assets(assets)
    prepare_index(assets, font_url)
    # no_cdn: nothing may be fetched from the internet at run time (hospitals, ambulances, closed networks).
    return ft.run(
        make_main(api_url, gateway_url, font_url), export_asgi_app=True, no_cdn=True, name="", assets_dir=str(assets)
    )
