"""Intake answers the AsyncAPI document of the pipeline (shared.asyncapi) at /asyncapi, with its stack's names."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from intake.app import build
from shared.asyncapi import document
from shared.settings import Settings

SETTINGS = Settings(_env_file=None, namespace="stack7")


@pytest.fixture(scope="module")
def intake() -> Iterator[TestClient]:
    yield TestClient(build(SETTINGS))  # no lifespan: the route needs neither Kafka nor PostgreSQL


def test_intake_answers_the_document_at_asyncapi(intake: TestClient) -> None:
    answer = intake.get("/asyncapi")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert answer.json() == document(SETTINGS)
    assert answer.json()["channels"]["submissions"]["address"] == "stack7.pars.submissions"
