"""A Japanese font for the web client, shipped inside the package.

Flutter draws text itself, so the browser's fonts do not help, and nothing may be fetched from
the internet at run time. IPAex Gothic therefore comes with `pip install` of this package
(mobile/static/fonts/, unmodified, with the IPA Font License Agreement v1.0 that allows
redistributing it as is and must travel with it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

FAMILY = "IPAexGothic"
FONT = Path(__file__).with_name("static") / "fonts" / "ipaexg.ttf"


def prepare_assets(folder: Path) -> str:
    """Copy the font into the web assets folder; the URL path it is served at."""
    target = folder / "fonts" / FONT.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.stat().st_size != FONT.stat().st_size:
        shutil.copyfile(FONT, target)
    return f"/fonts/{FONT.name}"
