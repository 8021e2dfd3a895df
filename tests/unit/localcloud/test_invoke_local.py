"""`sls invoke local --stage local` against a running local cloud, with nothing exported by hand."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from localcloud import REGION
from localcloud.cloud import LocalCloud
from localcloud.deploy import FAKE_CREDENTIALS
from localcloud.packaging import ROOT, package

pytestmark = pytest.mark.xdist_group("localcloud")

SLS = ROOT / "node_modules" / ".bin" / "sls"


def _invoke_local(service: str, function: str, marker: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "VIRTUAL_ENV"}
    env.update({"LOCALCLOUD_RUNNING_FILE": str(marker), "SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off"})
    return subprocess.run(
        [str(SLS), "invoke", "local", "-f", function, "--stage", "local", *args],
        cwd=ROOT / "services" / service,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    saved = os.environ.get("MOTO_PORT")
    state = tmp_path_factory.mktemp("invoke-local") / "state"
    packages = {stack: package(stack, "local") for stack in ("platform", "catalog")}
    with LocalCloud(edge_port=None, schedules=False, state_dir=state) as running:
        running.deploy_all(packages, progress=lambda _: None)
        yield running
    if saved is None:
        os.environ.pop("MOTO_PORT", None)
    else:
        os.environ["MOTO_PORT"] = saved


def test_a_function_runs_against_the_running_cloud_as_its_own_role(cloud: LocalCloud) -> None:
    assert cloud.marker is not None
    done = _invoke_local("catalog", "seedFlights", cloud.marker, "--path", str(ROOT / "data" / "seed-flights.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    result = done.stdout[done.stdout.rindex('{\n    "created"') :]  # the result, after the handler's log lines
    created = json.loads(result)["created"]
    dynamodb = boto3.client("dynamodb", endpoint_url=cloud.edge.url, region_name=REGION, **FAKE_CREDENTIALS)
    assert dynamodb.scan(TableName="airline-local-flights", Select="COUNT")["Count"] == len(created) > 0
    running = json.loads(cloud.marker.read_text())
    assert running["credentials"]["airline-catalog-local-seedFlights"]["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert cloud.marker.stat().st_mode & 0o777 == 0o600


def test_with_no_cloud_running_it_says_how_to_start_one(tmp_path: Path) -> None:
    done = _invoke_local("catalog", "seedFlights", tmp_path / "running.json")
    assert done.returncode == 1
    said = [line for line in (done.stdout + done.stderr).splitlines() if "local cloud" in line]
    assert said == ["no local cloud is running: start one with `make local` in the repository root, then invoke again"]
