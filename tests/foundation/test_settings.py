"""Settings: the TOML file, the environment overrides, and strict refusals.

Every refusal must be a :class:`SettingsError` whose message is one line that
names the key (``section.key``) and where the bad value came from (the file
or the environment variable), so an administrator can fix it at once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import (
    CONFIG_FILE,
    Settings,
    SettingsError,
    load_settings,
    new_secret_key,
    settings_from_dict,
    write_settings,
)

BASE = '[instance]\ndomain = "a.test"\nname = "Territoire A"\n'


def _write(directory: Path, text: str) -> Path:
    path = directory / CONFIG_FILE
    path.write_text(text, encoding="utf-8")
    return path


def _refusal(directory: Path, text: str, environ: dict[str, str] | None = None) -> str:
    """Load settings that must be refused; return the error message after checking its form."""
    _write(directory, text)
    with pytest.raises(SettingsError) as caught:
        load_settings(directory, environ or {})
    message = str(caught.value)
    assert "\n" not in message, f"the message must be one line: {message!r}"
    assert message.strip() == message
    assert message
    return message


def test_toml_file_is_loaded(tmp_path: Path) -> None:
    """Values of the file land in their typed sections; absent ones keep their defaults."""
    _write(
        tmp_path,
        BASE
        + '[federation]\nmode = "blocklist"\nconnect_timeout = 7\n'
        + "[ratelimit]\nenabled = false\napi_per_minute = 42\n",
    )
    settings = load_settings(tmp_path, {})
    assert settings.instance.domain == "a.test"
    assert settings.instance.name == "Territoire A"
    assert settings.federation.mode == "blocklist"
    assert settings.federation.connect_timeout == 7.0
    assert settings.ratelimit.enabled is False
    assert settings.ratelimit.api_per_minute == 42
    assert settings.ratelimit.login_per_minute == 10  # default
    assert settings.data_dir == tmp_path
    assert settings.base_url == "https://a.test"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    """ENTRAIDE_FEDERATION__MODE=allowlist wins over mode = "open" in the file."""
    _write(tmp_path, BASE + '[federation]\nmode = "open"\n')
    settings = load_settings(tmp_path, {"ENTRAIDE_FEDERATION__MODE": "allowlist"})
    assert settings.federation.mode == "allowlist"


def test_environment_values_are_converted(tmp_path: Path) -> None:
    """Environment strings become bools, ints and floats of each key's type."""
    _write(tmp_path, BASE)
    settings = load_settings(
        tmp_path,
        {
            "ENTRAIDE_RATELIMIT__ENABLED": "false",
            "ENTRAIDE_FEDERATION__ALLOW_PRIVATE_ADDRESSES": "true",
            "ENTRAIDE_RATELIMIT__API_PER_MINUTE": "17",
            "ENTRAIDE_FEDERATION__TOTAL_TIMEOUT": "12.5",
            "ENTRAIDE_WEB__COOKIE_SECURE": "0",
            "ENTRAIDE_DATA_DIR": "/ignored/by/settings",  # the CLI's variable, not a setting
            "PATH": "/usr/bin",
        },
    )
    assert settings.ratelimit.enabled is False
    assert settings.federation.allow_private_addresses is True
    assert settings.ratelimit.api_per_minute == 17
    assert settings.federation.total_timeout == 12.5
    assert settings.cookie_secure is False


def test_environment_alone_can_set_a_missing_section(tmp_path: Path) -> None:
    """A section absent from the file can come entirely from the environment."""
    _write(tmp_path, BASE)
    settings = load_settings(tmp_path, {"ENTRAIDE_LOG__LEVEL": "DEBUG"})
    assert settings.log.level == "DEBUG"


def test_write_then_load_round_trips(tmp_path: Path) -> None:
    """What init writes is read back identically, and the file is private (mode 600)."""
    settings = settings_from_dict(
        {
            "instance": {"domain": "b.test:8443", "name": "B", "scheme": "http"},
            "web": {"secret_key": new_secret_key()},
            "federation": {"mode": "allowlist", "allow_private_addresses": True},
        },
        tmp_path,
    )
    path = write_settings(settings)
    assert path.stat().st_mode & 0o777 == 0o600
    again = load_settings(tmp_path, {})
    assert again == settings
    assert again.base_url == "http://b.test:8443"


def test_unknown_section_in_file(tmp_path: Path) -> None:
    """A typo in a section name ([federaton]) must not be silently ignored."""
    message = _refusal(tmp_path, BASE + '[federaton]\nmode = "allowlist"\n')
    assert "federaton" in message
    assert CONFIG_FILE in message


def test_unknown_key_in_file(tmp_path: Path) -> None:
    """A typo in a key (mod = ...) must not leave the default (open federation) in force."""
    message = _refusal(tmp_path, BASE + '[federation]\nmod = "allowlist"\n')
    assert "federation.mod" in message
    assert CONFIG_FILE in message


def test_unknown_key_in_environment(tmp_path: Path) -> None:
    """ENTRAIDE_FEDERATION__MOD (a typo) is refused, naming the variable."""
    message = _refusal(tmp_path, BASE, {"ENTRAIDE_FEDERATION__MOD": "allowlist"})
    assert "federation.mod" in message
    assert "ENTRAIDE_FEDERATION__MOD" in message


def test_unknown_section_in_environment(tmp_path: Path) -> None:
    """ENTRAIDE_FEDERATON__MODE (a typo in the section) is refused, naming the variable."""
    message = _refusal(tmp_path, BASE, {"ENTRAIDE_FEDERATON__MODE": "allowlist"})
    assert "ENTRAIDE_FEDERATON__MODE" in message


def test_single_underscore_variable_is_refused(tmp_path: Path) -> None:
    """ENTRAIDE_FEDERATION_MODE (one underscore) looks like an override but would be ignored.

    The mistake: an administrator believes the node runs in allowlist mode
    while it is open to the whole fediverse. It must stop startup and point
    to the right spelling.
    """
    message = _refusal(tmp_path, BASE, {"ENTRAIDE_FEDERATION_MODE": "allowlist"})
    assert "ENTRAIDE_FEDERATION_MODE" in message
    assert "ENTRAIDE_FEDERATION__MODE" in message


def test_string_for_bool_in_file(tmp_path: Path) -> None:
    """enabled = "yes" is text, not a TOML boolean: refused, not guessed."""
    message = _refusal(tmp_path, BASE + '[ratelimit]\nenabled = "yes"\n')
    assert "ratelimit.enabled" in message
    assert CONFIG_FILE in message
    assert "'yes'" in message


def test_string_for_int_in_file(tmp_path: Path) -> None:
    """smtp_port = "x" is refused, naming mail.smtp_port."""
    message = _refusal(tmp_path, BASE + '[mail]\nsmtp_port = "x"\n')
    assert "mail.smtp_port" in message
    assert CONFIG_FILE in message


def test_bad_literal_in_file(tmp_path: Path) -> None:
    """mode = "closed" is not a federation mode; the message names federation.mode."""
    message = _refusal(tmp_path, BASE + '[federation]\nmode = "closed"\n')
    assert "federation.mode" in message
    assert "closed" in message
    assert CONFIG_FILE in message


def test_bad_literal_in_environment(tmp_path: Path) -> None:
    """ENTRAIDE_FEDERATION__MODE=bogus is refused, naming the key and the variable."""
    message = _refusal(tmp_path, BASE, {"ENTRAIDE_FEDERATION__MODE": "bogus"})
    assert "federation.mode" in message
    assert "ENTRAIDE_FEDERATION__MODE" in message


@pytest.mark.parametrize(
    ("variable", "value", "key"),
    [
        ("ENTRAIDE_RATELIMIT__ENABLED", "maybe", "ratelimit.enabled"),
        ("ENTRAIDE_RATELIMIT__API_PER_MINUTE", "many", "ratelimit.api_per_minute"),
        ("ENTRAIDE_DATABASE__POOL_SIZE", "0", "database.pool_size"),
        ("ENTRAIDE_FEDERATION__TOTAL_TIMEOUT", "inf", "federation.total_timeout"),
        ("ENTRAIDE_FEDERATION__CONNECT_TIMEOUT", "nan", "federation.connect_timeout"),
    ],
)
def test_bad_environment_values(tmp_path: Path, variable: str, value: str, key: str) -> None:
    """Unconvertible or out-of-range environment values are refused, not defaulted.

    ``inf`` and ``nan`` parse as floats; an infinite timeout would let one
    slow peer hold a delivery slot forever.
    """
    message = _refusal(tmp_path, BASE, {variable: value})
    assert key in message
    assert variable in message


def test_out_of_range_in_file(tmp_path: Path) -> None:
    """pool_size = 0 passes the type check but not the bounds."""
    message = _refusal(tmp_path, BASE + "[database]\npool_size = 0\n")
    assert "database.pool_size" in message


def test_missing_instance_section(tmp_path: Path) -> None:
    """A file without [instance] names what is missing and which file."""
    message = _refusal(tmp_path, '[web]\nsecret_key = "x"\n')
    assert "instance" in message
    assert CONFIG_FILE in message


def test_invalid_toml(tmp_path: Path) -> None:
    """A syntax error is reported with the file, on one line."""
    message = _refusal(tmp_path, "[instance\n")
    assert CONFIG_FILE in message
    assert "TOML" in message


def test_missing_file(tmp_path: Path) -> None:
    """No entraide.toml: the error says which path and what to do."""
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path / "nowhere", {})
    message = str(caught.value)
    assert "\n" not in message
    assert str(tmp_path / "nowhere" / CONFIG_FILE) in message
    assert "entraide init" in message


def test_settings_are_frozen(tmp_path: Path) -> None:
    """Nothing may change the settings after startup."""
    _write(tmp_path, BASE)
    settings: Settings = load_settings(tmp_path, {})
    with pytest.raises(Exception, match="frozen"):
        settings.federation.mode = "open"  # type: ignore[misc]


def test_trusted_proxies_from_file_and_environment(tmp_path: Path) -> None:
    """A TOML list, or a comma-separated variable (as entraide.service sets it)."""
    _write(tmp_path, BASE + '[web]\ntrusted_proxies = ["10.0.0.0/8"]\n')
    assert load_settings(tmp_path, {}).web.trusted_proxies == ["10.0.0.0/8"]
    settings = load_settings(tmp_path, {"ENTRAIDE_WEB__TRUSTED_PROXIES": "127.0.0.1, ::1"})
    assert settings.web.trusted_proxies == ["127.0.0.1", "::1"]
    assert load_settings(tmp_path, {"ENTRAIDE_WEB__TRUSTED_PROXIES": ""}).web.trusted_proxies == []


@pytest.mark.parametrize(
    ("text", "environ"),
    [
        (BASE + '[web]\ntrusted_proxies = ["proxy.local"]\n', {}),
        (BASE + '[web]\ntrusted_proxies = "127.0.0.1"\n', {}),
        (BASE, {"ENTRAIDE_WEB__TRUSTED_PROXIES": "127.0.0.1,everyone"}),
    ],
    ids=["hostname", "not-a-list", "env-garbage"],
)
def test_bad_trusted_proxies(tmp_path: Path, text: str, environ: dict[str, str]) -> None:
    """Only addresses and networks: a typo must not make every client look like a proxy."""
    message = _refusal(tmp_path, text, environ)
    assert "web.trusted_proxies" in message
