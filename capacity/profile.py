"""Traffic profiles: requests per second, one value per second from 0."""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from capacity.model import PlanningError

MAX_SECONDS = 31 * 24 * 3600  # a month of seconds is plenty for a profile
_BURST = re.compile(r"^(?P<rate>\d+(?:\.\d+)?)@(?P<start>\d+)s?\+(?P<length>\d+)s?$")


def from_csv(path: Path) -> list[float]:
    """A CSV of `second,requests_per_second` rows (a header row is allowed); missing seconds carry no load."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise PlanningError(f"cannot read {path}: {exc.strerror}") from exc
    rows = [row for row in csv.reader(text.splitlines()) if row and any(cell.strip() for cell in row)]
    if rows and not _is_number(rows[0][0]):
        rows = rows[1:]  # header
    if not rows:
        raise PlanningError(f"{path} has no data rows (expected `second,requests_per_second`)")
    points: dict[int, float] = {}
    for number, row in enumerate(rows, start=1):
        if len(row) != 2:
            raise PlanningError(
                f"{path} row {number}: expected 2 columns (second, requests_per_second), got {len(row)}"
            )
        second, rate = _number(row[0], path, number, "second"), _number(row[1], path, number, "requests_per_second")
        if second < 0 or second != int(second):
            raise PlanningError(f"{path} row {number}: second must be a whole number >= 0, got {row[0].strip()}")
        if rate < 0:
            raise PlanningError(f"{path} row {number}: requests_per_second must not be negative, got {row[1].strip()}")
        if int(second) in points:
            raise PlanningError(f"{path} row {number}: second {int(second)} appears twice")
        points[int(second)] = rate
    return _dense(points)


def from_shape(steady: float, length: int, bursts: Iterable[str]) -> list[float]:
    """A steady rate for `length` seconds; each burst `RATE@STARTs+LENGTHs` sets the rate inside its window."""
    if steady < 0:
        raise PlanningError(f"--steady must not be negative, got {steady:g}")
    if length < 1:
        raise PlanningError("--length must be at least 1 second")
    rates = [float(steady)] * length
    for burst in bursts:
        match = _BURST.match(burst.strip())
        if not match:
            raise PlanningError(f"--burst {burst!r}: expected RATE@STARTs+LENGTHs, for example 2000@60s+30s")
        rate, start, span = float(match["rate"]), int(match["start"]), int(match["length"])
        if span < 1:
            raise PlanningError(f"--burst {burst!r}: the length must be at least 1 second")
        if start + span > MAX_SECONDS:
            raise PlanningError(f"--burst {burst!r}: ends after {MAX_SECONDS} seconds")
        if start + span > len(rates):
            rates.extend([float(steady)] * (start + span - len(rates)))
        for second in range(start, start + span):
            rates[second] = rate
    return rates


def duration_from_figures(path: Path, function: str) -> float:
    """A function's duration in ms from a benchmark figures file.

    Accepted shapes: {"<function>": {"durationMs": 120}} or
    {"<function>": {"durationMs": {"p95": 120, "p50": 80}}} (p95 preferred),
    optionally under a top-level "functions" key.
    """
    try:
        figures: Any = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise PlanningError(f"cannot read benchmark figures from {path}: {exc}") from exc
    entry = (figures.get("functions", figures) if isinstance(figures, dict) else {}).get(function)
    value = entry.get("durationMs") if isinstance(entry, dict) else None
    if isinstance(value, dict):
        value = value.get("p95", value.get("p50"))
    if not isinstance(value, int | float) or value <= 0:
        raise PlanningError(f"{path} has no positive durationMs for {function}; pass --duration-ms")
    return float(value)


def _dense(points: dict[int, float]) -> list[float]:
    last = max(points)
    if last >= MAX_SECONDS:
        raise PlanningError(f"the profile runs past {MAX_SECONDS} seconds")
    return [points.get(second, 0.0) for second in range(last + 1)]


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _number(text: str, path: Path, row: int, column: str) -> float:
    if not _is_number(text):
        raise PlanningError(f"{path} row {row}: {column} is not a number: {text.strip()!r}")
    return float(text)
