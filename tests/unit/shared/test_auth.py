"""The caller comes from verified JWT claims only."""

from __future__ import annotations

import pytest

from handlers.shared.auth import caller_from_claims, caller_from_http_event
from handlers.shared.errors import Unauthorized
from tests.support.events import claims_for, http_event


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[Admin]", {"Admin"}),
        ("[Admin Ops]", {"Admin", "Ops"}),
        (["Admin", "Ops"], {"Admin", "Ops"}),
        ("Admin,Ops", {"Admin", "Ops"}),
        ("[]", set()),
        (None, set()),
    ],
)
def test_groups_are_read_in_every_shape_api_gateway_or_an_invoke_sends(raw: object, expected: set[str]) -> None:
    claims = {"sub": "c-1"} if raw is None else {"sub": "c-1", "cognito:groups": raw}
    assert caller_from_claims(claims).groups == expected


def test_only_the_admin_group_makes_an_admin() -> None:
    assert caller_from_claims({"sub": "a", "cognito:groups": "[Admin]"}).is_admin
    assert not caller_from_claims({"sub": "a", "cognito:groups": "[Administrators]"}).is_admin
    assert not caller_from_claims({"sub": "a"}).is_admin


@pytest.mark.parametrize("claims", [None, {}, {"sub": ""}, {"email": "x@example.com"}])
def test_no_subject_is_unauthorized(claims: dict[str, str] | None) -> None:
    with pytest.raises(Unauthorized):
        caller_from_claims(claims)


def test_the_customer_is_the_token_subject_of_an_http_event() -> None:
    event = http_event("GET", "/x", claims=claims_for("sub-42", groups=["Admin"]))
    caller = caller_from_http_event(event)
    assert caller.customer_id == "sub-42"
    assert caller.is_admin


def test_an_http_event_without_an_authorizer_is_unauthorized() -> None:
    with pytest.raises(Unauthorized):
        caller_from_http_event(http_event("GET", "/x"))
