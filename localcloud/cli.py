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
from typing import TYPE_CHECKING, Any

from localcloud.edge import EdgeError, port_is_free
from localcloud.packaging import PARALLEL_PACKAGES

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.faults import FaultRule


def _quiet() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def up(args: argparse.Namespace) -> int:
    from localcloud.cloud import LocalCloud
    from localcloud.state import StateInUse

    started = time.perf_counter()
    faults = _preflight(args)
    if faults is None:
        return 2
    cloud = LocalCloud(
        stage=args.stage,
        edge_port=args.port,
        gateway_port=args.gateway_port,
        schedules=not args.no_schedules,
        sqs=not args.no_sqs,
        state_dir=args.state_dir.resolve() if args.state_dir else None,
        reset=args.reset,
        account_concurrency=args.account_concurrency,
        faults=faults,
    )
    try:
        cloud.start()  # undoes itself (ports, temp folder) when it fails
    except (EdgeError, StateInUse) as exc:
        print(f"localcloud: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):  # SIGINT too: a background job may inherit it ignored
        signal.signal(signum, lambda *_: stop.set())
    status = 0
    webapp = None
    try:
        _print_state(cloud)
        packages = _packages(cloud, args)
        cloud.deploy_all(packages, progress=lambda m: print(m, flush=True))
        print(cloud.deployment.not_emulated_line())
        if packages:
            pool_id, client_id = cloud.user_pool()
            print(f"user pool {pool_id}, client {client_id}")
        for service, url in cloud.endpoints().items():
            print(f"  {service:<12} {url}")
        if args.app_port >= 0:
            from localcloud.webapp import serve

            webapp = serve(cloud, args.app_port)
            print(f"web app: {webapp.url}/" + ("" if webapp.built() else "  (not built yet: run `make app`)"))
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
        if webapp is not None:
            webapp.stop()
        cloud.stop()
    return status


def _packages(cloud: LocalCloud, args: argparse.Namespace) -> dict[str, Path]:
    """The stacks `up` deploys: every stack's package (none with --no-deploy) and the extra ones."""
    packages: dict[str, Path] = {}
    if args.no_deploy:
        print('no stack deployed (--no-deploy): deploy with `sls deploy --stage local` (eval "$(make -s env)")')
    else:
        print(f"packaging (up to {args.package_jobs} stacks at once, unchanged stacks cached) ...", flush=True)
        packages = cloud.package_all(progress=lambda m: print(m, flush=True), jobs=args.package_jobs)
    for extra in args.extra_stack:
        name, _, folder = extra.partition("=")
        packages[name] = Path(folder).resolve()
    return packages


def _preflight(args: argparse.Namespace) -> list[FaultRule] | None:
    """The fault rules of `--faults`, or None (said on stderr) when they or the gateway port are unusable."""
    from localcloud.faults import FaultSpecError, parse_spec

    try:
        faults = parse_spec(args.faults) if args.faults else []
    except (FaultSpecError, OSError) as exc:
        print(f"localcloud: --faults: {exc}", file=sys.stderr)
        return None
    if args.gateway_port and not port_is_free("127.0.0.1", args.gateway_port):
        print(
            f"localcloud: gateway port {args.gateway_port} is busy: choose another with --gateway-port", file=sys.stderr
        )
        return None
    return faults


def _print_state(cloud: LocalCloud) -> None:
    print(f"edge (moto + Lambda Invoke API): {cloud.edge.url}", flush=True)
    if cloud.state:
        how = "restored from" if cloud.restored else "new, kept in"
        print(f"state: {how} {cloud.state.folder} (--reset starts clean)", flush=True)
    else:
        print("state: not kept (no --state-dir): everything is gone at stop", flush=True)


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


def running(state_dir: Path) -> dict[str, Any] | None:
    """The running local cloud that keeps its state in `state_dir` (its marker file), or None."""
    import json
    import os

    from localcloud.cloud import RUNNING_FILE

    marker = state_dir.parent / RUNNING_FILE
    try:
        found: dict[str, Any] = json.loads(marker.read_text())
        os.kill(int(found["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return found


def env(args: argparse.Namespace) -> int:
    """Shell exports pointing AWS clients (CLI, boto3, sls) at the running `make local`."""
    found = running(args.state_dir)
    if found is None:
        print("localcloud: no local cloud is running: start one with `make local`", file=sys.stderr)
        return 1
    exports = {
        "AWS_ENDPOINT_URL": found["edge"],
        "AWS_REGION": found["region"],
        "AWS_DEFAULT_REGION": found["region"],
        "AWS_ACCESS_KEY_ID": "localcloud",
        "AWS_SECRET_ACCESS_KEY": "localcloud",
        "LOCALCLOUD_GATEWAY_URL": found["gateway"],
    }
    for name, value in exports.items():
        print(f"export {name}={value}")
    return 0


def demo(args: argparse.Namespace) -> int:
    from localcloud.demo import run

    return run(edge_port=args.port)


def main(argv: list[str] | None = None) -> int:
    _quiet()
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["release"]:  # its own options: localcloud/release.py
        from localcloud.release import main as release

        return release(argv[1:])
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
    p_up.add_argument(
        "--package-jobs", type=int, default=PARALLEL_PACKAGES, help="stacks packaged at once (sls package)"
    )
    p_up.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="keep users, ids, key, tables, queues and stacks here across restarts (make local: .localcloud/state)",
    )
    p_up.add_argument("--reset", action="store_true", help="start with an empty --state-dir")
    p_up.add_argument(
        "--app-port", type=int, default=4568, help="web app port (frontend/dist; 0: any free port, -1: none)"
    )
    p_up.add_argument("--no-sqs", action="store_true", help="do not poll SQS event source mappings")
    p_up.add_argument(
        "--no-deploy", action="store_true", help="start with no stack deployed (then `sls deploy --stage local`)"
    )
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
    p_env = commands.add_parser("env", help="print the exports that point AWS clients at the running `make local`")
    p_env.add_argument("--state-dir", type=Path, default=Path(".localcloud/state"))
    p_env.set_defaults(func=env)
    commands.add_parser("release", help="rehearse a canary release of one stack on the running `make local`")
    p_demo = commands.add_parser("demo", help="start on free ports, deploy, walk the journey, report")
    p_demo.add_argument("--port", type=int, default=None, help="edge port (default: a free one)")
    p_demo.set_defaults(func=demo)
    args = parser.parse_args(argv)
    return int(args.func(args))
