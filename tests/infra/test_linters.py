"""cfn-lint and checkov over every packaged template, with written ignore lists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from localcloud.packaging import ROOT, package_all

pytestmark = pytest.mark.infra

CFN_LINT_IGNORES = ROOT / "infra" / "cfn-lint-ignores.yml"
CHECKOV_SKIPS = ROOT / "infra" / "checkov-skips.yml"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def reasons(path: Path) -> dict[str, str]:
    entries = yaml.safe_load(path.read_text()) or {}
    for rule, reason in entries.items():
        assert isinstance(reason, str), f"{path.name}: {rule} needs a written reason"
        assert len(reason.split()) >= 8, f"{path.name}: {rule} needs a written reason"
    return entries


@pytest.fixture(scope="module")
def templates() -> list[Path]:
    return sorted(out / "cloudformation-template-update-stack.json" for out in package_all().values())


def test_cfn_lint_reports_no_error_and_no_unlisted_warning(templates: list[Path]) -> None:
    ignored = reasons(CFN_LINT_IGNORES)
    assert all(rule.startswith("W") for rule in ignored), "errors are never ignored"
    result = subprocess.run(
        [
            sys.executable,
            "-c",  # cfn-lint 1.x has no __main__: `-m cfnlint` printed nothing and this test could not fail
            "import sys; from cfnlint.runner import main; sys.exit(main())",
            "--format",
            "json",
            *(["--ignore-checks", *ignored] if ignored else []),
            "--",
            *map(str, templates),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 2, 4, 6, 8, 10, 12, 14), result.stderr  # cfn-lint's finding bitmask, not a crash
    findings = json.loads(result.stdout)
    summary = [
        f"{f['Rule']['Id']} {Path(f['Filename']).parent.parent.name}/{Path(f['Filename']).parent.name}: {f['Message']}"
        for f in findings
    ]
    assert not findings, "\n".join(summary)


def test_checkov_has_no_unexplained_failure(templates: list[Path], tmp_path: Path) -> None:
    skips = reasons(CHECKOV_SKIPS)
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}: run scripts/setup.sh")
    scan_dir = tmp_path / "templates"
    scan_dir.mkdir()
    for path in templates:
        (scan_dir / f"{path.parent.parent.name}-{path.parent.name}.json").write_text(path.read_text())
    result = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(scan_dir),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--quiet",
            "--skip-check",
            ",".join(skips),
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},  # offline: no guideline download
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{check['check_id']} {Path(check['file_path']).name}:{check['resource']}"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]
    passed = sum(report.get("summary", {}).get("passed", 0) for report in reports)
    assert passed > 0, "checkov scanned nothing"
    assert not failed, "\n".join(failed)
