"""Typed settings of a node.

Settings are read once, at startup, from ``DATA_DIR/entraide.toml`` and then
from environment variables named ``ENTRAIDE_<SECTION>__<KEY>`` (for example
``ENTRAIDE_FEDERATION__MODE=allowlist``), which win over the file. The result
is a frozen :class:`Settings` object handed to ``instance.create_app``; nothing
is read from the environment anywhere else.

Errors are strict on purpose: an unknown section or key, or a value of the
wrong type, stops startup with :class:`SettingsError`, whose message is one
line naming the key and where it came from. Values in the TOML file must
already have the right TOML type (``enabled = "yes"`` is refused); values from
the environment are strings and are converted to the key's type
(``true``/``false``, integers, floats).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_origin

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

CONFIG_FILE = "entraide.toml"
ENV_PREFIX = "ENTRAIDE_"


class SettingsError(Exception):
    """A setting is unknown or has a wrong value; the message is one line."""


class _Section(BaseModel):
    # allow_inf_nan=False: "inf" and "nan" parse as floats, and an infinite
    # timeout would let one slow peer hold a delivery slot forever.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class InstanceSettings(_Section):
    """Who this node is."""

    domain: str = Field(min_length=1, description="HOST[:PORT] under which the node is reached")
    name: str = Field(min_length=1, description="The territory's name, shown everywhere")
    handle: str = Field(default="territory", pattern=r"^[a-z0-9_]{1,64}$")
    scheme: Literal["https", "http"] = "https"
    description: str = ""
    contact_email: str = ""


class DatabaseSettings(_Section):
    """Where the data lives. Empty ``url`` means the SQLite file ``DATA_DIR/entraide.db``."""

    url: str = ""
    pool_size: int = Field(default=10, ge=1, le=200)
    statement_timeout_seconds: float = Field(
        default=30.0,
        ge=0,
        description="PostgreSQL cancels a statement of the node that runs longer (0: never)",
    )


class WebSettings(_Section):
    """The web UI and the JSON API."""

    secret_key: str = Field(default="", description="Signs session cookies; made by init")
    cookie_secure: bool | None = Field(default=None, description="Default: true when https")
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    idempotency_hours: int = Field(
        default=24,
        ge=1,
        description="an Idempotency-Key of the JSON API is remembered this long",
    )
    default_locale: Literal["fr", "en"] = "fr"
    trusted_proxies: list[str] = Field(
        default=[],
        description=(
            "Addresses or networks of reverse proxies whose X-Forwarded-For is believed "
            '(e.g. ["127.0.0.1"] behind a local nginx); empty: the socket\'s peer is the client'
        ),
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value


class FederationSettings(_Section):
    """How the node talks to the rest of the fediverse."""

    mode: Literal["open", "allowlist", "blocklist"] = "open"
    allow_private_addresses: bool = False
    signature_window_seconds: int = Field(default=3600, ge=30)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    fetch_max_bytes: int = Field(default=1_048_576, ge=1024)
    connect_timeout: float = Field(default=5.0, gt=0)
    total_timeout: float = Field(default=30.0, gt=0)
    delivery_concurrency: int = Field(default=32, ge=1, le=1000)
    per_host_concurrency: int = Field(default=4, ge=1, le=100)
    auto_accept_follows: bool = True
    forward_reports: bool = True
    key_cache_seconds: int = Field(default=86_400, ge=0)
    key_fetch_timeout: float = Field(default=10.0, gt=0)


class WorkerSettings(_Section):
    """Background work: inbox processing, delivery, expiry."""

    run_in_serve: bool = Field(default=True, description="serve also runs the workers")
    poll_interval: float = Field(default=2.0, gt=0)
    lease_seconds: int = Field(default=300, ge=5)
    batch_size: int = Field(default=50, ge=1, le=1000)
    keep_days: int = Field(
        default=14, ge=1, description="finished inbox items and deliveries kept this long"
    )


class ListingSettings(_Section):
    """Offers and needs."""

    default_lifetime_days: int = Field(default=90, ge=1, le=3650)
    # Seconds a search may run (API, search page, feeds) before the database stops it and
    # the answer is 422 query_too_expensive. The worst searches take a few hundred ms at
    # 100,000 listings; the limit is for what nobody foresaw, not a budget.
    search_time_limit: float = Field(default=2.0, gt=0, le=300)


class RateLimitSettings(_Section):
    """Limits per client; set ``enabled = false`` for load tests and benchmarks."""

    enabled: bool = True
    login_per_minute: int = Field(default=10, ge=1)
    signup_per_hour: int = Field(default=10, ge=1)
    api_per_minute: int = Field(default=300, ge=1)
    inbox_per_minute: int = Field(default=600, ge=1)
    inbox_per_domain_per_minute: int = Field(default=1200, ge=1)


class MetricsSettings(_Section):
    """Prometheus metrics at /metrics."""

    enabled: bool = False
    token: str = ""


class MailSettings(_Section):
    """E-mail through an SMTP server; with an empty ``smtp_host`` nothing is sent (mails
    wait in the queue, see ``instance.services.outgoing_mail``)."""

    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str = ""
    smtp_password: str = ""
    from_address: str = ""
    starttls: bool = True
    digest_hour: int = Field(
        default=7, ge=0, le=23, description="Hour (UTC) from which the daily digests are sent"
    )


class LogSettings(_Section):
    """Logging."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class OpenDataSettings(_Section):
    """The open data published at /data/ (public listings and structures)."""

    licence: str = "Licence Ouverte / Etalab 2.0"
    licence_url: str = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"


class MapSettings(_Section):
    """The background of the maps: a tile server (``{z}/{x}/{y}`` address), or none."""

    tile_url: str = Field(
        default="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description=(
            "Tile address with {z}, {x} and {y} (a self-hosted or national tile service); "
            "empty: the map shows its markers without a background and asks no server"
        ),
    )
    attribution: str = Field(default="© OpenStreetMap", description="Credit shown on the map")
    attribution_url: str = "https://www.openstreetmap.org/copyright"

    @field_validator("tile_url")
    @classmethod
    def _tile_address(cls, value: str) -> str:
        if not value:
            return value
        if not value.startswith(("https://", "http://", "/")) or value.startswith("//"):
            raise ValueError("must start with https://, http:// or a single / (or be empty)")
        missing = [part for part in ("{z}", "{x}", "{y}") if part not in value]
        if missing:
            raise ValueError(f"must hold {', '.join(missing)}")
        return value


class Settings(_Section):
    """All the settings of a node, by section."""

    instance: InstanceSettings
    database: DatabaseSettings = DatabaseSettings()
    web: WebSettings = WebSettings()
    federation: FederationSettings = FederationSettings()
    workers: WorkerSettings = WorkerSettings()
    listings: ListingSettings = ListingSettings()
    ratelimit: RateLimitSettings = RateLimitSettings()
    metrics: MetricsSettings = MetricsSettings()
    mail: MailSettings = MailSettings()
    log: LogSettings = LogSettings()
    opendata: OpenDataSettings = OpenDataSettings()
    map: MapSettings = MapSettings()

    # Not a setting of the file: where the node's files live.
    data_dir: Path = Field(default=Path("."), exclude=True)

    @property
    def base_url(self) -> str:
        """``scheme://domain`` without a trailing slash; every local id starts with it."""
        return f"{self.instance.scheme}://{self.instance.domain}"

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL, with the async driver."""
        return normalise_database_url(self.database.url, self.data_dir)

    @property
    def cookie_secure(self) -> bool:
        if self.web.cookie_secure is not None:
            return self.web.cookie_secure
        return self.instance.scheme == "https"


def normalise_database_url(url: str, data_dir: Path) -> str:
    """Turn a user-given database URL into one with an async driver."""
    if not url:
        return f"sqlite+aiosqlite:///{(data_dir / 'entraide.db').resolve()}"
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url


_SECTIONS: dict[str, type[_Section]] = {
    name: field.annotation  # type: ignore[misc]
    for name, field in Settings.model_fields.items()
    if name != "data_dir"
}


def _describe(error: ValidationError, origin: Mapping[str, str]) -> str:
    first = error.errors()[0]
    loc = ".".join(str(part) for part in first["loc"])
    # A whole section (unknown or missing) is named by the file it is, or should be, in.
    where = origin.get(loc) or origin.get(str(first["loc"][0]), "") or origin.get("", "")
    if first["type"] == "extra_forbidden":
        return f"unknown setting {loc}{where}"
    if first["type"] == "missing":
        return f"missing setting {loc}{where}"
    got = first.get("input")
    return f"setting {loc}{where}: {first['msg']} (got {got!r})"


def _env_values(environ: Mapping[str, str]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Collect ``ENTRAIDE_<SECTION>__<KEY>`` variables, converted to each key's type."""
    data: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        if "__" not in name:
            _refuse_single_underscore(name)
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        loc = f"{section}.{key}"
        where = f" (from {name})"
        model = _SECTIONS.get(section)
        if model is None or key not in model.model_fields:
            raise SettingsError(f"unknown setting {loc}{where}")
        annotation = model.model_fields[key].annotation
        assert annotation is not None
        given: Any = raw
        if get_origin(annotation) is list:
            # Lists come from the environment comma-separated: "127.0.0.1, 10.0.0.0/8".
            given = [part.strip() for part in raw.split(",") if part.strip()]
        try:
            value = TypeAdapter(annotation).validate_python(given, strict=False)
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"]
            raise SettingsError(f"setting {loc}{where}: {msg} (got {raw!r})") from None
        data.setdefault(section, {})[key] = value
        origin[loc] = where
    return data, origin


def _refuse_single_underscore(name: str) -> None:
    """``ENTRAIDE_FEDERATION_MODE`` would be ignored silently: stop and show the spelling."""
    rest = name[len(ENV_PREFIX) :].lower()
    for section, model in _SECTIONS.items():
        key = rest.removeprefix(section + "_")
        if key != rest and key in model.model_fields:
            right = f"{ENV_PREFIX}{section.upper()}__{key.upper()}"
            raise SettingsError(
                f"unknown setting variable {name}: did you mean {right} (two underscores)?"
            )


def load_settings(data_dir: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``DATA_DIR/entraide.toml`` and the environment into :class:`Settings`."""
    environ = os.environ if environ is None else environ
    path = data_dir / CONFIG_FILE
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(
            f"{path} not found: run `entraide init` first (or pass --data-dir)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from None
    origin = {
        f"{section}.{key}": f" (in {path})"
        for section, values in data.items()
        if isinstance(values, dict)
        for key in values
    }
    origin.update({section: f" (in {path})" for section in data})
    origin[""] = f" (in {path})"
    env_data, env_origin = _env_values(environ)
    for section, values in env_data.items():
        existing = data.setdefault(section, {})
        if isinstance(existing, dict):
            existing.update(values)
    origin.update(env_origin)
    return settings_from_dict(data, data_dir, origin)


def settings_from_dict(
    data: Mapping[str, Any], data_dir: Path, origin: Mapping[str, str] | None = None
) -> Settings:
    """Validate a settings mapping (as in the TOML file) strictly."""
    try:
        settings = Settings.model_validate(dict(data), strict=True)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, origin or {})) from None
    return settings.model_copy(update={"data_dir": data_dir})


def write_settings(settings: Settings) -> Path:
    """Write the non-default settings to ``DATA_DIR/entraide.toml``."""
    path = settings.data_dir / CONFIG_FILE
    payload = settings.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    # The secret and the identity are always written, even when equal to defaults.
    payload.setdefault("instance", {}).update(settings.instance.model_dump(mode="json"))
    payload.setdefault("web", {})["secret_key"] = settings.web.secret_key
    path.write_text(tomli_w.dumps(payload), encoding="utf-8")
    path.chmod(0o600)
    return path


def new_secret_key() -> str:
    """A fresh random secret for signing cookies."""
    return secrets.token_urlsafe(48)
