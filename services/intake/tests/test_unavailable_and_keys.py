"""Which failures answer 503 (PostgreSQL unavailable, not our bugs), and the Idempotency-Key header's rules."""

import asyncpg
import pytest

from intake.completions.idempotency import idempotency_key
from intake.completions.schemas import Completion
from intake.errors import ApiError, database_unavailable

BODY = {"activity_id": "210016865", "first_name": "Harper", "moc": [{"board": "ABOHNS", "board_id": "19927"}]}


@pytest.mark.parametrize("exc", [
    ConnectionRefusedError(111, "Connect call failed"),  # the server is down
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),  # a restart began
    asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.InterfaceError("pool is closing"),
])
def test_postgresql_out_of_reach_is_unavailable(exc: Exception) -> None:
    assert database_unavailable(exc)


@pytest.mark.parametrize("exc", [
    asyncpg.UndefinedColumnError("column does not exist"),  # our bug: a 500 it stays
    asyncpg.UniqueViolationError("duplicate key"),
    asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
    ValueError("no"),
])
def test_query_errors_are_not_unavailability(exc: Exception) -> None:
    assert not database_unavailable(exc)


def test_the_same_completion_spelt_differently_has_one_fingerprint() -> None:
    one = idempotency_key("0008001", "k-1", Completion.model_validate(BODY))
    spaced = idempotency_key("0008001", "k-1", Completion.model_validate_json(
        '{ "moc": [ {"board_id": "19927", "board": "ABOHNS"} ], "first_name": "Harper", "activity_id": "210016865" }'))
    other = idempotency_key("0008001", "k-1", Completion.model_validate(BODY | {"first_name": "Harpe"}))
    assert one is not None and spaced is not None and other is not None
    assert one.fingerprint == spaced.fingerprint != other.fingerprint


def test_no_header_means_no_key() -> None:
    assert idempotency_key("0008001", None, Completion.model_validate(BODY)) is None


@pytest.mark.parametrize("header", ["", "with space", "x" * 256, "caf\u00e9", "tab\tkey"])
def test_a_malformed_key_is_refused_with_422(header: str) -> None:
    with pytest.raises(ApiError) as refused:
        idempotency_key("0008001", header, Completion.model_validate(BODY))
    assert refused.value.status == 422 and refused.value.code == "invalid_idempotency_key"
    assert refused.value.details[0]["field"] == "Idempotency-Key"
