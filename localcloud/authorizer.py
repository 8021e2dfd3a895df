"""The HTTP API JWT authorizer, enforced for real.

Signature (RS256) against the local user pool's JWKS, fetched from the edge
(`/<pool id>/.well-known/jwks.json`) while the issuer stays the AWS form the tokens
carry; then `iss`, `exp`, `token_use`, and `aud` (id token) or `client_id` (access
token) against the authorizer's audience. Any failure is API Gateway's 401.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import jwt
import requests


class Unauthorized(Exception):
    """The request is refused with 401 {"message": "Unauthorized"}; the reason is for logs only."""


@dataclass(frozen=True)
class JwtAuthorizer:
    issuer: str
    audience: tuple[str, ...]
    identity_source: str = "$request.header.Authorization"


class JwksCache:
    """Keys by issuer, fetched from the edge (the issuer's host is AWS's, the keys are local)."""

    def __init__(self, edge_url: str) -> None:
        self.edge_url = edge_url
        self._keys: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def key(self, issuer: str, kid: str) -> Any:
        with self._lock:
            if (issuer, kid) not in self._keys:
                pool_id = issuer.rstrip("/").rsplit("/", 1)[-1]
                answer = requests.get(f"{self.edge_url}/{pool_id}/.well-known/jwks.json", timeout=10)
                answer.raise_for_status()
                for jwk in answer.json().get("keys", []):
                    self._keys[(issuer, jwk["kid"])] = jwt.PyJWK.from_json(json.dumps(jwk)).key
            if (issuer, kid) not in self._keys:
                raise Unauthorized(f"no key {kid!r} for {issuer}")
            return self._keys[(issuer, kid)]


def bearer_token(headers: dict[str, str]) -> str:
    raw = headers.get("authorization", "").strip()
    if not raw:
        raise Unauthorized("no Authorization header")
    token = raw[7:].strip() if raw.lower().startswith("bearer ") else raw
    if token.count(".") != 2:
        raise Unauthorized("not a JWT")
    return token


def verify(token: str, authorizer: JwtAuthorizer, keys: JwksCache) -> dict[str, Any]:
    """The verified claims, or Unauthorized."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "RS256" or "kid" not in header:
            raise Unauthorized("only RS256 tokens with a kid are accepted")
        claims: dict[str, Any] = jwt.decode(
            token,
            keys.key(authorizer.issuer, header["kid"]),
            algorithms=["RS256"],
            issuer=authorizer.issuer,
            options={"verify_aud": False, "require": ["exp", "iss", "sub"]},
            leeway=0,
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid token: {exc}") from exc
    token_use = claims.get("token_use")
    if token_use == "id":  # noqa: S105 - a claim value, not a secret
        audiences = claims.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else list(audiences or [])
        if not set(audiences) & set(authorizer.audience):
            raise Unauthorized("aud is not an audience of this authorizer")
    elif token_use == "access":  # noqa: S105 - a claim value, not a secret
        if claims.get("client_id") not in authorizer.audience:
            raise Unauthorized("client_id is not an audience of this authorizer")
    else:
        raise Unauthorized(f"token_use {token_use!r} is neither id nor access")
    return claims


def render_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as API Gateway passes them: strings, lists as "[a b]"."""
    rendered = {}
    for name, value in claims.items():
        if isinstance(value, list):
            rendered[name] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, bool):
            rendered[name] = "true" if value else "false"
        else:
            rendered[name] = str(value)
    return rendered
