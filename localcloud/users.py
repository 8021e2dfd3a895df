"""Users on the local user pool: sign up (confirmed), optionally Admin, sign in, tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from localcloud import REGION
from localcloud.deploy import FAKE_CREDENTIALS

DEFAULT_PASSWORD = "Local-Passw0rd!"  # noqa: S105  # local pool only; meets the pool's policy


@dataclass(frozen=True)
class Tokens:
    access: str
    id: str
    sub: str


def cognito(edge_url: str) -> Any:
    return boto3.client(
        "cognito-idp",
        endpoint_url=edge_url,
        region_name=REGION,
        **FAKE_CREDENTIALS,
    )


def find_pool(edge_url: str, stage: str = "local") -> tuple[str, str]:
    """(user pool id, client id) of the airline pool deployed on a running local cloud."""
    idp = cognito(edge_url)
    pools = [p for p in idp.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == f"airline-{stage}-users"]
    if not pools:
        raise LookupError(f"no user pool airline-{stage}-users on {edge_url}: is `python -m localcloud up` running?")
    pool_id = pools[0]["Id"]
    clients = idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    return pool_id, clients[0]["ClientId"]


def sign_in(
    edge_url: str, pool_id: str, client_id: str, email: str, *, password: str = DEFAULT_PASSWORD, admin: bool = False
) -> Tokens:
    """Sign the user up (first time, confirmed as an admin would) and in; add to Admin if asked."""
    idp = cognito(edge_url)
    try:
        idp.sign_up(
            ClientId=client_id, Username=email, Password=password, UserAttributes=[{"Name": "email", "Value": email}]
        )
        idp.admin_confirm_sign_up(UserPoolId=pool_id, Username=email)
    except idp.exceptions.UsernameExistsException:
        pass
    if admin:
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName="Admin")
    auth = idp.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": email, "PASSWORD": password}
    )["AuthenticationResult"]
    user = idp.admin_get_user(UserPoolId=pool_id, Username=email)
    sub = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
    return Tokens(auth["AccessToken"], auth["IdToken"], sub)
