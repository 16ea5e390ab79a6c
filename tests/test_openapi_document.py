"""Intake's /openapi.json lets a provider's developer generate a client and try calls in /docs: every call that takes
a key says so (bearer), every operation has a readable ID and a tag, every error is the one error shape, every body
and answer has a schema. And the behaviour the document promises: 401 with WWW-Authenticate, 422 for a filter value
no record can have, a 422 message naming the request that was made.

The app is built without its servers (no lifespan): the document needs none, and the requests below are answered
before any query, by a key cache that knows one key.
"""

import json
import re
from collections.abc import Iterator
from typing import Any, get_args

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from intake.app import build
from intake.keys import Principal
from intake.records.schemas import StatusName
from shared.lifecycle import RecordStatus
from shared.settings import Settings

KEY = "pars_0123456789ab_secret"
# Operations without the bearer key (health checks and the console page are not in the document at all): the
# console's event stream, which a browser's EventSource opens with a short-lived ticket since it cannot send a header.
PUBLIC = {("GET", "/v1/ops/live")}
OPERATION_ID = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]*)*$")
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


class OneKey:
    """app.state.keys for these tests: KEY is a provider's, any other key is not valid."""

    async def authenticate(self, _: object, key: str) -> Principal | None:
        return Principal("provider", "0008001") if key == KEY else None


@pytest.fixture(scope="module")
def app() -> FastAPI:
    app = build(Settings(_env_file=None))
    app.state.keys, app.state.pool, app.state.validation_client, app.state.submissions = OneKey(), None, None, None
    return app


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    yield TestClient(app, raise_server_exceptions=False)  # not entered: no lifespan, no servers


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method.upper(), path, operation


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/components/schemas/"), ref
    return document["components"]["schemas"][ref.removeprefix("#/components/schemas/")]


def typed(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    """A schema a client can generate a type from: a model (properties), a list of one, or text/binary."""
    schema = resolve(document, schema)
    if schema.get("type") == "array":
        return typed(document, schema.get("items", {}))
    if schema.get("type") == "string":
        return True
    return bool(schema.get("properties"))


def test_the_document_lists_intakes_calls(document: dict[str, Any]) -> None:
    listed = {(method, path) for method, path, _ in operations(document)}
    assert {("POST", "/v1/completions"), ("GET", "/v1/records"), ("POST", "/v1/activities"),
            ("POST", "/v1/learners/match"), ("POST", "/v1/batches"), ("POST", "/v1/ws/activity-reports"),
            ("GET", "/v1/ops/streams")} <= listed


def test_every_call_that_takes_a_key_has_the_bearer_requirement_and_documents_401(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    [(name, scheme)] = schemes.items()
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for method, path, operation in operations(document):
        if (method, path) in PUBLIC:
            assert not operation.get("security"), (method, path)
            continue
        assert operation.get("security") == [{name: []}], (
            f"{method} {path} has no bearer requirement: take the key through intake.dependencies (CurrentPrincipal,"
            " CurrentProvider, CurrentWebService), or list the call in PUBLIC")
        for status in ("401", "403"):
            assert status in operation["responses"], f"{method} {path}: {status} not documented (errors.AUTHENTICATED)"
        assert "WWW-Authenticate" in operation["responses"]["401"]["headers"], (method, path)


def test_every_operation_has_a_readable_id_and_a_tag(document: dict[str, Any]) -> None:
    ids = []
    for method, path, operation in operations(document):
        assert OPERATION_ID.match(operation.get("operationId", "")), (
            f"{method} {path}: operationId {operation.get('operationId')!r} is not camelCase")
        assert operation.get("tags"), f"{method} {path} has no tag (the router's tags=)"
        ids.append(operation["operationId"])
    assert len(ids) == len(set(ids))
    assert {"submitCompletions", "listRecords", "deleteRecords", "matchLearner"} <= set(ids)


def test_every_error_answer_is_the_error_shape(document: dict[str, Any]) -> None:
    error = {"$ref": "#/components/schemas/Error"}
    assert set(resolve(document, error)["required"]) == {"code", "message"}
    for method, path, operation in operations(document):
        for status, answer in operation["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            content = answer.get("content", {})
            assert list(content) == ["application/json"], (method, path, status, content)
            schema = resolve(document, content["application/json"]["schema"])
            assert schema.get("properties", {}).get("error") == error, (
                f"{method} {path} {status} is not the error shape: use intake.errors.errors({status})")


def test_no_body_or_answer_is_an_untyped_object(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        for media, content in operation.get("requestBody", {}).get("content", {}).items():
            assert typed(document, content.get("schema", {})), f"{method} {path}: the {media} body has no model"
        answers = {s: a for s, a in operation["responses"].items() if s.startswith("2")}
        assert answers, (method, path)
        for status, answer in answers.items():
            assert answer.get("content"), (method, path, status)
            for media, content in answer["content"].items():
                assert typed(document, content.get("schema", {})), (
                    f"{method} {path} {status} {media} has no model: give the route a response_model")


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(document)))
    assert refs and refs <= set(document["components"]["schemas"])


def test_the_status_filter_takes_every_status_a_record_can_have() -> None:
    assert set(get_args(StatusName)) == {s.value for s in RecordStatus}


# What the document promises ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("headers", "challenge"), [
    ({}, 'Bearer realm="PARS"'),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, 'Bearer realm="PARS"'),
    ({"Authorization": "Bearer pars_0123456789ab_wrong"},
     'Bearer realm="PARS", error="invalid_token", error_description="The API key is not valid."'),
])
def test_a_401_says_how_to_authenticate(client: TestClient, headers: dict[str, str], challenge: str) -> None:
    for method, path in (("GET", "/v1/records"), ("POST", "/v1/ws/activity-reports"), ("GET", "/v1/ops/streams")):
        answer = client.request(method, path, headers=headers)
        assert answer.status_code == 401, (path, answer.text)
        assert answer.headers["WWW-Authenticate"] == challenge
        assert answer.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(("path", "parameter"), [
    ("/v1/records?status=Bogus", "status"), ("/v1/records?status=accepted", "status"),
    ("/v1/records?sort=-bogus", "sort"), ("/v1/records?board=AB%3BOHNS", "board"),
    ("/v1/activities?status=Bogus", "status"), ("/v1/activities?sort=size", "sort"),
])
def test_a_filter_value_no_record_can_have_is_a_422_naming_it(client: TestClient, path: str, parameter: str) -> None:
    answer = client.get(path, headers={"Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and parameter in error["message"]
    assert error["details"][0]["field"] == f"query.{parameter}"


def test_a_422_names_the_request_that_was_made(client: TestClient) -> None:
    answer = client.get("/v1/records?per_page=0", headers={"Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 422
    message = answer.json()["error"]["message"]
    assert message.startswith("The request to list records (GET /v1/records) is not valid: query.per_page:"), message
    assert "completion" not in message
    assert answer.json()["error"]["details"] == [{"field": "query.per_page",
                                                  "reason": "Input should be greater than or equal to 1"}]
    completion = client.post("/v1/completions", json={"activity_id": "210016865"},
                             headers={"Authorization": f"Bearer {KEY}"})
    assert completion.status_code == 422
    assert completion.json()["error"]["message"].startswith(
        "The request to submit a completion (POST /v1/completions) is not valid:")
