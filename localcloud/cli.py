"""Commands: `up`, `token`, `deploy`, `demo`.

python -m localcloud up [--stage local] [--port 4566] [--gateway-port 4567] [--no-schedules]
python -m localcloud token --email you@example.com [--admin] [--port 4566] [--id-token]
python -m localcloud deploy <stack> [--gateway-port 4567]     # update a changed stack in place
python -m localcloud demo
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from localcloud.edge import EdgeError, port_is_free


def _quiet() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def up(args: argparse.Namespace) -> int:
    from localcloud.cloud import LocalCloud
    from localcloud.faults import FaultSpecError, parse_spec

    started = time.perf_counter()
    try:
        faults = parse_spec(args.faults) if args.faults else []
    except (FaultSpecError, OSError) as exc:
        print(f"localcloud: --faults: {exc}", file=sys.stderr)
        return 2
    cloud = LocalCloud(
        stage=args.stage,
        edge_port=args.port,
        gateway_port=args.gateway_port,
        schedules=not args.no_schedules,
        sqs=not args.no_sqs,
        account_concurrency=args.account_concurrency,
        faults=faults,
    )
    if args.gateway_port and not port_is_free("127.0.0.1", args.gateway_port):
        print(
            f"localcloud: gateway port {args.gateway_port} is busy: choose another with --gateway-port", file=sys.stderr
        )
        return 2
    try:
        cloud.start()
    except EdgeError as exc:
        print(f"localcloud: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):  # SIGINT too: a background job may inherit it ignored
        signal.signal(signum, lambda *_: stop.set())
    status = 0
    try:
        print(f"edge (moto + Lambda Invoke API): {cloud.edge.url}", flush=True)
        packages = cloud.package_all(progress=lambda m: print(m, flush=True))
        for extra in args.extra_stack:
            name, _, folder = extra.partition("=")
            packages[name] = Path(folder).resolve()
        cloud.deploy_all(packages, progress=lambda m: print(m, flush=True))
        print(cloud.deployment.not_emulated_line())
        pool_id, client_id = cloud.user_pool()
        print(f"user pool {pool_id}, client {client_id}")
        for service, url in cloud.endpoints().items():
            print(f"  {service:<12} {url}")
        print(f"functions: {len(cloud.runner.names())}, logs in {cloud.workdir / 'logs'}")
        for rule in faults:
            print(f"fault: {rule.service} {rule.operation or '*'} {rule.function or ''} -> {rule.error} at {rule.rate}")
        print(
            f"get a token:  .venv/bin/python -m localcloud token --port {cloud.edge.port} --email you@example.com"
            " [--admin]"
        )
        print(f"ready in {time.perf_counter() - started:.1f}s; Ctrl-C to stop", flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # a failed package or deploy: one clear message, then stop
        print(f"localcloud: {type(exc).__name__}: {exc}", file=sys.stderr)
        status = 1
    finally:
        print("stopping", flush=True)
        cloud.stop()
    return status


def token(args: argparse.Namespace) -> int:
    from localcloud.users import find_pool, sign_in

    edge = f"http://127.0.0.1:{args.port}"
    try:
        pool_id, client_id = find_pool(edge, args.stage)
    except Exception as exc:
        print(f"localcloud: {exc}", file=sys.stderr)
        return 2
    tokens = sign_in(edge, pool_id, client_id, args.email, admin=args.admin, password=args.password)
    print(tokens.id if args.id_token else tokens.access)
    return 0


def deploy(args: argparse.Namespace) -> int:
    import requests

    answer = requests.post(f"http://127.0.0.1:{args.gateway_port}/_localcloud/deploy/{args.stack}", timeout=900)
    print(answer.text)
    return 0 if answer.ok else 1


def demo(args: argparse.Namespace) -> int:
    from localcloud.demo import run

    return run(edge_port=args.port)


def main(argv: list[str] | None = None) -> int:
    _quiet()
    parser = argparse.ArgumentParser(
        prog="python -m localcloud", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    p_up = commands.add_parser("up", help="package, start, deploy and serve until Ctrl-C")
    p_up.add_argument("--stage", default="local")
    p_up.add_argument("--port", type=int, default=4566, help="edge port (moto + Lambda Invoke API)")
    p_up.add_argument("--gateway-port", type=int, default=4567, help="HTTP APIs port (0: any free port)")
    p_up.add_argument(
        "--extra-stack",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="also deploy an already packaged stack (template + zips in DIR)",
    )
    p_up.add_argument("--no-sqs", action="store_true", help="do not poll SQS event source mappings")
    p_up.add_argument("--no-schedules", action="store_true", help="do not fire scheduled functions")
    p_up.add_argument(
        "--faults",
        default="",
        metavar="SPEC",
        help="inject faults, e.g. 'service=dynamodb,operation=TransactWriteItems,error=TransactionConflict,rate=0.1' "
        "(rules joined by ';', a JSON list, or @file.json; see docs/localcloud.md)",
    )
    p_up.add_argument(
        "--account-concurrency",
        type=int,
        default=12,
        help="live Lambda workers in all (the account concurrency limit); beyond it invocations queue briefly, "
        "then are throttled",
    )
    p_up.set_defaults(func=up)
    p_token = commands.add_parser("token", help="sign up/in on the running local pool and print a token")
    p_token.add_argument("--email", required=True)
    p_token.add_argument("--admin", action="store_true", help="add the user to the Admin group")
    p_token.add_argument("--password", default="Local-Passw0rd!")
    p_token.add_argument("--id-token", action="store_true", help="print the id token instead of the access token")
    p_token.add_argument("--port", type=int, default=4566)
    p_token.add_argument("--stage", default="local")
    p_token.set_defaults(func=token)
    p_deploy = commands.add_parser("deploy", help="re-package one stack and update it in place on a running `up`")
    p_deploy.add_argument("stack", help="platform or a service name")
    p_deploy.add_argument("--gateway-port", type=int, default=4567)
    p_deploy.set_defaults(func=deploy)
    p_demo = commands.add_parser("demo", help="start on free ports, deploy, walk the journey, report")
    p_demo.add_argument("--port", type=int, default=None, help="edge port (default: a free one)")
    p_demo.set_defaults(func=demo)
    args = parser.parse_args(argv)
    return int(args.func(args))
