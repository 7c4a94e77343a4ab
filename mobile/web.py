"""The web build of the client as an ASGI app (flet-web, CanvasKit and fonts served locally)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flet as ft

from mobile.fonts import prepare_assets
from mobile.views.app import make_main


def web_app(api_url: str, assets: Path, gateway_url: str | None = None) -> Any:
    font_url = prepare_assets(assets)
    # no_cdn: nothing may be fetched from the internet at run time (hospitals, ambulances, closed networks).
    return ft.run(
        make_main(api_url, gateway_url, font_url), export_asgi_app=True, no_cdn=True, name="", assets_dir=str(assets)
    )
