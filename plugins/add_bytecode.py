"""Adds unchecked-hash bytecode next to every .py of the function zips given (used by
plugins/precompile-function-bytecode.js, run with the runtime's Python).

/var/task is read-only on Lambda, so without bytecode in the zip every cold start
compiles the function's own modules again. Unchecked-hash .pyc files are used as
they are (no source timestamp check, which a zip's 2-second mtimes would defeat).
The .py files stay, so tracebacks keep their source lines.
"""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from importlib._bootstrap_external import _code_to_hash_pyc  # type: ignore[attr-defined]  # what py_compile uses

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def add_bytecode(archive: str) -> int:
    with zipfile.ZipFile(archive) as zipped:
        sources = {info.filename: zipped.read(info) for info in zipped.infolist() if info.filename.endswith(".py")}
        present = set(zipped.namelist())
    added = 0
    with zipfile.ZipFile(archive, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zipped:
        for name, source in sorted(sources.items()):
            folder, _, file = name.rpartition("/")
            target = f"{folder + '/' if folder else ''}__pycache__/{file[:-3]}.{sys.implementation.cache_tag}.pyc"
            if target in present:
                continue
            code = compile(source, name, "exec", dont_inherit=True)
            data = _code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False)
            info = zipfile.ZipInfo(target, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zipped.writestr(info, bytes(data))
            added += 1
    return added


if __name__ == "__main__":
    for path in sys.argv[1:]:
        add_bytecode(path)
