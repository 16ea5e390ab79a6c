"""How a simulated board judges one request."""

from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest

from board_sim.judging import Diplomate, judge
from shared.boards import Board, shipped_boards
from shared.events import LearnerRecord, ProcessBoardRequest, Target

MSG_661 = "Diplomate ID not found in Board records."
MSG_664 = "Diplomate date of birth does not match Board record for this diplomate ID."
MSG_665 = "Diplomate name does not batch Board record."  # 'batch' is PARS's own misspelling

ABOHNS = shipped_boards()["ABOHNS"]
HARPER = Diplomate(board_id="19927", first_name="Harper", last_name="Benton", dob="11/11")


def request(action: str = "add", board: str = "ABOHNS", **changes: object) -> ProcessBoardRequest:
    fields: dict[str, object] = {
        "record_id": uuid4(), "submission_id": uuid4(), "provider_id": "0008001", "credit_id": "ccid-1",
        "activity_id": "210016865", "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
        "completion_date": date(2021, 11, 2), "target": Target(kind="moc", code=board), "learner_id": "19927",
        "credits": Decimal(6),
    }
    record = LearnerRecord(**(fields | changes))
    return ProcessBoardRequest(request_id=uuid4(), action=action, record=record,  # type: ignore[arg-type]
                               correlation_id="corr-1", provider_id="0008001", record_id=record.record_id)


def judged(req: ProcessBoardRequest, diplomate: Diplomate | None, board: Board = ABOHNS) -> list[tuple[str, str]]:
    return [(e.code, e.message) for e in judge(req, board, diplomate)]


def test_a_matching_diplomate_is_accepted() -> None:
    assert judge(request(), ABOHNS, HARPER) == []


def test_no_diplomate_is_661() -> None:
    assert judged(request(), None) == [("661", MSG_661)]


def test_a_different_dob_is_664() -> None:
    assert judged(request(dob="12/11"), HARPER) == [("664", MSG_664)]


@pytest.mark.parametrize(("first", "last"), [("Harper", "Brenton"), ("Harriet", "Benton"), ("Benton", "Harper")])
def test_a_different_name_is_665(first: str, last: str) -> None:
    assert judged(request(first_name=first, last_name=last), HARPER) == [("665", MSG_665)]


def test_dob_and_name_both_wrong_are_both_reported() -> None:
    assert judged(request(dob="01/01", last_name="Other"), HARPER) == [("664", MSG_664), ("665", MSG_665)]


@pytest.mark.parametrize(
    ("reported", "on_roster"),
    [
        (("harper", "benton"), ("Harper", "Benton")),
        (("Maria", "garcia lopez"), ("María", "García-López")),
        (("Sean", "OKeeffe"), ("Seán", "O'Keeffe")),
        (("Sean", "O’Keeffe"), ("Sean", "O'Keeffe")),
        (("Anne-Marie", "St. John"), ("Anne Marie", "St John")),
        (("JOSE", "NUNEZ"), ("José", "Núñez")),
        (("  Harper ", " Benton"), ("Harper", "Benton")),
    ],
)
def test_name_differences_pars_forgives(reported: tuple[str, str], on_roster: tuple[str, str]) -> None:
    diplomate = Diplomate(board_id="1", first_name=on_roster[0], last_name=on_roster[1], dob="11/11")
    assert judge(request(first_name=reported[0], last_name=reported[1]), ABOHNS, diplomate) == []


@pytest.mark.parametrize("diplomate", [None, Diplomate("19927", "Someone", "Else", "01/01")])
def test_delete_requests_are_accepted(diplomate: Diplomate | None) -> None:
    assert judge(request("delete"), ABOHNS, diplomate) == []


def test_a_board_that_does_not_require_dob_ignores_it() -> None:
    aba = shipped_boards()["ABA"]
    assert aba.requires_dob is False
    assert judge(request(board="ABA", dob="01/01"), aba, HARPER) == []
    assert judged(request(board="ABA", dob="01/01", last_name="Other"), HARPER, aba) == [("665", MSG_665)]


@pytest.mark.parametrize(("reported", "on_roster"), [(None, "11/11"), ("11/11", None)])
def test_a_dob_missing_on_either_side_is_not_a_mismatch(reported: str | None, on_roster: str | None) -> None:
    diplomate = Diplomate("19927", "Harper", "Benton", on_roster)
    assert judge(request(dob=reported), ABOHNS, diplomate) == []


def test_the_same_month_and_day_written_differently_is_not_664() -> None:
    diplomate = Diplomate("19927", "Harper", "Benton", "01/05")
    assert judge(request(dob="1/5"), ABOHNS, diplomate) == []
