"""`local.settings.json`: the app's settings on a laptop, read the way Core Tools reads them.

Used by the local host and the management CLI, so both see the same settings as `func start`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.config import ConfigError as ConfigurationError


@dataclass(frozen=True)
class LocalSettings:
    path: Path
    found: bool
    applied: tuple[str, ...] = ()
    """Names copied from `Values` into the environment."""
    skipped: tuple[str, ...] = ()
    """Names in `Values` that the environment already defines, so the environment's value stays."""
    http_port: int | None = None
    """`Host.LocalHttpPort`, which `func start` uses when no `--port` is given."""


def load_local_settings(path: Path, environ: MutableMapping[str, str]) -> LocalSettings:
    """Copy `Values` into `environ` the way `func start` does.

    Core Tools exposes each entry of `Values` to the worker as an environment variable, but a variable
    already set in the environment wins (it prints "Skipping '<name>' from local.settings.json as it's
    already defined in current environment variables"). Tests rely on that to point the app at their
    own Azurite. A missing file is not an error: the environment alone is used.
    """
    if not path.is_file():
        return LocalSettings(path=path, found=False)
    document = read_json_object(path)
    if get_setting(document, "IsEncrypted") is True:
        raise ConfigurationError(f"{path} is encrypted; decrypt it first (func settings decrypt)")

    values = get_setting(document, "Values") or {}
    if not isinstance(values, dict):
        raise ConfigurationError(f"{path}: Values must be a JSON object")
    applied: list[str] = []
    skipped: list[str] = []
    for name, value in values.items():
        if value is None:
            continue
        if name in environ:
            skipped.append(name)
            continue
        environ[name] = _setting_text(path, name, value)
        applied.append(name)

    http_port: int | None = None
    host_section = get_setting(document, "Host")
    if isinstance(host_section, dict):
        port = get_setting(host_section, "LocalHttpPort")
        if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536:
            http_port = port
    return LocalSettings(path=path, found=True, applied=tuple(applied), skipped=tuple(skipped), http_port=http_port)


def _setting_text(path: Path, name: str, value: object) -> str:
    """Values are read as a string dictionary (Json.NET), so scalars become their .NET spelling."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float):
        return str(value)
    raise ConfigurationError(f"{path}: Values.{name} must be a string")


def get_setting(mapping: Mapping[str, Any], key: str) -> Any:
    """Case-insensitive lookup, as .NET configuration keys are."""
    if key in mapping:
        return mapping[key]
    folded = key.casefold()
    for name, value in mapping.items():
        if name.casefold() == folded:
            return value
    return None


def read_json_object(path: Path) -> dict[str, Any]:
    """A settings file's JSON object (a leading byte-order mark is fine, as in Core Tools)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigurationError(f"{path} must hold a JSON object")
    return document
