"""Gives every .py of the function zips given unchecked-hash bytecode (used by
plugins/precompile-function-bytecode.js, run with the runtime's Python).

/var/task is read-only on Lambda, so without bytecode in the zip every cold start
compiles the function's own modules again. Unchecked-hash .pyc files are used as
they are (no source timestamp check, which a zip's 2-second mtimes would defeat).
The .py files stay, so tracebacks keep their source lines.

Bytecode already in a zip is replaced, never trusted: a function's package
pattern (`handlers/<service>/**`) also takes the `__pycache__` a test run left in
the working tree, timestamp-checked .pyc that Python finds stale in the zip and
recompiles at every cold start (measured: ~2 ms for a module like catalog's dal).
The archive is rewritten with the same entries in the same order, then the bytecode;
running it twice gives the same bytes.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import zipfile
from importlib._bootstrap_external import _code_to_hash_pyc  # type: ignore[attr-defined]  # what py_compile uses

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def bytecode_name(source: str) -> str:
    folder, _, file = source.rpartition("/")
    return f"{folder + '/' if folder else ''}__pycache__/{file[:-3]}.{sys.implementation.cache_tag}.pyc"


def add_bytecode(archive: str) -> int:
    """Rewrites `archive` with fresh unchecked-hash bytecode for each source; the number written."""
    with zipfile.ZipFile(archive) as zipped:
        kept = [(info, zipped.read(info)) for info in zipped.infolist() if not info.filename.endswith(".pyc")]
    sources = sorted((info.filename, data) for info, data in kept if info.filename.endswith(".py"))
    folder = os.path.dirname(os.path.abspath(archive))
    handle, scratch = tempfile.mkstemp(suffix=".zip", dir=folder)
    os.close(handle)
    try:
        with zipfile.ZipFile(scratch, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as rewritten:
            for info, data in kept:
                rewritten.writestr(info, data)
            for name, source in sources:
                code = compile(source, name, "exec", dont_inherit=True)
                data = _code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False)
                pyc = zipfile.ZipInfo(bytecode_name(name), date_time=FIXED_TIME)
                pyc.compress_type = zipfile.ZIP_DEFLATED
                pyc.external_attr = 0o644 << 16
                rewritten.writestr(
                    pyc, bytes(_code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False))
                )
        os.replace(scratch, archive)
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)
    return len(sources)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        add_bytecode(path)
