"""State that lasts: the local cloud's data kept in a folder across restarts.

moto keeps everything in memory. The choice here is to snapshot moto's own backend objects
(pickle) rather than re-create from an export: a snapshot keeps what an export would lose or
have to re-implement per service — ids (pool, client, key, subscription ARNs), users with
their passwords and groups, items, messages with their receive counts and visibility, topic
subscriptions — and restores in one step. What moto cannot pickle is reduced explicitly
(locks are re-created empty, private keys travel as PEM). The deployer's realized stacks
(logical id -> physical id and attributes, exports) are kept beside it, so the deploy that
follows a restore updates in place: tables, queues, pools and keys are kept, functions and
routes come back from the cached packages.

Layout of the state folder (`.localcloud/state/` for `make local`):
    signing-key.pem   the RSA key this cloud's user pools sign tokens with (mode 600)
    moto.pickle       moto's backends (services in SERVICES)
    stacks.pickle     the deployer's realized stacks and exports

Snapshots are written atomically (temp file + rename) on stop and every `interval` seconds
while running. SSM is not snapshotted (moto's SSM backend holds lambdas; every parameter
comes from a template and is re-put by the deploy).
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from localcloud.cognito import SigningKey
from localcloud.periodic import Periodic

SERVICES = (
    "cognitoidp",
    "dynamodb",
    "dynamodbstreams",
    "events",
    "iam",
    "kms",
    "logs",
    "s3",
    "sns",
    "sqs",
    "stepfunctions",
    "sts",
)
MOTO_FILE = "moto.pickle"
STACKS_FILE = "stacks.pickle"
KEY_FILE = "signing-key.pem"
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


def _new_lock(kind: str) -> Any:
    return threading.RLock() if kind == "RLock" else threading.Lock()


def _load_private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, password=None)


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
        from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

        if isinstance(obj, _LOCK_TYPES):
            return _new_lock, ("RLock" if "RLock" in type(obj).__name__ else "Lock",)
        if isinstance(
            obj,
            rsa.RSAPrivateKey
            | ec.EllipticCurvePrivateKey
            | dsa.DSAPrivateKey
            | ed25519.Ed25519PrivateKey
            | ed448.Ed448PrivateKey,
        ):
            pem = obj.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
            return _load_private_key, (pem,)
        return NotImplemented


def dumps(value: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        temporary.chmod(0o600)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


# moto backends kept in a snapshot, besides SERVICES: (module, attribute) of other BackendDicts
EXTRA_BACKENDS = {
    "stepfunctions-parser": ("moto.stepfunctions.parser.models", "stepfunctions_parser_backends"),  # executions
}


def _backend_dicts() -> dict[str, Any]:
    import importlib

    from moto.backends import get_backend

    found: dict[str, Any] = {service: get_backend(service) for service in SERVICES}  # type: ignore[call-overload]
    for label, (module, attribute) in EXTRA_BACKENDS.items():
        found[label] = getattr(importlib.import_module(module), attribute)
    return found


def moto_backends() -> dict[tuple[str, str, str], Any]:
    """Every region backend of the kept services: (service, account, region) -> backend object."""
    return {
        (service, account, region): backend
        for service, backends in _backend_dicts().items()
        for account, region, backend in backends.iter_backends()
    }


def restore_moto(backends: dict[tuple[str, str, str], Any]) -> None:
    live = _backend_dicts()
    for (service, account, region), backend in backends.items():
        dict.__setitem__(live[service][account], region, backend)


def clear_moto() -> None:
    """Empty backends for the kept services (moto's are process-global: a clean state starts from nothing)."""
    for backends in _backend_dicts().values():
        dict.clear(backends)


class StateInUse(RuntimeError):
    """Another local cloud holds the state folder."""


class StateFolder:
    """One local cloud's state folder: key, moto snapshot, realized stacks."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._saver: Periodic | None = None
        self._held: IO[str] | None = None

    def acquire(self) -> None:
        """Hold the folder for this process: two clouds never share one state."""
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        self._held = (self.folder / ".lock").open("w")
        try:
            fcntl.flock(self._held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._held.close()
            raise StateInUse(f"state folder {self.folder} is in use by another local cloud") from None

    def release(self) -> None:
        if self._held is not None:
            self._held.close()  # closing drops the lock
            self._held = None

    def reset(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def signing_key(self) -> SigningKey:
        return SigningKey.load_or_create(self.folder / KEY_FILE)

    def has_snapshot(self) -> bool:
        return (self.folder / MOTO_FILE).exists() and (self.folder / STACKS_FILE).exists()

    def save(self, stacks: Any, attempts: int = 5) -> None:
        """Snapshot moto and the realized stacks; retried while requests change moto under the pickler."""
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            for attempt in range(attempts):
                try:
                    moto = dumps(moto_backends())
                    realized = dumps(stacks)
                    break
                except RuntimeError:  # "dictionary changed size during iteration": a request was writing
                    if attempt == attempts - 1:
                        raise
            _write_atomically(self.folder / MOTO_FILE, moto)
            _write_atomically(self.folder / STACKS_FILE, realized)

    def load(self) -> Any:
        """Restore moto's backends from the snapshot (nothing else kept); the realized stacks saved with them."""
        clear_moto()
        restore_moto(pickle.loads((self.folder / MOTO_FILE).read_bytes()))  # noqa: S301 - our own file, mode 600
        return pickle.loads((self.folder / STACKS_FILE).read_bytes())  # noqa: S301 - our own file, mode 600

    def save_every(self, interval: float, stacks: Callable[[], Any], on_error: Callable[[str], None]) -> None:
        """Snapshot in the background every `interval` seconds until `stop_saving` (a failed one is reported;
        the next one retries)."""
        self._saver = Periodic("localcloud-state", interval, lambda: self.save(stacks()), on_error)
        self._saver.start()

    def stop_saving(self) -> None:
        if self._saver is not None:
            self._saver.stop(timeout=30)
