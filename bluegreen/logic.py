"""Promote and roll back between the colours of an environment: rules over a target port.

The model (docs/blue-green.md): the environment owns the data (platform stack), a stage colour
owns compute (`<env>-blue`, `<env>-green`), the router owns the entry (`airline-router-<env>`:
the live colour in SSM, the live endpoints, the custom domain's mappings). Promotion:

1. refuses, with a reason, a target that is not deployed, already live, incompatible with the
   data (its data contract differs from the live colour's or from the deployed tables' key
   schemas) or unhealthy (the smoke checks against the colour's own endpoints fail);
2. switches the entry: one update of the router stack (LiveColour, who, when);
3. hands the one-colour work over: the old colour's stacks with queue consumers or schedules are
   updated first (CloudFormation re-reads the live colour: they stop), then the new colour's (they
   start). Never two colours consuming at once; messages wait in the queue meanwhile, none lost;
4. leaves the old colour deployed: workflows it started finish in it.

Rollback is a promotion to the colour the router's record names as the previous one.
Nothing here touches AWS: targets (bluegreen.targets) do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

COLOURS = ("blue", "green")
# The stacks of one colour, and those whose templates run work in the live colour only.
COLOUR_SERVICES = ("autoscaling", "booking", "catalog", "loyalty", "payment")
HTTP_SERVICES = ("booking", "catalog", "loyalty")
ROUTER = "router"


class Refused(Exception):
    """Promotion refused before anything changed: `code` says why (NOT_DEPLOYED, ALREADY_LIVE, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Stack:
    name: str
    parameters: dict[str, str]  # given at its last deploy (or resolved, on AWS)
    outputs: dict[str, Any]

    @property
    def one_colour_only(self) -> bool:
        """Has consumers or schedules that run in the live colour only (plugins/blue-green-stage.js)."""
        return "LiveColour" in self.parameters


class Target(Protocol):
    """Where the environment runs: AWS (CloudFormation, SSM, DynamoDB) or the local cloud."""

    env: str

    def stack(self, name: str) -> Stack | None: ...

    def deploy_router(self, parameters: dict[str, str]) -> Stack:
        """Update (or create) the router stack with these parameters, through CloudFormation."""
        ...

    def refresh(self, stack: Stack) -> None:
        """Update the stack with its current template, so CloudFormation re-reads the live colour."""
        ...

    def key_schemas(self, tables: list[str]) -> dict[str, str]:
        """Deployed key schema per table name: "hash[,range]" (absent: no such table)."""
        ...

    def caller(self) -> str: ...

    def history(self) -> list[str]:
        """The promotion log: the router record's versions, oldest first."""
        ...

    def served(self) -> dict[str, int]:
        """Invocations so far per function name (for the timeline; {} where not known)."""
        ...


Smoke = Callable[[dict[str, str]], list[str]]  # the colour's endpoints -> failures ([] = healthy)


@dataclass
class Timeline:
    """What happened when; `probe` adds what each colour served at every mark (the local cloud's counts)."""

    probe: Callable[[], str] | None = None
    started: float = field(default_factory=time.time)
    events: list[tuple[float, str]] = field(default_factory=list)

    def mark(self, what: str) -> None:
        self.events.append((time.time(), what + (f"  [{self.probe()}]" if self.probe else "")))

    def lines(self) -> list[str]:
        return [f"  +{at - self.started:6.2f}s  {what}" for at, what in self.events]


@dataclass(frozen=True)
class Outcome:
    env: str
    live: str
    previous: str
    promoted_by: str
    promoted_at: str
    timeline: Timeline


def stack_name(service: str, env: str, colour: str | None = None) -> str:
    return f"airline-{service}-{env}-{colour}" if colour else f"airline-{service}-{env}"


def live_colour(target: Target) -> tuple[str, str]:
    """(live colour, previous colour) from the router; ("none", "none") before the first promotion."""
    router = target.stack(stack_name(ROUTER, target.env))
    if router is None:
        raise Refused("NO_ROUTER", f"no router in {target.env}: deploy services/router --stage {target.env} first")
    live = str(router.outputs.get("LiveColour", router.parameters.get("LiveColour", "none")))
    return live, str(router.parameters.get("PreviousColour", "none"))


def colour_stacks(target: Target, colour: str) -> dict[str, Stack]:
    """Every stack of the colour, or a refusal naming those missing."""
    found = {s: target.stack(stack_name(s, target.env, colour)) for s in COLOUR_SERVICES}
    missing = sorted(stack_name(s, target.env, colour) for s, stack in found.items() if stack is None)
    if missing:
        raise Refused("NOT_DEPLOYED", f"{target.env}-{colour} is not deployed: missing {', '.join(missing)}")
    return {s: stack for s, stack in found.items() if stack is not None}


def endpoints(stacks: dict[str, Stack]) -> dict[str, str]:
    return {s: str(stacks[s].outputs["HttpApiUrl"]) for s in HTTP_SERVICES if "HttpApiUrl" in stacks[s].outputs}


def check_compatible(target: Target, colour: str, stacks: dict[str, Stack], live: dict[str, Stack] | None) -> None:
    """The colour's data contract: one across its stacks, the live colour's, and the deployed tables'."""
    contracts = {json.dumps(json.loads(s.outputs["DataContract"]), sort_keys=True) for s in stacks.values()}
    if len(contracts) != 1:
        raise Refused("INCOMPATIBLE", f"the stacks of {target.env}-{colour} disagree on the data contract")
    contract = json.loads(contracts.pop())
    if live is not None:
        theirs = json.loads(next(iter(live.values())).outputs["DataContract"])
        if theirs.get("eventSchemaVersion") != contract.get("eventSchemaVersion"):
            raise Refused(
                "INCOMPATIBLE",
                f"event schema version {contract.get('eventSchemaVersion')} of {colour} differs from the live "
                f"colour's {theirs.get('eventSchemaVersion')}: in-flight events would reach a consumer that does "
                "not read them (docs/blue-green.md: a schema change needs a migration)",
            )
    tables = {f"airline-{target.env}-{name}": keys for name, keys in contract.get("tables", {}).items()}
    deployed = target.key_schemas(sorted(tables))
    changed = [
        f"{t} expects {k!r}, has {deployed.get(t, 'no table')!r}" for t, k in tables.items() if deployed.get(t) != k
    ]
    if changed:
        raise Refused("INCOMPATIBLE", f"{target.env}-{colour} does not fit the data: " + "; ".join(changed))


def promote(
    target: Target,
    to: str,
    smoke: Smoke,
    *,
    rollback: bool = False,
    timeline: Timeline | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Outcome:
    timeline = timeline or Timeline()
    if to not in COLOURS:
        raise Refused("BAD_COLOUR", f"colour {to!r} is not one of {', '.join(COLOURS)}")
    live, _ = live_colour(target)
    if live == to:
        raise Refused("ALREADY_LIVE", f"{target.env}-{to} is already live")
    stacks = colour_stacks(target, to)
    old = colour_stacks(target, live) if live in COLOURS else None
    check_compatible(target, to, stacks, old)
    timeline.mark(f"{to}: deployed, data contract matches {live} and the tables")
    failures = smoke(endpoints(stacks))
    if failures:
        raise Refused("UNHEALTHY", f"{target.env}-{to} failed its smoke checks: " + "; ".join(failures))
    timeline.mark(f"{to}: smoke checks passed on its own endpoints")
    who, when = target.caller(), now().isoformat(timespec="seconds").replace("+00:00", "Z")
    target.deploy_router(
        {"LiveColour": to, "PreviousColour": live, "PromotedBy": who, "PromotedAt": when, "Action": _action(rollback)}
    )
    timeline.mark(f"switch: router live colour {live} -> {to} (public entry serves {to})")
    if old is not None:
        for stack in old.values():
            if stack.one_colour_only:
                target.refresh(stack)
        timeline.mark(f"hand-over: {live}'s consumers and schedules stopped")
    for stack in stacks.values():
        if stack.one_colour_only:
            target.refresh(stack)
    timeline.mark(f"hand-over: {to}'s consumers and schedules started")
    return Outcome(target.env, to, live, who, when, timeline)


def rollback(target: Target, smoke: Smoke, *, timeline: Timeline | None = None) -> Outcome:
    """Back to the colour live before the last promotion, in one step."""
    live, previous = live_colour(target)
    if previous not in COLOURS:
        raise Refused("NOTHING_TO_ROLL_BACK", f"{target.env} has no previous colour (live: {live})")
    return promote(target, previous, smoke, rollback=True, timeline=timeline)


def stand_down(target: Target, *, timeline: Timeline | None = None) -> Outcome:
    """No colour live (router LiveColour none): the public entry and the consumers leave both colours.
    The end of a rehearsal on the local cloud, whose colourless `local` stage then serves again."""
    timeline = timeline or Timeline()
    live, _ = live_colour(target)
    who, when = target.caller(), datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    target.deploy_router(
        {"LiveColour": "none", "PreviousColour": live, "PromotedBy": who, "PromotedAt": when, "Action": "promote"}
    )
    timeline.mark(f"switch: router live colour {live} -> none")
    if live in COLOURS:
        for stack in colour_stacks(target, live).values():
            if stack.one_colour_only:
                target.refresh(stack)
        timeline.mark(f"hand-over: {live}'s consumers and schedules stopped")
    return Outcome(target.env, "none", live, who, when, timeline)


def _action(rollback: bool) -> str:
    return "rollback" if rollback else "promote"
