"""How a simulated board judges one request."""

from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest

from board_sim.judging import Diplomate, Grant, Ledger, judge, on_roster
from board_sim.requests import BoardRequest, decode_request
from shared.boards import Board, shipped_boards
from shared.events import LearnerRecord, ProcessBoardRequest, Target

MSG_661 = "Diplomate ID not found in Board records."
MSG_664 = "Diplomate date of birth does not match Board record for this diplomate ID."
MSG_665 = "Diplomate name does not batch Board record."  # 'batch' is PARS's own misspelling

ABOHNS = shipped_boards()["ABOHNS"]
HARPER = Diplomate(board_id="19927", first_name="Harper", last_name="Benton", dob="11/11")


def request(action: str = "add", board: str = "ABOHNS", **changes: object) -> BoardRequest:
    fields: dict[str, object] = {
        "record_id": uuid4(), "submission_id": uuid4(), "provider_id": "0008001", "credit_id": "ccid-1",
        "activity_id": "210016865", "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
        "completion_date": date(2021, 11, 2), "target": Target(kind="moc", code=board), "learner_id": "19927",
        "credits": Decimal(6),
    }
    record = LearnerRecord(**(fields | changes))
    sent = ProcessBoardRequest(request_id=uuid4(), action=action, record=record,
                               correlation_id="corr-1", provider_id="0008001", record_id=record.record_id)
    return decode_request(sent.to_bytes())  # as the consumer reads it


def judged(req: BoardRequest, diplomate: Diplomate | list[Diplomate] | None,
           board: Board = ABOHNS) -> list[tuple[str, str]]:
    return [(e.code, e.message) for e in judge(req, board, diplomate, Ledger())]


def test_a_matching_diplomate_is_accepted() -> None:
    assert judge(request(), ABOHNS, HARPER, Ledger()) == []


def test_no_diplomate_is_661() -> None:
    assert judged(request(), None) == [("661", MSG_661)]


def test_a_different_dob_is_664() -> None:
    assert judged(request(dob="12/11"), HARPER) == [("664", MSG_664)]


@pytest.mark.parametrize(("first", "last"), [("Harper", "Brenton"), ("Harriet", "Benton"), ("Benton", "Harper")])
def test_a_different_name_is_665(first: str, last: str) -> None:
    assert judged(request(first_name=first, last_name=last), HARPER) == [("665", MSG_665)]


@pytest.mark.parametrize(("first", "last"), [("harper", "BENTON"), ("Hárper", "Ben-ton"), (" Harper", "Ben ton")])
def test_a_name_spelt_otherwise_as_pars_forgives_is_accepted(first: str, last: str) -> None:
    # Identical names skip normalising; these must still take the normalised comparison and match.
    assert judged(request(first_name=first, last_name=last), HARPER) == []


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
    assert judge(request(first_name=reported[0], last_name=reported[1]), ABOHNS, diplomate, Ledger()) == []


@pytest.mark.parametrize("diplomate", [None, Diplomate("19927", "Someone", "Else", "01/01")])
def test_delete_requests_are_accepted(diplomate: Diplomate | None) -> None:
    assert judge(request("delete"), ABOHNS, diplomate, Ledger()) == []


def test_a_board_that_does_not_require_dob_ignores_it() -> None:
    aba = shipped_boards()["ABA"]
    assert aba.requires_dob is False
    assert judge(request(board="ABA", dob="01/01"), aba, HARPER, Ledger()) == []
    assert judged(request(board="ABA", dob="01/01", last_name="Other"), HARPER, aba) == [("665", MSG_665)]


@pytest.mark.parametrize(("reported", "on_roster"), [(None, "11/11"), ("11/11", None)])
def test_a_dob_missing_on_either_side_is_not_a_mismatch(reported: str | None, on_roster: str | None) -> None:
    diplomate = Diplomate("19927", "Harper", "Benton", on_roster)
    assert judge(request(dob=reported), ABOHNS, diplomate, Ledger()) == []


def test_the_same_month_and_day_written_differently_is_not_664() -> None:
    diplomate = Diplomate("19927", "Harper", "Benton", "01/05")
    assert judge(request(dob="1/5"), ABOHNS, diplomate, Ledger()) == []


# Credit rules: what the board already granted this learner for the activity -----------------------------

MESSAGES = {
    "674": "MOC points awarded are greater than amount listed for activity.",
    "709": "Record is a duplicate for learner completion previously reported to Board.",
    "710": "Maximum MOC points already granted.",
    "711": "MOC points reported exceed maximum available to this learner for this activity.",
    "717": "Learner cannot receive MOC credit for multiple completions of this activity on a single date.",
}
ABP = shipped_boards()["ABP"]  # one completion a day


def ledger_with(*grants: tuple[date, int, bool]) -> Ledger:
    book = Ledger()
    for completed, points, through_pars in grants:
        book.of("19927", "210016865").append(Grant(completed, Decimal(points), uuid4() if through_pars else None))
    return book


@pytest.mark.parametrize(
    ("board", "grants", "credits", "expected"),
    [
        (ABOHNS, [], 6, []),
        (ABOHNS, [], 9, ["674"]),  # more than the activity's 8
        (ABOHNS, [(date(2021, 11, 2), 2, False)], 2, ["709"]),  # reported to the board outside PARS already
        (ABOHNS, [(date(2021, 10, 20), 8, True)], 1, ["710"]),  # the learner holds the maximum
        (ABOHNS, [(date(2021, 10, 20), 6, True)], 4, ["711"]),  # 6 + 4 would pass 8
        (ABOHNS, [(date(2021, 10, 20), 6, True)], 2, []),  # 6 + 2 reaches 8 exactly
        (ABP, [(date(2021, 11, 2), 1, True)], 1, ["717"]),  # a second completion that day
        (ABOHNS, [(date(2021, 11, 2), 1, True)], 1, []),  # ABOHNS allows several a day
    ],
)
def test_credit_rules(board: Board, grants: list, credits: int, expected: list[str]) -> None:
    req = request(board=board.code, credits=Decimal(credits), activity_max_credits=Decimal(8))
    diplomate = HARPER
    found = judge(req, board, diplomate, ledger_with(*grants))
    assert [(e.code, e.message) for e in found] == [(c, MESSAGES[c]) for c in expected]


def test_accepted_credit_counts_for_the_next_record_of_the_batch() -> None:
    book = Ledger()
    first, second = (request(credits=Decimal(5), activity_max_credits=Decimal(8)) for _ in range(2))
    assert judge(first, ABOHNS, HARPER, book) == []
    assert [e.code for e in judge(second, ABOHNS, HARPER, book)] == ["711"]
    judge(request("delete", record_id=first.record.record_id), ABOHNS, HARPER, book)  # withdrawn again
    assert judge(second, ABOHNS, HARPER, book) == []


ABS = shipped_boards()["ABS"]
ROES = [Diplomate("71001", "Jane", "Roe", "05/05"), Diplomate("71002", "Jane", "Roe", "05/05"),
        Diplomate("71003", "Jane", "Roe", "06/06"), Diplomate("71004", "Omar", "Roe", "05/05")]


def test_a_learner_pars_matched_without_an_id_is_matched_again_on_the_roster() -> None:
    jane = request(board="ABS", first_name="Jane", last_name="Roe", dob="06/06", learner_id="71003",
                   learner_id_matched=True)
    assert on_roster(jane, ABS, None, ROES) == ROES[2]
    ambiguous = request(board="ABS", first_name="jane", last_name="ROE", dob="5/5", learner_id="71001",
                        learner_id_matched=True)
    assert on_roster(ambiguous, ABS, ROES[0], ROES) == ROES[:2]
    assert judged(ambiguous, ROES[:2], ABS) == [("718", "Unable to match a learner with the information provided")]
    nobody = request(board="ABS", first_name="Ann", last_name="Roe", learner_id_matched=True)
    assert on_roster(nobody, ABS, None, ROES) is None


def test_a_reported_board_id_is_matched_by_id_alone() -> None:
    reported = request(board="ABS", first_name="Jane", last_name="Roe", dob="05/05", learner_id="71002")
    assert on_roster(reported, ABS, ROES[1], ROES) == ROES[1]
    matched_at_an_id_board = request(learner_id_matched=True)
    assert on_roster(matched_at_an_id_board, ABOHNS, HARPER, [HARPER, HARPER]) == HARPER


def test_the_boards_own_activity_maximum_holds_over_the_registered_one() -> None:
    strict = ABOHNS.model_copy(update={"activity_maximums": {"210016865": Decimal(4)}})
    registered = request(credits=Decimal(6), activity_max_credits=Decimal(8))
    assert [code for code, _ in judged(registered, HARPER, strict)] == ["674"]
    assert judged(registered, HARPER, ABOHNS) == []
