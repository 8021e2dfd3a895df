"""Lambda layers unpacked once per layer zip and shared by the functions that use them.

Every function of a service uses the same requirements layer (~17 MB, ~1,300 files): unpacking
it once per function made a start write (and a stop delete) hundreds of MB. /opt is read-only
on Lambda, so sharing one unpacked copy changes nothing a handler can observe. A function with
several layers gets its own merged /opt, as before.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import zipfile
from pathlib import Path

_lock = threading.Lock()


def materialize(layer_zips: list[Path], opt: Path, cache: Path) -> None:
    """Make `opt` the function's /opt: a link to the shared unpacked layer, or a merged folder."""
    if len(layer_zips) != 1:
        opt.mkdir(parents=True)
        for layer in layer_zips:
            with zipfile.ZipFile(layer) as zipped:
                zipped.extractall(opt)
        return
    layer = layer_zips[0]
    stat = layer.stat()
    key = hashlib.sha256(f"{layer.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    shared = cache / key
    with _lock:
        if not shared.is_dir():
            partial = cache / f".{key}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            with zipfile.ZipFile(layer) as zipped:
                zipped.extractall(partial)
            partial.rename(shared)
    opt.parent.mkdir(parents=True, exist_ok=True)
    opt.symlink_to(shared, target_is_directory=True)
