"""Where shipped data lives: inside the installed package, or at the top of a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DATA = Path(__file__).resolve().parent / "data"
_CHECKOUT = Path(__file__).resolve().parent.parent


def packaged_path(name: str) -> Path:
    """``triagebot/data/<name>`` when installed from a wheel, else ``<checkout>/<name>``."""
    installed = _PACKAGE_DATA / name
    if installed.exists():
        return installed
    return _CHECKOUT / name
