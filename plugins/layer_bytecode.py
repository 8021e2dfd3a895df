"""Turns an installed requirements folder into a sourceless, bytecode-only layer.

Used by plugins/precompile-layer-bytecode.js with the runtime's Python (3.13):

    python plugins/layer_bytecode.py <requirements folder> /opt/python [--eager-inits]

Every `x.py` becomes `x.pyc` beside it (legacy layout, which Python imports
without a source: SourcelessFileLoader) and the source is removed:
- bytecode: /opt is read-only on Lambda, so without it each cold start compiles
  every module it imports (measured: about half of a handler's import time);
- no sources: a layer holding both weighs 0.6 MB more zipped (docs/benchmarks.md);
- docstrings are left out of the bytecode (0.2 MB zipped): nothing in these
  libraries reads its own docstrings at run time. Asserts are kept (optimize=0).
Tracebacks through library frames show file and line (/opt/python/...), not the
source line. The step is idempotent: a folder with no .py left is unchanged.
"""

from __future__ import annotations

import ast
import shutil
import sys
from importlib._bootstrap_external import _code_to_hash_pyc  # type: ignore[attr-defined]  # what py_compile uses
from importlib.util import source_hash
from pathlib import Path

DOCSTRING_OWNERS = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def without_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        if not isinstance(node, DOCSTRING_OWNERS) or not node.body:
            continue
        first = node.body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            node.body[0:1] = [] if len(node.body) > 1 else [ast.Pass(lineno=first.lineno, col_offset=first.col_offset)]
    return tree


LAZY_INIT = """import importlib

{eager}
_LAZY = {names!r}
{exports}


def __getattr__(name):
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {{__name__!r}} has no attribute {{name!r}}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted({{*globals(), *_LAZY}})
"""


def lazy_init(source: bytes, package: str, submodules: set[str]) -> bytes | None:
    """A lazy stand-in for the package `__init__` `source`, or None if it does more than re-export names.

    A name that is also a submodule's stays imported eagerly, as before: importing the
    submodule later would otherwise rebind the package attribute to the module.
    """
    names: dict[str, tuple[str, str]] = {}
    eager: list[str] = []
    exports = ""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue  # the docstring
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if isinstance(node, ast.ImportFrom) and all(alias.name != "*" for alias in node.names):
            module = node.module or ""
            if node.level:
                base = package.rsplit(".", node.level - 1)[0]
                module = f"{base}.{module}" if module else base
            bound = {alias.asname or alias.name: (module, alias.name) for alias in node.names}
            if bound.keys() & submodules:
                eager.append(ast.unparse(node))
            else:
                names.update(bound)
            continue
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]:
            exports = ast.unparse(node)
            continue
        return None
    if not names:
        return None
    return LAZY_INIT.format(eager="\n".join(eager), names=names, exports=exports).encode()


def submodules_of(package: Path) -> set[str]:
    """Names of what may be a submodule (modules, bytecode, extensions, folders), erring on the side of more."""
    return {entry.name.split(".")[0] for entry in package.iterdir()}


def compile_sourceless(folder: Path, prefix: str, *, lazy_inits: bool = True) -> int:
    count = 0
    for source_path in sorted(folder.rglob("*.py")):
        source = source_path.read_bytes()
        shown = f"{prefix}/{source_path.relative_to(folder).as_posix()}"
        if lazy_inits and source_path.name == "__init__.py":
            package = ".".join(source_path.parent.relative_to(folder).parts)
            source = lazy_init(source, package, submodules_of(source_path.parent)) or source
        code = compile(without_docstrings(ast.parse(source, shown)), shown, "exec", dont_inherit=True, optimize=0)
        source_path.with_suffix(".pyc").write_bytes(bytes(_code_to_hash_pyc(code, source_hash(source), checked=False)))
        source_path.unlink()
        count += 1
    for cache in sorted(folder.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)
    return count


if __name__ == "__main__":
    # --eager-inits: keep every package __init__ as it is (benchmarks/levers.py measures the difference)
    compile_sourceless(Path(sys.argv[1]), sys.argv[2].rstrip("/"), lazy_inits="--eager-inits" not in sys.argv[3:])
