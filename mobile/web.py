"""The web build of the client as an ASGI app (flet-web, CanvasKit and fonts served locally)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import flet as ft
import flet_web

from mobile.fonts import prepare_assets
from mobile.views.app import make_main

LINK_WATCH = Path(__file__).with_name("static") / "link-watch.js"


def prepare_index(assets: Path, font_url: str | None) -> None:
    """Flet's own index.html plus the link watch (static/link-watch.js), which keeps the last screen
    in sight under a bilingual banner while the browser's link to this server is down. flet-web
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
    page = page.replace(marker, f'{font}<script src="{LINK_WATCH.name}"></script>\n  {marker}', 1)
    page = page.replace("<html>", '<html lang="ja">', 1)
    assets.mkdir(parents=True, exist_ok=True)
    (assets / "index.html").write_text(page, encoding="utf-8")
    shutil.copyfile(LINK_WATCH, assets / LINK_WATCH.name)


def web_app(api_url: str, assets: Path, gateway_url: str | None = None) -> Any:
    font_url = prepare_assets(assets)
    prepare_index(assets, font_url)
    # no_cdn: nothing may be fetched from the internet at run time (hospitals, ambulances, closed networks).
    return ft.run(
        make_main(api_url, gateway_url, font_url), export_asgi_app=True, no_cdn=True, name="", assets_dir=str(assets)
    )
