"""The bytecode steps of packaging: a sourceless layer and function zips with bytecode."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[3]
MODULE = '''"""Module docstring."""


def answer() -> int:
    """Function docstring."""
    return 42


def checked(value: int) -> int:
    assert value > 0, "asserts are kept"
    return value


class Thing:
    """Only a docstring."""
'''


def plugin(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "plugins" / f"{name}.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_python(code: str, path: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-s", "-P", "-c", code],
        env={"PYTHONPATH": str(path), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_layer_becomes_docstring_free_bytecode_without_sources_and_keeps_asserts(tmp_path: Path) -> None:
    # Given an installed package with docstrings, asserts and a stale __pycache__
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text(MODULE)
    (package / "__pycache__").mkdir()
    # When the layer step runs
    plugin("layer_bytecode").compile_sourceless(tmp_path, "/opt/python")
    # Then only bytecode is left, beside where the sources were
    assert sorted(p.name for p in package.iterdir()) == ["__init__.pyc", "mod.pyc"]
    # And it imports and behaves, without docstrings, with asserts, with /opt paths in tracebacks
    out = run_python(
        "import pkg.mod as m\n"
        "print(m.answer(), m.__doc__, m.answer.__doc__, m.Thing.__doc__, m.answer.__code__.co_filename)\n"
        "try:\n    m.checked(0)\nexcept AssertionError as e:\n    print(e)",
        tmp_path,
    )
    assert out.splitlines() == ["42 None None None /opt/python/pkg/mod.py", "asserts are kept"]


def test_function_zip_gets_unchecked_bytecode_that_is_used_as_is(tmp_path: Path) -> None:
    # Given a function zip of sources
    archive = tmp_path / "fn.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handlers/__init__.py", "")
        zipped.writestr("handlers/mod.py", MODULE)
    # When the function step runs (twice: the second run gives the same bytes)
    add_bytecode = plugin("add_bytecode")
    assert add_bytecode.add_bytecode(str(archive)) == 2
    once = archive.read_bytes()
    assert add_bytecode.add_bytecode(str(archive)) == 2
    assert archive.read_bytes() == once
    # Then the bytecode sits in __pycache__ beside the kept sources
    tag = sys.implementation.cache_tag
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
        zipped.extractall(tmp_path / "task")
    assert {
        "handlers/mod.py",
        f"handlers/__pycache__/mod.{tag}.pyc",
        f"handlers/__pycache__/__init__.{tag}.pyc",
    } <= names
    # And Python uses it without checking the source (unchecked hash): an edited source is not recompiled
    (tmp_path / "task" / "handlers" / "mod.py").write_text("def answer():\n    return 0\n")
    assert run_python("import handlers.mod as m; print(m.answer())", tmp_path / "task") == "42"


def test_a_package_init_that_only_re_exports_becomes_lazy(tmp_path: Path) -> None:
    # Given a package whose __init__ re-exports names from heavy submodules, one of them named like its submodule
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        '"""Re-exports."""\n'
        "from __future__ import annotations\n"
        "from pkg.heavy import Heavy, helper as renamed\n"
        "from .other import Other\n"
        "from .tool import tool\n"
        '__all__ = ["Heavy", "Other", "renamed", "tool"]\n'
    )
    (package / "heavy.py").write_text("class Heavy: ...\n\ndef helper():\n    return 'helped'\n")
    (package / "other.py").write_text("class Other: ...\n")
    (package / "tool.py").write_text("def tool():\n    return 'tool'\n")
    # When the layer step runs
    plugin("layer_bytecode").compile_sourceless(tmp_path, "/opt/python")
    # Then importing the package loads no submodule but the one whose name it re-exports (kept eager)
    out = run_python(
        "import sys, pkg\n"
        "print(sorted(m for m in sys.modules if m.startswith('pkg.')))\n"
        "from pkg import Heavy\n"
        "print(Heavy.__module__, pkg.renamed(), pkg.tool(), 'Other' in dir(pkg), pkg.__all__)\n"
        "import pkg.tool\n"
        "print(callable(pkg.tool))\n"
        "try:\n    pkg.missing\nexcept AttributeError as e:\n    print(e)",
        tmp_path,
    )
    assert out.splitlines() == [
        "['pkg.tool']",
        "pkg.heavy helped tool True ['Heavy', 'Other', 'renamed', 'tool']",
        "True",
        "module 'pkg' has no attribute 'missing'",
    ]


def test_a_package_init_that_does_more_than_re_export_stays_eager(tmp_path: Path) -> None:
    # Given a package __init__ that runs code besides its imports
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from pkg.heavy import Heavy\nREGISTRY = [Heavy]\n")
    (package / "heavy.py").write_text("class Heavy: ...\n")
    # When the layer step runs
    plugin("layer_bytecode").compile_sourceless(tmp_path, "/opt/python")
    # Then it imports its submodule at once, as before
    assert run_python("import sys, pkg; print('pkg.heavy' in sys.modules, pkg.REGISTRY)", tmp_path) == (
        "True [<class 'pkg.heavy.Heavy'>]"
    )


def test_bytecode_left_in_the_working_tree_is_replaced_not_trusted(tmp_path: Path) -> None:
    # Given a function zip that took a test run's timestamp-checked __pycache__ along (flags 0)
    tag = sys.implementation.cache_tag
    stale = f"handlers/__pycache__/mod.{tag}.pyc"
    archive = tmp_path / "fn.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handlers/mod.py", MODULE)
        zipped.writestr(stale, importlib.util.MAGIC_NUMBER + bytes(12) + b"stale")
    # When the function step runs
    plugin("add_bytecode").add_bytecode(str(archive))
    # Then the zip holds one .pyc for the module, unchecked-hash (flags 1), and it works
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        flags = int.from_bytes(zipped.read(stale)[4:8], "little")
        zipped.extractall(tmp_path / "task")
    assert names.count(stale) == 1
    assert flags == 1
    assert run_python("import handlers.mod as m; print(m.answer())", tmp_path / "task") == "42"
