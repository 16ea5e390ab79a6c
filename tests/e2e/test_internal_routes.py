"""Validation's internal routes answer only the stack's own services (the service token), on loopback."""

import httpx
import pytest

from shared.service import SERVICE_TOKEN_HEADER
from shared.service_registry import SERVICES
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

WORLD = {
    "providers": [{"id": "0008001", "name": "Western Regional Medical Center", "email": "cme@wrmc.example"}],
    "activities": [{"id": "210016865", "provider_id": "0008001", "title": "Manual entry", "format": "Live Course",
                    "start_date": "2021-10-15", "end_date": "2021-11-15", "credit_claim_date": "2021-12-31",
                    "cme_credits": 8, "moc_credits": 8, "moc": {"ABOHNS": ["Self-Assessment"]}}],
    "physicians": [],
}
RECORD = {"provider_id": "0008001", "record_id": "r1", "submission_id": "s1", "activity_id": "210016865",
          "action": "Add", "credit_id": "c1", "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
          "completion_date": "2021-11-01", "target": "CME", "credits": 1}


@pytest.fixture(scope="module")
def key(stack: Stack) -> str:
    stack.load_world(WORLD)
    return stack.pars("provider", "key", "0008001").stdout.strip()


def validation(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.settings.service_port('validation')}"


@pytest.mark.parametrize("headers", [{}, {SERVICE_TOKEN_HEADER: "not-the-token"},
                                     {SERVICE_TOKEN_HEADER: ""}, {"Authorization": "Bearer whatever"}])
def test_internal_routes_refuse_a_caller_without_the_service_token(stack: Stack, key: str,
                                                                   headers: dict[str, str]) -> None:
    with httpx.Client(base_url=validation(stack), headers=headers, timeout=10) as client:
        calls = [client.get("/internal/activities/210016865"), client.post("/internal/check", json=[RECORD]),
                 client.post("/internal/learners/match", json={"first_name": "Harper", "last_name": "Benton"}),
                 client.post("/internal/activities", params={"provider_id": "0008001"}, json={"id": "310000001"})]
        for answer in calls:
            assert answer.status_code == 401, (answer.request.url, answer.text)
            assert answer.json()["error"]["code"] == "unauthorized"
            assert "210016865" not in answer.text and "Manual entry" not in answer.text
        # Health and metrics stay open: supervisors and scrapers hold no token.
        assert client.get("/readyz").status_code == 200
        assert client.get("/healthz").status_code == 200
        assert client.get("/metrics").status_code == 200


def test_intake_shows_the_token_and_validation_answers_it(stack: Stack, key: str) -> None:
    with stack.client(key) as api:
        assert api.get("/v1/activities/210016865").json()["title"] == "Manual entry"
    token = stack.settings.internal_token()
    with httpx.Client(base_url=validation(stack), headers={SERVICE_TOKEN_HEADER: token}, timeout=10) as client:
        assert client.get("/internal/activities/210016865").json()["provider_id"] == "0008001"


def test_the_workers_listen_on_loopback_only(stack: Stack) -> None:
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.read().splitlines()[1:]]
    ports = {stack.settings.service_port(s.name) for s in SERVICES if s.health_port_offset is not None}
    listening = {int(local.split(":")[1], 16): local.split(":")[0] for _, local, _, state, *_ in rows
                 if state == "0A"}
    assert {port: listening.get(port) for port in ports} == dict.fromkeys(ports, "0100007F")  # 127.0.0.1
