"""`python -m bluegreen promote|rollback|status|deploy-colour` (what `make promote`/`make rollback` run).

ENV local acts on the running `make local` (.localcloud/running.json, or --gateway/--edge);
any other environment on AWS with the credentials of the usual chain (AWS_PROFILE, ...).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from bluegreen.logic import (
    COLOUR_SERVICES,
    COLOURS,
    ROUTER,
    Outcome,
    Refused,
    Target,
    Timeline,
    live_colour,
    promote,
    rollback,
    stack_name,
    stand_down,
)
from bluegreen.smoke import smoke_checks
from bluegreen.targets import AwsTarget, LocalTarget

ROOT = Path(__file__).resolve().parents[1]
SMOKE_USER = "smoke@bluegreen.local"


def target_for(args: argparse.Namespace) -> Target:
    if args.env != "local":
        return AwsTarget(args.env)
    if args.gateway and args.edge:
        return LocalTarget(args.gateway, args.edge)
    return LocalTarget.running(ROOT / ".localcloud" / "running.json")


def token_for(target: Target) -> Callable[[], str | None]:
    """A customer's token for the smoke checks: a smoke user of the local pool, or AIRLINE_SMOKE_TOKEN."""
    if isinstance(target, LocalTarget):
        edge = target.edge_url

        def local() -> str | None:
            from localcloud.users import find_pool, sign_in

            pool, client = find_pool(edge, target.env)
            return sign_in(edge, pool, client, SMOKE_USER).access

        return local
    return lambda: os.environ.get("AIRLINE_SMOKE_TOKEN") or None


def served_probe(target: Target) -> Callable[[], str] | None:
    """Invocations per colour since the command started (the local cloud counts them; AWS: CloudWatch)."""
    if not target.served():
        return None
    start = target.served()
    prefixes = {colour: f"-{target.env}-{colour}-" for colour in COLOURS}

    def probe() -> str:
        now = target.served()
        parts = []
        for colour, prefix in prefixes.items():
            names = [n for n in now if prefix in n]
            total = sum(now[n] - start.get(n, 0) for n in names)
            consumed = sum(now[n] - start.get(n, 0) for n in names if n.endswith("-creditPoints"))
            parts.append(f"{colour}: {total} invocations, {consumed} consumer batches")
        return "; ".join(parts)

    return probe


def report(outcome: Outcome, verb: str) -> None:
    print(f"{verb}: {outcome.env} live colour {outcome.previous} -> {outcome.live}")
    print(f"  by {outcome.promoted_by} at {outcome.promoted_at} (router SSM /airline-{outcome.env}/live-colour)")
    print("timeline (since the command started):")
    for line in outcome.timeline.lines():
        print(line)


def cmd_promote(args: argparse.Namespace) -> int:
    target = target_for(args)
    timeline = Timeline(probe=served_probe(target))
    timeline.mark("start")
    outcome = promote(target, args.to, smoke_checks(token_for(target)), timeline=timeline)
    report(outcome, "promoted")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    target = target_for(args)
    timeline = Timeline(probe=served_probe(target))
    timeline.mark("start")
    outcome = rollback(target, smoke_checks(token_for(target)), timeline=timeline)
    report(outcome, "rolled back")
    return 0


def cmd_stand_down(args: argparse.Namespace) -> int:
    outcome = stand_down(target_for(args))
    report(outcome, "stood down")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    target = target_for(args)
    live, previous = live_colour(target)
    router = target.stack(stack_name(ROUTER, target.env))
    print(f"{target.env}: live {live} (previous {previous})")
    if router is not None:
        for key, value in sorted(router.outputs.items()):
            print(f"  {key}: {value}")
    for colour in COLOURS:
        deployed = [s for s in COLOUR_SERVICES if target.stack(stack_name(s, target.env, colour))]
        print(f"  {target.env}-{colour}: {', '.join(deployed) or 'not deployed'}")
    print("promotion log:")
    for line in target.history():
        print(f"  {line}")
    return 0


def cmd_deploy_colour(args: argparse.Namespace) -> int:
    """Local rehearsal: the router (first time, live none), then every stack of each colour given."""
    target = target_for(args)
    if not isinstance(target, LocalTarget):
        print(f"on AWS deploy a colour with `make deploy STAGE={args.env}-<colour>`", file=sys.stderr)
        return 2
    stages = [f"{target.env}-{colour}" for colour in args.colour]
    package_colours(stages)
    if target.stack(stack_name(ROUTER, target.env)) is None:
        target.deploy(ROUTER, target.env)
        print(f"  deployed {stack_name(ROUTER, target.env)} (live colour: none)")
    for stage in stages:
        for service in COLOUR_SERVICES:
            stack = target.deploy(service, stage)
            print(
                f"  deployed {stack.name}"
                + (f": {stack.outputs['HttpApiUrl']}" if "HttpApiUrl" in stack.outputs else "")
            )
    return 0


def package_colours(stages: list[str]) -> None:
    """Package every stack of these colour stages from this checkout, several at once (the local cloud
    then deploys them from the same cache, .build/<stack>/<stage>)."""
    from localcloud.packaging import PARALLEL_PACKAGES, ROUTER_STACK, package

    pairs = [(service, stage) for stage in stages for service in COLOUR_SERVICES] + [
        (ROUTER_STACK, stages[0].split("-")[0])
    ]
    with ThreadPoolExecutor(max_workers=PARALLEL_PACKAGES) as pool:
        list(pool.map(lambda pair: package(*pair), pairs))


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m bluegreen", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)

    def command(name: str, func: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--env", required=True, help="local, dev or prod")
        sub.add_argument(
            "--gateway", help="local only: the local cloud's gateway URL (default: the running make local)"
        )
        sub.add_argument("--edge", help="local only: the local cloud's edge URL")
        sub.set_defaults(func=func)
        return sub

    command("promote", cmd_promote, "check the colour, switch the entry, hand consumers over").add_argument(
        "--to", required=True, choices=COLOURS
    )
    command("rollback", cmd_rollback, "back to the colour live before the last promotion")
    command("status", cmd_status, "the live colour and what is deployed")
    command("stand-down", cmd_stand_down, "no colour live: the entry and consumers leave both colours")
    command("deploy-colour", cmd_deploy_colour, "local: deploy the router and colours").add_argument(
        "--colour", required=True, choices=COLOURS, nargs="+"
    )
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except Refused as refusal:
        print(f"refused ({refusal.code}): {refusal}", file=sys.stderr)
        return 3
    except (LookupError, BotoCoreError, ClientError) as exc:  # no cloud, no credentials, AWS said no
        print(f"error: {exc}", file=sys.stderr)
        return 2
