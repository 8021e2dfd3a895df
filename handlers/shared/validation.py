"""pydantic validation errors as the `details` of the documented error body.

Kept apart from http.py so that functions with no HTTP route (tasks, queue and
schedule consumers) never import the Powertools HTTP resolver.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


def validation_details(exc: ValidationError, location: str | None = None) -> list[dict[str, Any]]:
    details = []
    for error in exc.errors(include_url=False, include_input=False):
        parts = ([location] if location else []) + [str(part) for part in error["loc"]]
        details.append({"field": ".".join(parts) or "body", "issue": error["msg"]})
    return details
