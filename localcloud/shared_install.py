"""Install the layer requirements once, copy them per service: the `pythonBin` that packaging hands the framework.

serverless-python-requirements runs `<pythonBin> -m pip install -t <service's folder> -r <requirements>`
for every service; the services share one requirements.txt, so from a fresh clone the same install
ran once per service (the largest part of packaging the stacks). `localcloud.packaging` points
`AIRLINE_PYTHON` (services/common/python-requirements.yml's `pythonBin`) at a wrapper that calls
`main`: a pip install is done once per (requirements, pip arguments, interpreter) into
`.cache/layer-installs/<key>/` under a lock, then copied into the service's folder, where the plugin
slims it for that service and the bytecode step compiles it, as before. Any other call (the bytecode
steps, pip's own queries) runs the real interpreter unchanged, so the layers are byte for byte what a
plain `sls package` builds.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALLS = ROOT / ".cache" / "layer-installs"
_DONE = ".complete"


def _option(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args and args.index(flag) + 1 < len(args) else None


def _without(args: list[str], *flags: str) -> list[str]:
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in flags:
            skip = True
            continue
        out.append(arg)
    return out


def install_key(python: str, args: list[str], requirements: Path) -> str:
    """What determines the installed tree: the interpreter, pip's arguments and the pinned requirements."""
    digest = hashlib.sha256(os.path.realpath(python).encode())
    digest.update("\0".join(_without(args, "-t", "--target", "-r", "--cache-dir")).encode())
    digest.update(requirements.read_bytes())
    return digest.hexdigest()[:24]


def main(args: list[str], python: str) -> int:
    target, requirements = _option(args, "-t"), _option(args, "-r")
    if args[:3] != ["-m", "pip", "install"] or target is None or requirements is None:
        os.execv(python, [python, *args])  # noqa: S606 - the real interpreter, same arguments
    shared = INSTALLS / install_key(python, args, Path(requirements))
    INSTALLS.mkdir(parents=True, exist_ok=True)
    with (INSTALLS / f".{shared.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / _DONE).exists():
            staging = shared.with_name(shared.name + ".tmp")
            shutil.rmtree(staging, ignore_errors=True)
            command = [python, *_without(args, "-t", "--target"), "-t", str(staging)]
            result = subprocess.run(command, check=False)
            if result.returncode != 0:
                return result.returncode
            (staging / _DONE).touch()
            shutil.rmtree(shared, ignore_errors=True)
            staging.rename(shared)
    shutil.copytree(shared, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(_DONE))
    return 0


def wrapper(folder: Path) -> Path:
    """An executable `python` in `folder` that runs `main` with this interpreter."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "python"
    real = sys.executable
    text = (
        f"#!{real}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from localcloud.shared_install import main\n"
        f"sys.exit(main(sys.argv[1:], {real!r}))\n"
    )
    if not path.exists() or path.read_text() != text:
        # parallel sessions, and the threads packaging stacks at once, write it too: a name of each writer's own
        temporary = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_text(text)
        temporary.chmod(0o755)
        temporary.replace(path)
    return path
