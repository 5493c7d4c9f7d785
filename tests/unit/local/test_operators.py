"""Operators in local mode: the user pool has the ``operators`` group, the control endpoint (and
``python -m local operator``) puts a user in it through Cognito's AdminAddUserToGroup, only a
token issued afterwards names it, and the gateway hands that claim on as API Gateway does.
Also the moto resources the operator controls need (the reports bucket, the instruments table)
and ``POST /_local/reconcile``."""

import asyncio
import json
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import jwt
import pytest

from exchange.settings import OPERATORS_GROUP
from lambdas.catalog import ACCESS_TOKEN_SCOPE
from local import accounts, control, operator
from local.aws import REPORTS_BUCKET, AwsResources, MotoServer, client, provision
from local.functions import FunctionHost
from local.gateway.auth import CognitoAuthorizer
from local.gateway.events import HttpRequest, rest_event

PASSWORD = "Operator-pass-1"  # noqa: S105 - a throwaway moto user's


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsResources]:
    moto = MotoServer()
    endpoint = moto.start()
    try:
        yield provision(endpoint)
    finally:
        moto.stop()


def user(aws: AwsResources, email: str) -> Any:
    cognito = client("cognito-idp", aws.endpoint_url)
    accounts.register(cognito, aws.app_client_id, email, PASSWORD)
    accounts.confirm(cognito, aws.user_pool_id, email)
    return cognito


def access_token(cognito: Any, aws: AwsResources, email: str) -> str:
    answer = cognito.initiate_auth(
        ClientId=aws.app_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )
    return str(answer["AuthenticationResult"]["AccessToken"])


def running(aws: AwsResources, **parts: Any) -> Any:
    """The parts of a running stack the controls read."""
    return types.SimpleNamespace(**{"resources": aws, "functions": None, **parts})


def test_the_pool_has_the_operators_group_and_moto_the_reports_bucket_and_instruments(
    aws: AwsResources,
) -> None:
    cognito = client("cognito-idp", aws.endpoint_url)
    groups = cognito.list_groups(UserPoolId=aws.user_pool_id)["Groups"]
    assert [g["GroupName"] for g in groups] == [OPERATORS_GROUP]
    buckets = client("s3", aws.endpoint_url).list_buckets()["Buckets"]
    assert REPORTS_BUCKET in {b["Name"] for b in buckets}
    assert aws.reports_bucket == REPORTS_BUCKET
    table = client("dynamodb", aws.endpoint_url).describe_table(
        TableName=aws.table_names["instruments"]
    )["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["symbol", "record"]


def test_an_operator_gets_the_group_in_tokens_issued_after_and_the_gateway_passes_it(
    aws: AwsResources,
) -> None:
    # Given a confirmed user, signed in before anyone made them an operator
    email = "ops@example.com"
    cognito = user(aws, email)
    before = access_token(cognito, aws, email)
    # When the control endpoint makes them one
    answer = asyncio.run(control.control(running(aws), "operator", {"username": email}))
    # Then Cognito has them in the group, but only a new token says so (as in AWS)
    assert answer == {"username": email, "groups": [OPERATORS_GROUP], "sign_in_again": True}
    assert "cognito:groups" not in jwt.decode(before, options={"verify_signature": False})
    after = access_token(cognito, aws, email)
    assert jwt.decode(after, options={"verify_signature": False})["cognito:groups"] == [
        OPERATORS_GROUP
    ]
    # And the local Cognito authorizer verifies it against moto's JWKS, and the admin function's
    # event carries the group as API Gateway's REST authorizer passes it: a string
    authorizer = CognitoAuthorizer.for_pool(
        jwks_url=aws.jwks_url, issuer=aws.issuer, app_client_id=aws.app_client_id
    )
    claims = authorizer.verify(after, (ACCESS_TOKEN_SCOPE,))
    request = HttpRequest("GET", "/v1/admin/markets", (), (), b"", "127.0.0.1")
    event = rest_event(request, resource="/v1/admin/markets", path_parameters={}, claims=claims)
    assert event["requestContext"]["authorizer"]["claims"]["cognito:groups"] == OPERATORS_GROUP


def test_making_an_unknown_user_an_operator_is_a_missing_field_not_a_crash(
    aws: AwsResources,
) -> None:
    with pytest.raises(KeyError, match="no user"):
        asyncio.run(control.control(running(aws), "operator", {"username": "nobody@example.com"}))
    with pytest.raises(KeyError):
        asyncio.run(control.control(running(aws), "operator", {}))


def test_reconcile_runs_the_reconciliation_function_once_and_returns_its_report(
    aws: AwsResources,
) -> None:
    # Given a reconciliation function that writes its report to the reports bucket, as deployed
    events: list[dict[str, Any]] = []
    key = "reconciliation/2026/01/02/030405Z.json"
    written = {"clean": False, "checks": {"open_orders": {"in_flight": 1, "drifted": []}}}

    def reconciliation(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        events.append(event)
        s3 = client("s3", aws.endpoint_url)
        s3.put_object(Bucket=aws.reports_bucket, Key=key, Body=json.dumps(written).encode())
        return {
            "clean": False,
            "drift": {"open_orders": 1},
            "report": f"s3://{REPORTS_BUCKET}/{key}",
        }

    host = FunctionHost(handlers={"reconciliation": reconciliation})
    # When the control runs it
    try:
        answer = asyncio.run(control.control(running(aws, functions=host), "reconcile", {}))
    finally:
        host.close()
    # Then it ran once, with the rule's scheduled event, and both its answer and report come back
    (event,) = events
    assert event["detail-type"] == "Scheduled Event"
    assert event["resources"][0].endswith(":rule/reconciliation")
    assert answer["summary"]["drift"] == {"open_orders": 1}
    assert answer["report"] == written


# --- python -m local operator --------------------------------------------------------------------


class FakeStack(BaseHTTPRequestHandler):
    """``POST /_local/operator`` as the running stack answers it."""

    known: ClassVar[frozenset[str]] = frozenset({"alice@example.com"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        known = self.path == "/_local/operator" and body["username"] in self.known
        answer: dict[str, Any] = (
            {"username": body["username"], "groups": ["operators"], "sign_in_again": True}
            if known
            else {"error": f"unknown control or field 'no user {body['username']}'"}
        )
        data = json.dumps(answer).encode()
        self.send_response(200 if known else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def state_file(tmp_path: Path) -> Iterator[Path]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeStack)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    path = tmp_path / "local-stack.json"
    path.write_text(json.dumps({"api_url": f"http://127.0.0.1:{server.server_address[1]}"}))
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()


def test_the_operator_command_asks_the_running_stack(
    state_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert operator.main(["alice@example.com", "--state-file", str(state_file)]) == 0
    assert "alice@example.com is in operators" in capsys.readouterr().out
    assert operator.main(["mallory@example.com", "--state-file", str(state_file)]) == 1
    assert "no user mallory@example.com" in capsys.readouterr().err
    missing = state_file.with_name("none.json")
    assert operator.main(["alice@example.com", "--state-file", str(missing)]) == 1
    assert "make run" in capsys.readouterr().err
