"""Cognito on the edge as Cognito: a real SRP client (pycognito), Cognito's errors, this cloud's signing key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import jwt
import pytest
import requests
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP

from localcloud import REGION, cognito
from localcloud.cognito import SigningKey
from localcloud.deploy import FAKE_CREDENTIALS
from localcloud.edge import Edge

pytestmark = pytest.mark.xdist_group("localcloud")

PASSWORD = "Right-Passw0rd!"  # noqa: S105 - a test user's password on a local pool


@pytest.fixture(scope="module")
def pool() -> Iterator[dict[str, Any]]:
    key = SigningKey.generate()
    cognito.install(key)
    edge = Edge(port=0)
    edge.port = _free_port()
    edge.start()
    try:
        idp = boto3.client("cognito-idp", endpoint_url=edge.url, region_name=REGION, **FAKE_CREDENTIALS)
        pool_id = idp.create_user_pool(PoolName="p", UsernameAttributes=["email"])["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="web",
            ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            PreventUserExistenceErrors="ENABLED",
        )["UserPoolClient"]["ClientId"]
        legacy_id = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="legacy")["UserPoolClient"]["ClientId"]
        for email, confirm in (("ok@example.com", True), ("new@example.com", False)):
            idp.sign_up(
                ClientId=client_id,
                Username=email,
                Password=PASSWORD,
                UserAttributes=[{"Name": "email", "Value": email}],
            )
            if confirm:
                idp.admin_confirm_sign_up(UserPoolId=pool_id, Username=email)
        yield {"idp": idp, "pool": pool_id, "client": client_id, "legacy": legacy_id, "edge": edge, "key": key}
    finally:
        edge.stop()
        cognito.uninstall()


def _free_port() -> int:
    from localcloud.edge import free_port

    return free_port()


def _srp(pool: dict[str, Any], email: str, password: str, client: str = "client") -> dict[str, Any]:
    srp = AWSSRP(username=email, password=password, pool_id=pool["pool"], client_id=pool[client], client=pool["idp"])
    result: dict[str, Any] = srp.authenticate_user()
    return result


def test_srp_sign_in_with_the_right_password_gives_tokens_signed_with_this_clouds_key(pool: dict[str, Any]) -> None:
    tokens = _srp(pool, "ok@example.com", PASSWORD)["AuthenticationResult"]
    jwks = requests.get(f"{pool['edge'].url}/{pool['pool']}/.well-known/jwks.json", timeout=10).json()
    assert [k["kid"] for k in jwks["keys"]] == [pool["key"].kid]
    public = jwt.PyJWK.from_dict(jwks["keys"][0]).key
    claims = jwt.decode(tokens["IdToken"], public, algorithms=["RS256"], audience=pool["client"])
    assert claims["email"] == "ok@example.com"
    assert jwt.get_unverified_header(tokens["AccessToken"])["kid"] == pool["key"].kid
    jwt.decode(tokens["AccessToken"], public, algorithms=["RS256"], options={"verify_aud": False})


def test_a_wrong_password_is_refused_over_srp(pool: dict[str, Any]) -> None:
    with pytest.raises(ClientError, match=r"\(NotAuthorizedException\)"):
        _srp(pool, "ok@example.com", "Wrong-Passw0rd!")


def test_a_wrong_password_is_refused_over_user_password_auth(pool: dict[str, Any]) -> None:
    with pytest.raises(ClientError, match=r"\(NotAuthorizedException\)"):
        pool["idp"].initiate_auth(
            ClientId=pool["client"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "ok@example.com", "PASSWORD": "nope-Passw0rd!"},
        )


def test_an_unknown_user_is_not_revealed_when_the_client_prevents_existence_errors(pool: dict[str, Any]) -> None:
    with pytest.raises(ClientError, match=r"\(NotAuthorizedException\)"):
        _srp(pool, "nobody@example.com", PASSWORD)
    with pytest.raises(ClientError, match=r"\(NotAuthorizedException\)"):
        pool["idp"].initiate_auth(
            ClientId=pool["client"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "nobody@example.com", "PASSWORD": PASSWORD},
        )


def test_an_unknown_user_is_user_not_found_on_a_legacy_client(pool: dict[str, Any]) -> None:
    with pytest.raises(ClientError, match=r"\(UserNotFoundException\)"):
        _srp(pool, "nobody@example.com", PASSWORD, client="legacy")


def test_an_unconfirmed_user_with_the_right_password_is_told_so(pool: dict[str, Any]) -> None:
    with pytest.raises(ClientError, match=r"\(UserNotConfirmedException\)"):
        _srp(pool, "new@example.com", PASSWORD)
    with pytest.raises(ClientError, match=r"\(NotAuthorizedException\)"):
        _srp(pool, "new@example.com", "Wrong-Passw0rd!")


def test_a_token_signed_with_moto_s_shipped_key_does_not_verify(pool: dict[str, Any]) -> None:
    from moto.utilities.utils import load_resource

    shipped = jwt.PyJWK.from_dict(load_resource("cognitoidp/resources/jwks-public.json")["keys"][0]).key
    tokens = _srp(pool, "ok@example.com", PASSWORD)["AuthenticationResult"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tokens["IdToken"], shipped, algorithms=["RS256"], options={"verify_aud": False})


def test_the_key_is_kept_in_its_file(tmp_path: Any) -> None:
    path = tmp_path / "state" / "signing-key.pem"
    first = SigningKey.load_or_create(path)
    assert SigningKey.load_or_create(path).kid == first.kid
    assert path.stat().st_mode & 0o777 == 0o600
