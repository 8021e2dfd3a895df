"""Promotion rules over an in-memory environment: refusals change nothing, the switch and hand-over order."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from bluegreen.logic import COLOUR_SERVICES, Refused, Stack, promote, rollback, stack_name, stand_down
from handlers.shared.events import SCHEMA_VERSION

CONTRACT = {"eventSchemaVersion": SCHEMA_VERSION, "tables": {"bookings": "bookingId", "flights": "flightId"}}


def _colour(colour: str, contract: dict[str, Any] = CONTRACT) -> dict[str, Stack]:
    stacks = {}
    for service in COLOUR_SERVICES:
        outputs: dict[str, Any] = {"DataContract": json.dumps(contract)}
        if service in ("booking", "catalog", "loyalty"):
            outputs["HttpApiUrl"] = f"https://{service}-{colour}.example"
        parameters = {"LiveColour": "x"} if service in ("autoscaling", "loyalty") else {}
        name = stack_name(service, "prod", colour)
        stacks[name] = Stack(name, parameters, outputs)
    return stacks


@dataclass
class FakeEnvironment:
    """An environment with a router; every change is logged in order."""

    env: str = "prod"
    stacks: dict[str, Stack] = field(default_factory=dict)
    tables: dict[str, str] = field(
        default_factory=lambda: {"airline-prod-bookings": "bookingId", "airline-prod-flights": "flightId"}
    )
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.set_router("none", "none")

    def set_router(self, live: str, previous: str) -> None:
        name = stack_name("router", self.env)
        self.stacks[name] = Stack(name, {"LiveColour": live, "PreviousColour": previous}, {"LiveColour": live})

    def stack(self, name: str) -> Stack | None:
        return self.stacks.get(name)

    def deploy_router(self, parameters: dict[str, str]) -> Stack:
        self.log.append(f"router {parameters['LiveColour']} by {parameters['PromotedBy']} ({parameters['Action']})")
        self.set_router(parameters["LiveColour"], parameters["PreviousColour"])
        return self.stacks[stack_name("router", self.env)]

    def refresh(self, stack: Stack) -> None:
        self.log.append(f"refresh {stack.name}")

    def key_schemas(self, tables: list[str]) -> dict[str, str]:
        return {t: self.tables[t] for t in tables if t in self.tables}

    def caller(self) -> str:
        return "arn:aws:iam::123456789012:user/release-manager"

    def history(self) -> list[str]:
        return []

    def served(self) -> dict[str, int]:
        return {}


def healthy(endpoints: dict[str, str]) -> list[str]:
    return []


def test_promotion_switches_the_router_then_stops_the_old_colours_consumers_before_starting_the_new() -> None:
    # Given blue live and green deployed
    world = FakeEnvironment()
    world.stacks |= _colour("blue") | _colour("green")
    world.set_router("blue", "none")
    # When green is promoted
    outcome = promote(world, "green", healthy)
    # Then the router switches first, blue's one-colour stacks are updated, then green's
    assert outcome.live == "green"
    assert outcome.previous == "blue"
    assert world.log == [
        "router green by arn:aws:iam::123456789012:user/release-manager (promote)",
        "refresh airline-autoscaling-prod-blue",
        "refresh airline-loyalty-prod-blue",
        "refresh airline-autoscaling-prod-green",
        "refresh airline-loyalty-prod-green",
    ]


def test_rollback_returns_to_the_previous_colour_in_one_step() -> None:
    world = FakeEnvironment()
    world.stacks |= _colour("blue") | _colour("green")
    world.set_router("green", "blue")
    outcome = rollback(world, healthy)
    assert (outcome.live, outcome.previous) == ("blue", "green")
    assert world.log[0].endswith("(rollback)")


def test_rollback_with_no_previous_colour_is_refused() -> None:
    world = FakeEnvironment()
    world.stacks |= _colour("blue")
    world.set_router("blue", "none")
    with pytest.raises(Refused) as refused:
        rollback(world, healthy)
    assert refused.value.code == "NOTHING_TO_ROLL_BACK"


@pytest.mark.parametrize(
    ("arrange", "code"),
    [
        (lambda w: w.stacks.pop("airline-payment-prod-green"), "NOT_DEPLOYED"),
        (lambda w: w.set_router("green", "blue"), "ALREADY_LIVE"),
        (lambda w: w.stacks.update(_colour("green", {**CONTRACT, "eventSchemaVersion": 2})), "INCOMPATIBLE"),
        (lambda w: w.tables.update({"airline-prod-bookings": "id"}), "INCOMPATIBLE"),
        (lambda w: w.tables.pop("airline-prod-flights"), "INCOMPATIBLE"),
    ],
    ids=["not-deployed", "already-live", "event-schema-changed", "key-schema-changed", "table-missing"],
)
def test_refusals_change_nothing(arrange: Any, code: str) -> None:
    world = FakeEnvironment()
    world.stacks |= _colour("blue") | _colour("green")
    world.set_router("blue", "none")
    arrange(world)
    with pytest.raises(Refused) as refused:
        promote(world, "green", healthy)
    assert refused.value.code == code
    assert world.log == []


def test_an_unhealthy_colour_is_refused_with_its_failures_and_nothing_changes() -> None:
    world = FakeEnvironment()
    world.stacks |= _colour("blue") | _colour("green")
    world.set_router("blue", "none")
    seen: list[dict[str, str]] = []

    def failing(endpoints: dict[str, str]) -> list[str]:
        seen.append(endpoints)
        return ["catalog: GET /flights answered 500"]

    with pytest.raises(Refused) as refused:
        promote(world, "green", failing)
    assert refused.value.code == "UNHEALTHY"
    assert "answered 500" in str(refused.value)
    assert seen == [{s: f"https://{s}-green.example" for s in ("booking", "catalog", "loyalty")}]  # its own endpoints
    assert world.log == []


def test_without_a_router_promotion_says_to_deploy_it() -> None:
    world = FakeEnvironment()
    world.stacks.clear()
    with pytest.raises(Refused) as refused:
        promote(world, "blue", healthy)
    assert refused.value.code == "NO_ROUTER"


def test_standing_down_leaves_no_colour_live_and_stops_its_consumers() -> None:
    world = FakeEnvironment()
    world.stacks |= _colour("blue")
    world.set_router("blue", "none")
    stand_down(world)
    assert world.log[0].startswith("router none")
    assert world.log[1:] == ["refresh airline-autoscaling-prod-blue", "refresh airline-loyalty-prod-blue"]
