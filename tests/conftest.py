"""Session-wide test settings: fake credentials, no tracing daemon, the local environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.e2e.conftest import RunningCloud

# Set before any handler module is imported: Powertools reads these at import time.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Airline",
        "POWERTOOLS_SERVICE_NAME": "tests",
        "POWERTOOLS_LOG_LEVEL": "INFO",  # log lines run in tests: a bad `extra` key fails there
        "POWERTOOLS_DEV": "false",
    }
)
for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(variable, None)


@pytest.fixture
def aws() -> Iterator[None]:
    """In-process moto for one test; every cached SDK client is dropped around it."""
    from moto import mock_aws

    from handlers.shared import aws as shared_aws

    shared_aws.client.cache_clear()
    shared_aws.resource.cache_clear()
    with mock_aws():
        yield
    shared_aws.client.cache_clear()
    shared_aws.resource.cache_clear()


@pytest.fixture
def dynamodb(aws: None) -> Any:
    import boto3

    return boto3.client("dynamodb", region_name="eu-west-1")


# Tests that share one expensive session resource (the local cloud) run on one xdist
# worker, so `pytest -n 2` starts it once per group. The browser tests drive the e2e
# group's cloud; the workflow tests have a group (and so a cloud) of their own, so that the
# two long local-cloud layers run side by side on the two workers.
_SHARED_RESOURCE_GROUPS = {"e2e": "e2e", "browser": "e2e", "workflow": "workflow"}
# e2e tests in a group of their own keep it (and, on another worker, get their own session cloud),
# so the long slow-layer files run side by side
_OWN_CLOUD_GROUPS = {"serverless-cli", "blue-green", "release"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        own = item.get_closest_marker("xdist_group")
        if own is not None and own.args and own.args[0] in _OWN_CLOUD_GROUPS:
            continue
        parts = item.path.parts
        for folder, group in _SHARED_RESOURCE_GROUPS.items():
            if folder in parts and "tests" in parts:
                item.add_marker(pytest.mark.xdist_group(group))
                if folder == "workflow":
                    item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    """One local cloud per session (a subprocess) for the e2e, workflow and browser tests (one xdist group)."""
    from tests.e2e.conftest import running_cloud

    yield from running_cloud(tmp_path_factory)
