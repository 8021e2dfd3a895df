"""Entry modules called with adapters a test chose, instead of resetting module globals.

Every entry module (api, tasks, consumer, schedule) has `build_adapters(config)` and
handlers that take `adapters=`; production builds them once per process
(`cold_start()`). `wired(module, Config)` builds them as a cold start would, from the
environment as the test set it, and passes them to every handler of the module.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any


class Wired:
    """`module` whose handlers (`handler`, `*_handler`) are called with `adapters`."""

    def __init__(self, module: ModuleType, adapters: Any) -> None:
        self.module = module
        self.adapters = adapters

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.module, name)
        if name == "handler" or name.endswith("_handler"):
            return functools.partial(value, adapters=self.adapters)
        return value


def wired(module: ModuleType, config: type[Any], **replaced: Any) -> Wired:
    """`module` wired with the adapters a cold start would build now (some replaced by the test)."""
    import dataclasses

    from handlers.shared.config import from_environment

    adapters = module.build_adapters(from_environment(config))
    return Wired(module, dataclasses.replace(adapters, **replaced) if replaced else adapters)
