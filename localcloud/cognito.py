"""Cognito as Cognito on the edge: SRP sign-in checks the password, tokens are signed with this cloud's key.

moto answers USER_SRP_AUTH with random SALT/SRP_B and accepts any PASSWORD_CLAIM_SIGNATURE,
and every moto install signs tokens with the one private key it ships. Installed into the
process that runs the edge's moto (its backends are process-global), this module:

- runs the server side of Cognito's SRP (3072-bit group, g = 2, the client's x from
  `pool suffix + USER_ID_FOR_SRP + ":" + password`, HKDF "Caldera Derived Key") with the
  verifier computed from the user's stored password, as a real pool computes it from the
  verifier it stores; a wrong proof is NotAuthorizedException;
- answers unknown users as the app client says: with PreventUserExistenceErrors ENABLED a
  challenge that always fails with NotAuthorizedException, else UserNotFoundException;
  an unconfirmed user with the right password gets UserNotConfirmedException;
- re-signs every token moto issues with an RSA key generated per local cloud (kept with its
  state) and serves its public half at `/<pool id>/.well-known/jwks.json`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# RFC 5054 3072-bit group, as Cognito uses it (and every Cognito SRP client).
N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
)
N = int(N_HEX, 16)
G = 2
INFO = b"Caldera Derived Key"
INCORRECT = "Incorrect username or password."


def _pad_hex(value: int | str) -> str:
    text = value if isinstance(value, str) else f"{value:x}"
    if len(text) % 2 == 1:
        return "0" + text
    return "00" + text if text[0] in "89ABCDEFabcdef" else text


def _hex_hash(hex_text: str) -> str:
    return hashlib.sha256(bytes.fromhex(hex_text)).hexdigest().rjust(64, "0")


K = int(_hex_hash("00" + N_HEX + "0" + f"{G:x}"), 16)


def _verifier(pool_id: str, user_id_for_srp: str, password: str, salt_hex: str) -> int:
    inner = hashlib.sha256(f"{pool_id.split('_', 1)[1]}{user_id_for_srp}:{password}".encode()).hexdigest()
    x = int(_hex_hash(_pad_hex(salt_hex) + inner.rjust(64, "0")), 16)
    return pow(G, x, N)


def _hkdf(ikm: bytes, salt: bytes) -> bytes:
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    return hmac.new(prk, INFO + b"\x01", hashlib.sha256).digest()[:16]


def cognito_timestamp(when: dt.datetime) -> str:
    """Cognito's TIMESTAMP format, e.g. `Sun Nov 29 16:00:00 UTC 2026` (day without padding)."""
    return when.strftime("%a %b ") + f"{when.day} " + when.strftime("%H:%M:%S UTC %Y")


@dataclass
class _SrpSession:
    pool_id: str
    username: str | None  # as the client signed in (email for email pools); None: no such user
    user_id_for_srp: str
    a: int
    b: int
    big_b: int
    salt_hex: str
    verifier: int
    secret_block: bytes


def expected_signature(session: _SrpSession, timestamp: str) -> bytes:
    """The PASSWORD_CLAIM_SIGNATURE a client that knows the password sends (server side of SRP)."""
    u = int(_hex_hash(_pad_hex(session.a) + _pad_hex(session.big_b)), 16)
    s = pow(session.a * pow(session.verifier, u, N), session.b, N)
    key = _hkdf(bytes.fromhex(_pad_hex(s)), bytes.fromhex(_pad_hex(f"{u:x}")))
    message = (
        session.pool_id.split("_", 1)[1].encode()
        + session.user_id_for_srp.encode()
        + session.secret_block
        + timestamp.encode()
    )
    return base64.standard_b64encode(hmac.new(key, message, hashlib.sha256).digest())


# -- the signing key of one local cloud ------------------------------------------------------------
@dataclass(frozen=True)
class SigningKey:
    private_pem: bytes
    kid: str

    @classmethod
    def generate(cls) -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cls.from_pem(pem)

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        from joserfc.jwk import RSAKey

        return cls(pem, RSAKey.import_key(pem).thumbprint())

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKey:
        """The key kept at `path` (PEM, mode 600), created there the first time."""
        if path.exists():
            return cls.from_pem(path.read_bytes())
        key = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(key.private_pem)
        return key

    def public_jwks(self) -> dict[str, Any]:
        from joserfc.jwk import RSAKey

        public = RSAKey.import_key(self.private_pem).as_dict(private=False)
        return {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def sign(self, claims: dict[str, Any]) -> str:
        from joserfc import jwt
        from joserfc.jwk import RSAKey

        return jwt.encode({"kid": self.kid, "alg": "RS256"}, claims, RSAKey.import_key(self.private_pem))


# -- installing into moto ---------------------------------------------------------------------------
_installed: dict[str, Any] = {}
_lock = threading.Lock()


def _patches() -> list[tuple[Any, str, Callable[[Any], Any]]]:
    from moto.cognitoidp import models

    return [
        (models.CognitoIdpUserPool, "create_jwt", _create_jwt),
        (models.CognitoIdpBackend, "initiate_auth", _initiate_auth),
        (models.CognitoIdpBackend, "respond_to_auth_challenge", _respond),
    ]


def install(key: SigningKey) -> None:
    """Patch moto's Cognito (this process) to check SRP proofs and sign with `key`."""
    from moto.cognitoidp import responses

    with _lock:
        if not _installed:
            _installed["jwks"] = responses.CognitoIdpJsonWebKeyResponse.json_web_key
            for owner, name, wrap in _patches():
                _installed[name] = getattr(owner, name)
                setattr(owner, name, wrap(_installed[name]))
        _installed["key"] = key
        _installed["sessions"] = {}
        responses.CognitoIdpJsonWebKeyResponse.json_web_key = json.dumps(key.public_jwks()).encode()


def uninstall() -> None:
    """moto as it was (tests that run several clouds in one process)."""
    from moto.cognitoidp import responses

    with _lock:
        if _installed:
            for owner, name, _ in _patches():
                setattr(owner, name, _installed[name])
            responses.CognitoIdpJsonWebKeyResponse.json_web_key = _installed["jwks"]
            _installed.clear()


def _create_jwt(original: Callable[..., tuple[str, int]]) -> Callable[..., tuple[str, int]]:
    def create_jwt(pool: Any, *args: Any, **kwargs: Any) -> tuple[str, int]:
        token, expires_in = original(pool, *args, **kwargs)
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return _installed["key"].sign(claims), expires_in

    return create_jwt


def _prevents_existence_errors(client: Any) -> bool:
    return str(client.extended_config.get("PreventUserExistenceErrors", "LEGACY")).upper() == "ENABLED"


def _initiate_auth(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def initiate_auth(backend: Any, client_id: str, auth_flow: str, auth_parameters: dict[str, str]) -> dict[str, Any]:
        from moto.cognitoidp.exceptions import NotAuthorizedError, ResourceNotFoundError, UserNotFoundError

        pool = next((p for p in backend.user_pools.values() if client_id in p.clients), None)
        if pool is None:
            raise ResourceNotFoundError(client_id)
        client = pool.clients[client_id]
        if auth_flow != "USER_SRP_AUTH":
            try:
                return original(backend, client_id, auth_flow, auth_parameters)
            except UserNotFoundError:
                if _prevents_existence_errors(client):
                    raise NotAuthorizedError(INCORRECT) from None
                raise
        username = auth_parameters.get("USERNAME", "")
        srp_a = auth_parameters.get("SRP_A", "")
        try:
            a = int(srp_a, 16)
        except ValueError:
            raise NotAuthorizedError("SRP_A is not a hexadecimal number") from None
        if a % N == 0:
            raise NotAuthorizedError("Invalid SRP_A")
        if client.generate_secret:  # moto checks SECRET_HASH for us
            return original(backend, client_id, auth_flow, auth_parameters)
        user = pool._get_user(username)
        if user is None and not _prevents_existence_errors(client):
            raise UserNotFoundError("User does not exist.")
        salt_hex = secrets.token_hex(16)
        user_id = user.id if user is not None else secrets.token_hex(16)
        verifier = _verifier(pool.id, user_id, user.password if user is not None else secrets.token_hex(16), salt_hex)
        b = secrets.randbits(256)
        big_b = (K * verifier + pow(G, b, N)) % N
        secret_block = secrets.token_bytes(64)
        block_b64 = base64.standard_b64encode(secret_block).decode()
        session = _SrpSession(
            pool.id, username if user else None, user_id, a, b, big_b, salt_hex, verifier, secret_block
        )
        _installed["sessions"][block_b64] = session
        return {
            "ChallengeName": "PASSWORD_VERIFIER",
            "ChallengeParameters": {
                "SALT": salt_hex,
                "SRP_B": f"{big_b:x}",
                "USERNAME": user.username if user else username,
                "USER_ID_FOR_SRP": user_id,
                "SECRET_BLOCK": block_b64,
            },
        }

    return initiate_auth


def _respond(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def respond(
        backend: Any, session: str, client_id: str, challenge_name: str, challenge_responses: dict[str, str]
    ) -> dict[str, Any]:
        from moto.cognitoidp.exceptions import NotAuthorizedError, UserNotConfirmedException

        if challenge_name != "PASSWORD_VERIFIER":
            return original(backend, session, client_id, challenge_name, challenge_responses)
        block = challenge_responses.get("PASSWORD_CLAIM_SECRET_BLOCK", "")
        srp = _installed["sessions"].pop(block, None)
        if srp is None:  # not ours (a secret-hash client's moto session) or already used
            return original(backend, session, client_id, challenge_name, challenge_responses)
        claimed = challenge_responses.get("PASSWORD_CLAIM_SIGNATURE", "").encode()
        timestamp = challenge_responses.get("TIMESTAMP", "")
        if srp.username is None or not hmac.compare_digest(claimed, expected_signature(srp, timestamp)):
            raise NotAuthorizedError(INCORRECT)
        pool = backend.user_pools[srp.pool_id]
        user = pool._get_user(srp.username)
        if user is None:
            raise NotAuthorizedError(INCORRECT)
        if not user.enabled:
            raise NotAuthorizedError("User is disabled.")
        if user.status == "UNCONFIRMED":
            raise UserNotConfirmedException("User is not confirmed.")
        backend.sessions[block] = (srp.username, pool)  # moto's session, keyed as moto expects
        # moto issues the tokens; the name the client signed in with gives the id token its email claim
        return original(backend, session, client_id, challenge_name, {**challenge_responses, "USERNAME": srp.username})

    return respond
