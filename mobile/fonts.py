"""A Japanese font for the web client, from this machine.

Flutter draws text itself, so the browser's fonts do not help, and nothing may be fetched from
the internet at run time. The install step brings IPAex Gothic (IPA Font License) with the
`japanize-matplotlib` package (installed without its dependencies, for the font file only); a
Debian IPA font is used when present instead.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
from pathlib import Path

log = logging.getLogger("musubi.web")

FAMILY = "IPAexGothic"
_SYSTEM_FONTS = (
    Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"),
    Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"),
    Path("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf"),
)


def japanese_font() -> Path | None:
    spec = importlib.util.find_spec("japanize_matplotlib")  # located, not imported (it would need matplotlib)
    if spec is not None and spec.submodule_search_locations:
        bundled = Path(next(iter(spec.submodule_search_locations))) / "fonts" / "ipaexg.ttf"
        if bundled.exists():
            return bundled
    return next((path for path in _SYSTEM_FONTS if path.exists()), None)


def prepare_assets(folder: Path) -> str | None:
    """Copy the font into the web assets folder; its URL path, or None (Japanese then shows as boxes)."""
    font = japanese_font()
    if font is None:
        log.warning("no Japanese font found: run the install step (make dev) or install fonts-ipafont-gothic")
        return None
    target = folder / "fonts" / font.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        shutil.copyfile(font, target)
    return f"/fonts/{font.name}"
