"""State that lasts: a local cloud with a state folder comes back with its data, ids and key after a restart."""

from __future__ import annotations

import json
import socket
import tempfile
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto.core.base_backend import BackendDict

from localcloud import REGION
from localcloud.cloud import LocalCloud
from localcloud.deploy import FAKE_CREDENTIALS, TEMPLATE
from localcloud.edge import EdgeError, free_port
from localcloud.state import StateFolder, StateInUse

pytestmark = pytest.mark.xdist_group("localcloud")

PASSWORD = "Kept-Passw0rd!"  # noqa: S105 - a local test user's password


def _stack(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    template: dict[str, Any] = {
        "Resources": {
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"Description": "k"}},
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": "kept-items",
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "Key"}},
                },
            },
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "kept-queue"}},
            "Pool": {"Type": "AWS::Cognito::UserPool", "Properties": {"UserPoolName": "kept-users"}},
            "Client": {
                "Type": "AWS::Cognito::UserPoolClient",
                "Properties": {"UserPoolId": {"Ref": "Pool"}, "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH"]},
            },
        },
        "Outputs": {
            "PoolId": {"Value": {"Ref": "Pool"}},
            "ClientId": {"Value": {"Ref": "Client"}},
            "QueueUrl": {"Value": {"Ref": "Queue"}},
        },
    }
    (folder / TEMPLATE).write_text(json.dumps(template))
    return folder


def _client(cloud: LocalCloud, service: str) -> Any:
    return boto3.client(service, endpoint_url=cloud.edge.url, region_name=REGION, **FAKE_CREDENTIALS)


def _touch_the_edge(cloud: LocalCloud) -> None:
    """Requests leave server-side sockets in TIME_WAIT once the cloud stops."""
    for _ in range(5):
        requests.get(f"{cloud.edge.url}/moto-api/", timeout=10)


def test_a_restart_keeps_items_messages_users_ids_and_the_signing_key(tmp_path: Path) -> None:
    state, package = tmp_path / "state", _stack(tmp_path / "pkg")
    port = free_port()
    with LocalCloud(edge_port=port, schedules=False, state_dir=state) as cloud:
        outputs = cloud.deploy_all({"kept": package}, progress=lambda _: None).stacks["kept"].outputs
        _client(cloud, "dynamodb").put_item(TableName="kept-items", Item={"pk": {"S": "a"}})
        _client(cloud, "sqs").send_message(QueueUrl=outputs["QueueUrl"], MessageBody="hello")
        idp = _client(cloud, "cognito-idp")
        idp.sign_up(ClientId=outputs["ClientId"], Username="kept", Password=PASSWORD)
        idp.admin_confirm_sign_up(UserPoolId=outputs["PoolId"], Username="kept")
        kid = cloud.signing_key.kid
        _touch_the_edge(cloud)
    assert not (tmp_path / "running.json").exists()

    BackendDict.reset()  # moto's backends are process-global: forget everything, as a new process would
    with LocalCloud(edge_port=port, schedules=False, state_dir=state) as again:  # same port, right after the stop
        assert again.restored
        result = again.deploy_all({"kept": package}, progress=lambda _: None).stacks["kept"]
        assert result.outputs == outputs
        assert result.kept["AWS::DynamoDB::Table"] == 1
        item = _client(again, "dynamodb").get_item(TableName="kept-items", Key={"pk": {"S": "a"}})
        assert item["Item"]["pk"]["S"] == "a"
        messages = _client(again, "sqs").receive_message(QueueUrl=outputs["QueueUrl"])["Messages"]
        assert [m["Body"] for m in messages] == ["hello"]
        tokens = _client(again, "cognito-idp").initiate_auth(
            ClientId=outputs["ClientId"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "kept", "PASSWORD": PASSWORD},
        )["AuthenticationResult"]
        assert again.signing_key.kid == kid
        jwks = requests.get(f"{again.edge.url}/{outputs['PoolId']}/.well-known/jwks.json", timeout=10).json()
        assert [k["kid"] for k in jwks["keys"]] == [kid]
        assert tokens["IdToken"].count(".") == 2
        running = json.loads((tmp_path / "running.json").read_text())
        assert running["edge"] == again.edge.url

    with LocalCloud(edge_port=None, schedules=False, state_dir=state, reset=True) as clean:
        assert not clean.restored
        assert clean.signing_key.kid != kid
        with pytest.raises(Exception, match="ResourceNotFoundException"):
            _client(clean, "dynamodb").describe_table(TableName="kept-items")


def test_a_failed_start_leaves_no_temporary_folder_and_frees_the_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A temporary folder of its own: other tests' clouds (other workers) come and go in the shared one
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    before = set(Path(tempfile.gettempdir()).glob("localcloud-*"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        cloud = LocalCloud(edge_port=busy.getsockname()[1], schedules=False, state_dir=tmp_path / "state")
        with pytest.raises(EdgeError, match="busy"):
            cloud.start()
    assert set(Path(tempfile.gettempdir()).glob("localcloud-*")) == before
    StateFolder(tmp_path / "state").acquire()  # released by the failed start


def test_two_clouds_never_share_one_state_folder(tmp_path: Path) -> None:
    first = StateFolder(tmp_path / "state")
    first.acquire()
    try:
        with pytest.raises(StateInUse):
            StateFolder(tmp_path / "state").acquire()
    finally:
        first.release()


def test_a_stack_deployed_through_cloudformation_comes_back_after_a_restart(tmp_path: Path) -> None:
    """What `sls deploy` made (template and code in the edge's S3) is deployed again on the next start."""
    import io
    import zipfile

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as zipped:
        zipped.writestr("app.py", "def handler(event, context):\n    return 'back'\n")
    template = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": "kept-fn",
                    "Handler": "app.handler",
                    "Code": {"S3Bucket": "kept-deployments", "S3Key": "v1/fn.zip"},
                },
            }
        },
        "Outputs": {"Name": {"Value": {"Ref": "Fn"}}},
    }
    state, port = tmp_path / "state", free_port()
    with LocalCloud(edge_port=port, schedules=False, state_dir=state) as cloud:
        cloud.deploy_all({}, progress=lambda _: None)
        s3 = _client(cloud, "s3")
        s3.create_bucket(Bucket="kept-deployments", CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket="kept-deployments", Key="v1/fn.zip", Body=code.getvalue())
        _client(cloud, "cloudformation").create_stack(StackName="kept-api-stack", TemplateBody=json.dumps(template))
        assert cloud.invoke_event("kept-fn", {}).json() == "back"
        _touch_the_edge(cloud)

    BackendDict.reset()
    with LocalCloud(edge_port=port, schedules=False, state_dir=state) as again:
        assert "kept-fn" not in again.runner.names()
        again.deploy_all({}, progress=lambda _: None)
        assert again.invoke_event("kept-fn", {}).json() == "back"
        stack = _client(again, "cloudformation").describe_stacks(StackName="kept-api-stack")["Stacks"][0]
        assert (stack["StackStatus"], stack["Outputs"][0]["OutputValue"]) == ("UPDATE_COMPLETE", "kept-fn")
