"""Background work the local cloud repeats on a clock: shipping logs and metrics, saving its state."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Periodic:
    """Calls `work` every `interval` seconds on a daemon thread, from `start` until `stop`.

    A failing round is reported through `on_error` and the next round tries again: while
    the cloud stops, the edge that `work` talks to may already be gone.
    """

    def __init__(
        self, name: str, interval: float, work: Callable[[], object], on_error: Callable[[str], None] = print
    ) -> None:
        self.name = name
        self.interval = interval
        self._work = work
        self._on_error = on_error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._work()
            except Exception as exc:  # reported; the next round retries
                self._on_error(f"{self.name} failed, retrying: {type(exc).__name__}: {exc}")
