"""POST /v1/completions answers the same whether CompletionRoute resolves a request itself or FastAPI's handler does:
every request below is sent both ways (FastAPI's alone while tracing is on) and the status, body and headers compared.
No servers: the app's pool, key cache, submission path and validation client are stand-ins."""

import itertools
import json
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from intake import validation_client
from intake.app import build
from intake.completions import route as completion_route
from intake.completions.schemas import RecordAnswer
from intake.keys import Principal
from shared.events import ReportedRecord
from shared.settings import Settings

KEYS = {"pars_provider_k": Principal("provider", "0008001"), "pars_ws_k": Principal("webservice", "0008001"),
        "pars_operator_k": Principal("operator", None)}
BODY = {"activity_id": "210016865", "credit_id": "ccid-1", "first_name": "Harper", "last_name": "Benton",
        "dob": "11/11", "completion_date": "2021-11-02", "cme": {"credits": 8, "state": "LA"},
        "moc": [{"board": "ABOHNS", "board_id": "19927", "credits": 8, "credit_types": {"Self-Assessment": 8}}]}
JSON = {"Content-Type": "application/json", "Authorization": "Bearer pars_provider_k"}


class Keys:
    async def authenticate(self, _pool: object, key: str) -> Principal | None:
        return KEYS.get(key)


class Pool:
    """The idempotency key's row: the first request's answer, kept by `remember`."""

    def __init__(self) -> None:
        self.answer: Any = None

    async def execute(self, _query: str, *args: Any) -> str:
        self.answer = args[2]
        return "UPDATE 1"

    async def fetchrow(self, _query: str, *_args: Any) -> None:
        return None  # the key expired meanwhile: 409


class Submissions:
    """Kept and decided at once; a completion with credit ID `replayed` was kept before under its key."""

    async def submit(self, records: list[ReportedRecord], _correlation: str, wait_seconds: float,
                     claim: Any = None) -> list[RecordAnswer] | None:
        if records[0].credit_id == "replayed":
            return None
        return [RecordAnswer(record_id=r.record_id, target=r.target.code,
                             status="Submitted" if wait_seconds else "Processing") for r in records]


def checked(request: httpx.Request) -> httpx.Response:
    records = json.loads(request.content)
    return httpx.Response(200, json=[{"status": "Rejected by PARS", "errors": [{"code": "690", "message": "m"}]}
                                     for _ in records])


@pytest.fixture
def app() -> FastAPI:
    settings = Settings(_env_file=None)
    app = build(settings)
    app.state.pool, app.state.keys, app.state.submissions = Pool(), Keys(), Submissions()
    app.state.validation_client = validation_client.connect(settings, httpx.MockTransport(checked))
    return app


def answers(app: FastAPI, monkeypatch: pytest.MonkeyPatch, **request: Any) -> list[tuple[int, bytes, Any]]:
    """The request's answer from CompletionRoute, then from FastAPI's handler (as while tracing is on)."""
    client, answered = TestClient(app, raise_server_exceptions=False), []
    for tracing_on in (False, True):
        with monkeypatch.context() as patch:
            ids = (UUID(int=n) for n in itertools.count(1))  # the same record and submission IDs both ways
            patch.setattr("intake.completions.router.new_id", ids.__next__)
            patch.setattr("intake.submitting.completions.new_id", ids.__next__)
            patch.setattr(completion_route.tracing, "enabled", lambda on=tracing_on: on)
            answer = client.post(**request)
        headers = sorted((k, v) for k, v in answer.headers.items() if k not in ("date", "x-correlation-id"))
        answered.append((answer.status_code, answer.content, headers))
    return answered


def same_both_ways(app: FastAPI, monkeypatch: pytest.MonkeyPatch, **request: Any) -> tuple[int, Any]:
    fast, full = answers(app, monkeypatch, **request)
    assert fast == full
    status, body, _ = fast
    return status, json.loads(body) if body else None


@pytest.mark.parametrize(("query", "headers", "status"), [
    ("", {}, 202), ("?wait=true", {}, 202), ("?wait=false&dry_run=false", {}, 202), ("?dry_run=true", {}, 200),
    ("?wait=true", {"Idempotency-Key": "k-1"}, 202), ("?wait=1", {}, 202), ("?wait=yes", {}, 202),
    ("?wait=true&wait=false", {}, 202), ("?wait=maybe", {}, 422), ("?other=1", {}, 202), ("?name=%00", {}, 422),
    ("", {"Idempotency-Key": "bad key"}, 422), ("", {"Authorization": "Bearer pars_nope_k"}, 401), ("", {
        "Authorization": "Basic abc"}, 401), ("", {"Authorization": "Bearer pars_ws_k"}, 403),
    ("", {"Authorization": "Bearer pars_operator_k"}, 403), ("", {"Content-Type": "text/plain"}, 422),
    ("", {"Content-Type": "application/json; charset=utf-8"}, 202),
])
def test_a_completion_is_answered_alike_both_ways(app: FastAPI, monkeypatch: pytest.MonkeyPatch, query: str,
                                                  headers: dict[str, str], status: int) -> None:
    answered, body = same_both_ways(app, monkeypatch, url=f"/v1/completions{query}", content=json.dumps(BODY),
                                    headers=JSON | headers)
    assert answered == status, body


@pytest.mark.parametrize(("content", "status"), [
    (b"", 422), (b"null", 422), (b"[1]", 422), (b"{", 422), (b"\xff", 400), (b"[" * 20_000 + b"]" * 20_000, 400),
    (b'{"activity_id": "1"}', 422), (json.dumps(BODY | {"first_name": "Har\u0000per"}).encode(), 422),
    (json.dumps(BODY | {"credit_id": "replayed"}).encode(), 409),
    (json.dumps(BODY).encode().replace(b"\"credits\": 8, \"state\"", b"\"credits\": 1e309, \"state\""), 422),
])
def test_a_body_pars_cannot_take_is_answered_alike_both_ways(app: FastAPI, monkeypatch: pytest.MonkeyPatch,
                                                             content: bytes, status: int) -> None:
    answered, body = same_both_ways(app, monkeypatch, url="/v1/completions?wait=true", content=content,
                                    headers=JSON | {"Idempotency-Key": "k-1"})
    assert answered == status, body


def test_a_request_without_a_key_or_body_type_is_answered_alike_both_ways(app: FastAPI,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert same_both_ways(app, monkeypatch, url="/v1/completions", content=json.dumps(BODY))[0] == 401
    assert same_both_ways(app, monkeypatch, url="/v1/completions", content=json.dumps(BODY),
                          headers={"Authorization": "Bearer pars_provider_k"})[0] == 422


def test_the_apps_completion_route_resolves_plain_requests_itself(app: FastAPI) -> None:
    """If the route took another dependency or parameter, CompletionRoute would leave it to FastAPI: say so here."""
    contexts = [c for r in app.router.routes for c in getattr(r, "effective_route_contexts", list)()
                if isinstance(c.original_route, completion_route.CompletionRoute)]
    assert len(contexts) == 1
    assert completion_route._takes_what_we_resolve(contexts[0].original_route, contexts[0].dependant)


@pytest.mark.parametrize("query", ["", "?wait=true", "?dry_run=true&wait=false"])
def test_a_plain_request_skips_fastapis_dependency_solving(app: FastAPI, monkeypatch: pytest.MonkeyPatch,
                                                           query: str) -> None:
    async def unused(**_: Any) -> None:
        raise AssertionError("FastAPI solved the dependencies of a plain request")

    monkeypatch.setattr("fastapi.routing.solve_dependencies", unused)
    answer = TestClient(app).post(f"/v1/completions{query}", content=json.dumps(BODY), headers=JSON)
    assert answer.status_code in (200, 202), answer.text
