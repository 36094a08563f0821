"""Settings and the database connection: the lowest layer, importing no other package."""

from config.database import Base, Database, UTCDateTime, utcnow
from config.settings import Settings, SettingsError, load_settings

__all__ = [
    "Base",
    "Database",
    "Settings",
    "SettingsError",
    "UTCDateTime",
    "load_settings",
    "utcnow",
]
