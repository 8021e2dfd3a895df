"""`localcloud env`: the exports for the running `make local`, or how to start one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from localcloud.cli import main


def test_env_prints_the_exports_of_the_running_cloud(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    running = {"pid": os.getpid(), "region": "eu-west-1", "edge": "http://127.0.0.1:4566", "gateway": "http://g"}
    (tmp_path / "running.json").write_text(json.dumps(running))
    assert main(["env", "--state-dir", str(tmp_path / "state")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:4566" in printed
    assert "export AWS_REGION=eu-west-1" in printed


def test_env_with_no_cloud_running_says_how_to_start_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = {"pid": 2**22 + 12345, "region": "eu-west-1", "edge": "http://127.0.0.1:1", "gateway": "http://g"}
    (tmp_path / "running.json").write_text(json.dumps(stale))  # its process is gone
    assert main(["env", "--state-dir", str(tmp_path / "state")]) == 1
    assert capsys.readouterr().err.strip() == "localcloud: no local cloud is running: start one with `make local`"
