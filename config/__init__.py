"""Settings and the database connection: the lowest layer, importing no other package.

The names below are loaded on first use (PEP 562), so that ``import
config.settings`` — all the command line needs to report a usage error —
does not pay for importing SQLAlchemy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config.database import Base, Database, UTCDateTime, utcnow
    from config.settings import Settings, SettingsError, load_settings

_HOMES = {
    "Base": "config.database",
    "Database": "config.database",
    "UTCDateTime": "config.database",
    "utcnow": "config.database",
    "Settings": "config.settings",
    "SettingsError": "config.settings",
    "load_settings": "config.settings",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'config' has no attribute {name!r}")
    return getattr(import_module(home), name)


__all__ = [
    "Base",
    "Database",
    "Settings",
    "SettingsError",
    "UTCDateTime",
    "load_settings",
    "utcnow",
]
