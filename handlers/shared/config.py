"""Configuration parsed once from the environment into a typed, frozen record that refuses empty values.

Every service declares its settings the same way, as a record (handlers/shared/records.py):

    @record
    class CatalogConfig:
        flights_table_name: str = setting("FLIGHTS_TABLE_NAME")                      # required
        seat_reservations_table_name: str | None = setting("SEAT_RESERVATIONS_TABLE_NAME", None)

    load_config = cache(lambda: from_environment(CatalogConfig))   # parsed once per process

A required variable that is missing, any variable set to an empty (or blank) value,
or a value that is not of the declared type (str, int, float, bool) is refused with
ConfigError naming the variable. Checks across settings go in `__post_init__`
(raise ConfigError through `refuse`). A setting only some functions of a service
get is declared optional and taken with `required(...)` where it is used.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, field, fields
from typing import Any, NoReturn

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class ConfigError(Exception):
    """The function's environment is not a valid configuration: a deployment bug, never the caller's fault."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['field']}: {p['issue']}" for p in problems))
        self.details = problems


def setting(env: str, default: Any = MISSING) -> Any:
    """A field read from the environment variable `env` (required unless it has a default)."""
    return field(default=default, metadata={"env": env})


def refuse(env: str, issue: str) -> NoReturn:
    raise ConfigError([{"field": env, "issue": issue}])


def env_name(config: type[Any], name: str) -> str:
    """The environment variable behind field `name` of a config class."""
    return str(next(f.metadata["env"] for f in fields(config) if f.name == name))


def required[T](value: T | None, env: str) -> T:
    """An optional setting this function needs: its value, or ConfigError if the function was not given it."""
    if value is None:
        refuse(env, "not set for this function")
    return value


def _convert(raw: str, kind: Any) -> Any:
    if typing.get_origin(kind) in (types.UnionType, typing.Union):
        (kind,) = [arg for arg in typing.get_args(kind) if arg is not type(None)]
    if kind is str:
        return raw
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered not in _TRUE | _FALSE:
            raise ValueError(f"{raw!r} is not a boolean (true/false)")
        return lowered in _TRUE
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{raw!r} is not an integer") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{raw!r} is not a number") from None
    raise TypeError(f"settings of type {kind!r} are not supported")


def from_environment[C](config: type[C], environ: Mapping[str, str] | None = None) -> C:
    """`config` filled from `environ` (default: the process environment); ConfigError lists every problem."""
    values = os.environ if environ is None else environ
    hints = typing.get_type_hints(config)
    parsed: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    for spec in fields(config):  # type: ignore[arg-type]
        env = spec.metadata["env"]
        raw = values.get(env)
        if raw is None:
            if spec.default is MISSING:
                problems.append({"field": env, "issue": "not set"})
            continue
        if not raw.strip():
            problems.append({"field": env, "issue": "empty"})
            continue
        try:
            parsed[spec.name] = _convert(raw, hints[spec.name])
        except ValueError as exc:
            problems.append({"field": env, "issue": str(exc)})
    if problems:
        raise ConfigError(problems)
    return config(**parsed)


__all__ = ["ConfigError", "env_name", "from_environment", "refuse", "required", "setting"]
