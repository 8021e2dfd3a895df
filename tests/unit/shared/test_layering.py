"""The layers of every service, read from the imports (ast), so a shortcut cannot creep in.

Logic, its ports, models and errors never import the data layer or an SDK: the
data layer (dal.py, and the adapters built on it) is the only code that talks to AWS.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HANDLERS = Path(__file__).resolve().parents[3] / "handlers"
SERVICES = sorted(
    p.name for p in HANDLERS.iterdir() if p.is_dir() and (p / "__init__.py").exists() and p.name != "shared"
)
# The modules of a service that hold rules and their vocabulary.
LOGIC_SIDE = ("logic.py", "ports.py", "models.py", "errors.py")
ENTRY_MODULES = frozenset({"api.py", "tasks.py", "consumer.py", "schedule.py"})


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def forbidden_for(service: str) -> tuple[str, ...]:
    return (f"handlers.{service}.dal", "handlers.shared.aws", "handlers.shared.dynamo", "boto3", "botocore")


def test_every_service_is_found() -> None:
    assert SERVICES == ["autoscaling", "booking", "catalog", "loyalty", "payment"]


@pytest.mark.parametrize("service", SERVICES)
def test_logic_never_imports_the_data_layer_or_an_sdk(service: str) -> None:
    for name in LOGIC_SIDE:
        path = HANDLERS / service / name
        if not path.exists():
            continue
        leaks = sorted(
            module
            for module in imported_modules(path)
            if any(module == bad or module.startswith(f"{bad}.") for bad in forbidden_for(service))
        )
        assert leaks == [], f"handlers/{service}/{name} imports {leaks}"


@pytest.mark.parametrize("service", SERVICES)
def test_ports_sit_beside_the_logic_that_uses_them(service: str) -> None:
    assert (HANDLERS / service / "logic.py").exists()
    assert (HANDLERS / service / "ports.py").exists()
    assert f"handlers.{service}.ports" in imported_modules(HANDLERS / service / "logic.py")


@pytest.mark.parametrize("service", SERVICES)
def test_entry_modules_have_one_name_per_kind(service: str) -> None:
    # An entry point is what the Lambda runtime calls: decorated with the Logger's context injection.
    entries = {p.name for p in (HANDLERS / service).glob("*.py") if "@logger.inject_lambda_context" in p.read_text()}
    assert entries <= ENTRY_MODULES, f"handlers/{service}: entry points in {sorted(entries - ENTRY_MODULES)}"


def test_the_layering_check_catches_a_logic_module_that_imports_the_data_layer(tmp_path: Path) -> None:
    sneaky = tmp_path / "logic.py"
    sneaky.write_text("def f():\n    from handlers.booking.dal import DynamoBookingRepository\n")
    assert "handlers.booking.dal" in imported_modules(sneaky)


def test_every_dataclass_says_what_it_is() -> None:
    # A dataclass without a docstring gets one made from inspect.signature at import: work at every
    # cold start (~0.05-0.2 ms a class, docs/benchmarks.md) for a text nobody reads.
    undocumented = [
        f"{path.relative_to(HANDLERS)}:{node.name}"
        for path in sorted(HANDLERS.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef)
        and any("dataclass" in ast.unparse(d) for d in node.decorator_list)
        and not ast.get_docstring(node)
    ]
    assert not undocumented
