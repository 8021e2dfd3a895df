"""The Serverless Framework's own commands against the local cloud (issue 15), with nothing but the
endpoint and dummy credentials in the environment.

From a stopped state (a cloud of its own, started with no stack), `sls deploy --stage local` deploys
the platform and the services a booking needs, a flight is booked over HTTP, one handler is changed
and `sls deploy function` serves the change, `sls logs` reads it, and `sls remove` refuses while
another stack imports the service's exports, then removes it.

The catalog is deployed from a scratch copy of the repository (its handler is changed there, the
work tree is never touched) with a full `sls deploy` (packaging included); the platform, payment
and booking are deployed with `sls deploy --package` from the packages the session has built
(`localcloud.packaging`, the same `sls package` output). It has its own xdist group: it runs beside
the main e2e group, on its own cloud.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests

from localcloud.edge import free_port
from localcloud.packaging import package
from localcloud.users import find_pool, sign_in
from tests.e2e.conftest import book_until_final
from tests.support.events import claims_for, http_event

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("serverless-cli")]

ROOT = Path(__file__).resolve().parents[2]
SLS = ROOT / "node_modules" / ".bin" / "sls"
SEED = ROOT / "data" / "seed-flights.json"
CHANGED = "is not on our timetable (sls deploy function)"


@dataclass
class Cli:
    edge_url: str
    gateway_url: str
    catalog: Path  # the scratch copy's services/catalog
    timings: dict[str, float]

    def env(self) -> dict[str, str]:
        """Only the endpoint, the region and dummy credentials: what `make -s env` prints."""
        keep = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        return {
            **keep,
            "AWS_ENDPOINT_URL": self.edge_url,
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "localcloud",
            "AWS_SECRET_ACCESS_KEY": "localcloud",
            "SLS_TELEMETRY_DISABLED": "1",
            "SLS_NOTIFICATIONS_MODE": "off",
            "NODE_NO_WARNINGS": "1",
        }

    def sls(self, label: str, folder: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        started = time.perf_counter()
        done = subprocess.run(
            [str(SLS), *args, "--stage", "local"],
            cwd=folder,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        self.timings[label] = time.perf_counter() - started
        if ok:
            assert done.returncode == 0, f"sls {' '.join(args)} in {folder}:\n{done.stdout}\n{done.stderr}"
        return done

    def client(self, service: str) -> boto3.client:
        return boto3.client(
            service,
            endpoint_url=self.edge_url,
            region_name="eu-west-1",
            aws_access_key_id="localcloud",
            aws_secret_access_key="localcloud",  # noqa: S106 - the local cloud's
        )


def _scratch_catalog(root: Path) -> Path:
    """services/catalog in a copy of the repository's layout, with its own copy of the handlers."""
    (root / "services").mkdir(parents=True)
    for shared in ("node_modules", ".venv", "plugins", "requirements.txt", "package.json"):
        (root / shared).symlink_to(ROOT / shared)
    (root / "services" / "common").symlink_to(ROOT / "services" / "common")
    shutil.copytree(ROOT / "handlers", root / "handlers", ignore=shutil.ignore_patterns("__pycache__"))
    catalog = root / "services" / "catalog"
    shutil.copytree(ROOT / "services" / "catalog", catalog, symlinks=True, ignore=shutil.ignore_patterns(".serverless"))
    return catalog


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    edge_port, gateway_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "localcloud",
            "up",
            "--no-deploy",
            "--port",
            str(edge_port),
            "--gateway-port",
            str(gateway_port),
            "--app-port",
            "-1",
            "--no-schedules",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("ready in"):
                break
        else:
            pytest.fail("the local cloud did not start")
        yield Cli(
            f"http://127.0.0.1:{edge_port}",
            f"http://127.0.0.1:{gateway_port}",
            _scratch_catalog(tmp_path_factory.mktemp("repo")),
            {},
        )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def _book(cli: Cli, token: str, flight_id: str) -> dict[str, object]:
    return book_until_final(f"{cli.gateway_url}/booking", token, flight_id)


def test_the_framework_deploys_updates_reads_logs_and_removes_on_the_local_cloud(cli: Cli) -> None:
    services = ROOT / "services"
    # Given a cloud with no stack: the platform and the services a booking needs, with `sls deploy`
    cli.sls("deploy platform (--package)", ROOT, "deploy", "--package", str(package("platform", "local")))
    cli.sls("deploy payment (--package)", services / "payment", "deploy", "--package", str(package("payment", "local")))
    cli.sls("deploy catalog (packaging included)", cli.catalog, "deploy")
    cli.sls("deploy booking (--package)", services / "booking", "deploy", "--package", str(package("booking", "local")))

    # `sls info` shows the local endpoints, the functions and the outputs
    info = cli.sls("info", cli.catalog, "info", "--verbose").stdout
    assert f"GET - {cli.gateway_url}/catalog/flights" in info
    assert "searchFlights: airline-catalog-local-searchFlights" in info
    assert "ReserveSeatFunctionArn: arn:aws:lambda:eu-west-1:" in info

    # `sls invoke` seeds the flights; a flight is booked over HTTP through the deployed stacks
    token = _seed_and_book(cli)

    # a handler changes; `sls deploy function` ships it, the next request runs it, `sls logs` reads it
    _change_a_handler_and_read_its_logs(cli, token)

    # `sls remove` of the platform refuses while the services import its exports, as CloudFormation does
    refused = cli.sls("remove platform (refused)", ROOT, "remove", ok=False)
    assert refused.returncode != 0
    assert "cannot be deleted as it is in use by airline-" in refused.stdout + refused.stderr
    assert find_pool(cli.edge_url)  # still there

    # a service goes with its stack and its functions
    cli.sls("remove catalog", cli.catalog, "remove")
    lambda_client = cli.client("lambda")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName="airline-catalog-local-searchFlights", Payload=b"{}")
    gone = requests.get(f"{cli.gateway_url}/catalog/flights", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert gone.status_code == 404
    stacks = {s["StackName"]: s["StackStatus"] for s in cli.client("cloudformation").describe_stacks()["Stacks"]}
    assert stacks == {
        "airline-platform-local": "DELETE_FAILED",
        "airline-payment-local": "UPDATE_COMPLETE",
        "airline-booking-local": "UPDATE_COMPLETE",
    }
    print("\nsls timings on the local cloud: " + ", ".join(f"{k} {v:.1f}s" for k, v in cli.timings.items()))


def _seed_and_book(cli: Cli) -> str:
    """Flights seeded with `sls invoke`, one booked over HTTP; the traveller's access token."""
    cli.sls("invoke", cli.catalog, "invoke", "-f", "seedFlights", "--path", str(SEED))
    flights = cli.client("dynamodb").scan(TableName="airline-local-flights", Select="COUNT")["Count"]
    assert flights == len(json.loads(SEED.read_text())["flights"])
    pool_id, client_id = find_pool(cli.edge_url)
    token = sign_in(cli.edge_url, pool_id, client_id, "sls-cli@e2e.example.com").access
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    found = requests.get(
        f"{cli.gateway_url}/catalog/flights",
        params={"from": "LHR", "to": "JFK", "date": tomorrow},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert found.status_code == 200, found.text
    flight_id = next(f for f in found.json()["flights"] if f["seatsAvailable"] > 10)["flightId"]
    assert _book(cli, token, flight_id)["status"] == "CONFIRMED"
    return token


def _change_a_handler_and_read_its_logs(cli: Cli, token: str) -> None:
    edited = 0
    for source in (cli.catalog.parent.parent / "handlers" / "catalog").glob("*.py"):
        text = source.read_text()
        if "does not exist" in text:
            source.write_text(text.replace("does not exist", CHANGED))
            edited += 1
    assert edited, "no catalog handler says 'does not exist' any more: update this test"
    cli.sls("deploy function", cli.catalog, "deploy", "function", "-f", "searchFlights")
    missing = f"NOPE-{uuid.uuid4().hex[:6]}"
    # `sls deploy function` updates $LATEST, which `sls invoke` runs: the change is there
    event = http_event(
        "GET",
        f"/flights/{missing}",
        route="GET /flights/{flightId}",
        claims=claims_for("sls-cli"),
        path_parameters={"flightId": missing},
    )
    event_file = cli.catalog / "missing-flight.json"
    event_file.write_text(json.dumps(event))
    printed = cli.sls("invoke changed", cli.catalog, "invoke", "-f", "searchFlights", "--path", str(event_file)).stdout
    invoked = json.loads(printed[printed.index("{") :])
    assert invoked["statusCode"] == 404
    assert CHANGED in json.loads(invoked["body"])["message"]
    # while the API keeps serving the `Live` alias, as on AWS: on this canary stage only a full `sls deploy`
    # publishes a version and shifts the alias (through CodeDeploy: tests/e2e/test_release.py)
    answer = requests.get(
        f"{cli.gateway_url}/catalog/flights/{missing}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert answer.status_code == 404
    assert CHANGED not in answer.json()["message"]

    # `sls logs` reads the function's CloudWatch Logs on the edge (group and streams as Lambda names them)
    logs = cli.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/airline-catalog-local-searchFlights")["logStreams"]
    assert streams
    assert all("/[$LATEST]" in s["logStreamName"] for s in streams)
    deadline = time.monotonic() + 30
    while True:  # shipped asynchronously, as Lambda's
        read = cli.sls("logs", cli.catalog, "logs", "-f", "searchFlights", "--startTime", "10m")
        if "request refused" in read.stdout or time.monotonic() > deadline:
            break
    assert "request refused" in read.stdout  # the changed handler's own log line for the 404
    assert "START" in read.stdout
    assert "END Duration:" in read.stdout
