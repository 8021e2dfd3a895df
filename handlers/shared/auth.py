"""The caller, read from the JWT claims that the HTTP API authorizer verified.

The customer is always the token's `sub`; it is never taken from a body or a path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.shared.errors import Unauthorized
from handlers.shared.records import record

ADMIN_GROUP = "Admin"


@record
class Caller:
    """Who calls an API, from the verified token's claims."""

    customer_id: str
    groups: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups


def _parse_groups(raw: Any) -> frozenset[str]:
    # API Gateway renders a list claim as the string "[Admin Other]"; a direct
    # invoke may pass a real list or a comma-separated string.
    if raw is None:
        return frozenset()
    if isinstance(raw, list | tuple):
        return frozenset(str(group) for group in raw)
    text = str(raw).strip().strip("[]")
    return frozenset(part for part in text.replace(",", " ").split() if part)


def caller_from_claims(claims: Mapping[str, Any] | None) -> Caller:
    if not claims or not claims.get("sub"):
        raise Unauthorized("The request carries no verified identity")
    return Caller(customer_id=str(claims["sub"]), groups=_parse_groups(claims.get("cognito:groups")))


def caller_from_http_event(event: Mapping[str, Any]) -> Caller:
    """Caller of an API Gateway v2 (payload 2.0) event with a JWT authorizer."""
    context = event.get("requestContext") or {}
    authorizer = context.get("authorizer") or {}
    jwt = authorizer.get("jwt") or {}
    return caller_from_claims(jwt.get("claims"))
