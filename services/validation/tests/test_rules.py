"""PARS rules and the decision a checked record leads to: plain functions, no Kafka, no PostgreSQL."""

from dataclasses import replace
from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest

from shared.boards import shipped_boards
from shared.dates import parse_completion_date
from shared.events import (
    DeleteSubmitted,
    LearnerRecord,
    RecordAccepted,
    RecordDeleted,
    RecordRejectedByPars,
    RecordSubmitted,
    ReportedRecord,
    SubmitRecord,
    Target,
)
from shared.world import Activity
from validation import rules
from validation.decide import decide
from validation.rules import Context, check

PROVIDER = "0008001"
ACTIVITY_ID = "210016865"
TODAY = date(2022, 1, 10)

# Copied from shared/pars/error-codes.tsv on purpose: a changed message must fail here.
MESSAGES = {
    "601": "Learner record action was not specified.",
    "602": "Learner record action is not valid.",
    "603": "Duplicate record (Credit ID was same as a previous record).",
    "605": "Record not found. Delete action has unknown credit ID.",
    "621": "Missing diplomate ID.",
    "622": "Missing diplomate first name.",
    "623": "Missing diplomate last name.",
    "624": "Missing diplomate date of birth",
    "630": "Missing ACCME activity ID.",
    "631": "Missing activity completion date.",
    "632": "Missing MOC points.",
    "670": "Activity ID does not match with a registered MOC activity.",
    "671": "Activity completion date not valid",
    "673": "MOC points not valid.",
    "675": "MOC points not in increment of .25",
    "690": "ACCME activity ID does not exist",
    "713": "Activity registration type is not valid.",
}


def activity(**changes: object) -> Activity:
    fields: dict[str, object] = {
        "id": ACTIVITY_ID, "provider_id": PROVIDER, "title": "Testing adding learners via manual entry",
        "start_date": date(2021, 10, 15), "end_date": date(2021, 11, 15), "credit_claim_date": date(2021, 12, 31),
        "cme_credits": Decimal(8), "moc_credits": Decimal(6),
        "moc": {"ABOHNS": ["Self-Assessment", "Patient Safety"], "ABA": ["Patient Safety"],
                "ABP": ["Lifelong Learning"], "ABS": ["Self-Assessment"]},
    }
    return Activity(**(fields | changes))


def record(**changes: object) -> ReportedRecord:
    fields: dict[str, object] = {
        "record_id": uuid4(), "submission_id": uuid4(), "provider_id": PROVIDER, "action": "Add",
        "credit_id": "ccid-1", "activity_id": ACTIVITY_ID, "first_name": "Harper", "last_name": "Benton",
        "dob": "11/11", "completion_date": "2021-11-02", "target": Target(kind="moc", code="ABOHNS"),
        "learner_id": "19927", "credits": "6", "credit_types": {"Self-Assessment": "6"},
    }
    return ReportedRecord(**(fields | changes))


def context(code: str = "ABOHNS", **changes: object) -> Context:
    """The Context of a valid record for board `code`; `changes` replace its fields (board=None for none)."""
    return replace(Context(activity=activity(), board=shipped_boards()[code], today=TODAY), **changes)


def live_record(**changes: object) -> LearnerRecord:
    fields: dict[str, object] = {
        "record_id": uuid4(), "submission_id": uuid4(), "provider_id": PROVIDER, "credit_id": "ccid-1",
        "activity_id": ACTIVITY_ID, "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
        "completion_date": date(2021, 11, 2), "target": Target(kind="moc", code="ABOHNS"), "learner_id": "19927",
        "credits": Decimal(6),
    }
    return LearnerRecord(**(fields | changes))


def codes(record_: ReportedRecord, ctx: Context) -> list[tuple[str, str]]:
    return [(e.code, e.message) for e in check(record_, ctx)]


def submit(record_: ReportedRecord) -> SubmitRecord:
    return SubmitRecord(record=record_, correlation_id="corr-1", provider_id=record_.provider_id,
                        record_id=record_.record_id, submission_id=record_.submission_id)


# check ----------------------------------------------------------------------------------------------


def test_a_valid_record_raises_nothing() -> None:
    assert check(record(), context()) == []


@pytest.mark.parametrize(
    ("code", "record_changes", "context_changes"),
    [
        ("601", {"action": None}, {}),
        ("601", {"action": "   "}, {}),
        ("602", {"action": "Modify"}, {}),
        ("602", {"action": "Add Delete"}, {}),
        ("603", {}, {"live": "live"}),
        ("605", {"action": "Delete"}, {}),
        ("621", {"learner_id": None}, {}),
        ("621", {"learner_id": "  "}, {}),
        ("622", {"first_name": None}, {}),
        ("622", {"first_name": ""}, {}),
        ("623", {"last_name": None}, {}),
        ("623", {"last_name": " "}, {}),
        ("624", {"dob": None}, {}),
        ("624", {"dob": ""}, {}),
        ("630", {"activity_id": None}, {}),
        ("630", {"activity_id": "  "}, {}),
        ("631", {"completion_date": None}, {}),
        ("631", {"completion_date": ""}, {}),
        ("632", {"credits": None}, {}),
        ("632", {"credits": " "}, {}),
        ("670", {}, {"activity": "no-abohns"}),
        ("671", {"completion_date": "2021-02-30"}, {}),
        ("671", {"completion_date": "13/01/2021"}, {}),
        ("671", {"completion_date": "Nov 2, 2021"}, {}),
        ("671", {"completion_date": "2022-01-11"}, {}),  # the day after TODAY
        ("673", {"credits": "abc"}, {}),
        ("673", {"credits": "-1"}, {}),
        ("673", {"credits": "-0.25"}, {}),
        ("673", {"credits": "NaN"}, {}),
        ("673", {"credits": "Infinity"}, {}),
        ("673", {"credits": "1,5"}, {}),
        ("675", {"credits": "0.3"}, {}),
        ("675", {"credits": "5.1"}, {}),
        ("690", {}, {"activity": None}),
        ("713", {}, {"board": None}),
        ("713", {"target": Target(kind="state", code="ABOHNS")}, {}),  # a MOC board named as a state
    ],
)
def test_each_failing_rule_raises_its_code_with_the_pars_message(
    code: str, record_changes: dict[str, object], context_changes: dict[str, object]
) -> None:
    resolved: dict[str, object] = {}
    for name, value in context_changes.items():
        if value == "live":
            value = live_record()
        elif value == "no-abohns":
            value = activity(moc={"ABA": ["Patient Safety"]})
        resolved[name] = value
    assert codes(record(**record_changes), context(**resolved)) == [(code, MESSAGES[code])]


def test_713_when_the_board_is_of_another_kind_than_the_target() -> None:
    # A REMS target resolved to a state board's entry is not a registration PARS knows.
    assert codes(record(target=Target(kind="rems", code="CA")), context("CA")) == [("713", MESSAGES["713"])]
    # A MOC target named after a state is not a registered MOC board of the activity either.
    assert [e.code for e in check(record(target=Target(kind="moc", code="CA")), context("CA"))] == ["670", "713"]


def test_several_failures_are_reported_together_in_code_order() -> None:
    bad = record(learner_id=None, last_name="", dob=None, credits="abc", completion_date="2099-01-01")
    assert codes(bad, context(activity=None)) == [
        (c, MESSAGES[c]) for c in ("621", "623", "624", "671", "673", "690")
    ]


def test_a_record_missing_everything_reports_every_missing_field() -> None:
    empty = record(learner_id=None, first_name=None, last_name=None, dob=None, activity_id=None,
                   completion_date=None, credits=None)
    assert [e.code for e in check(empty, context())] == ["621", "622", "623", "624", "630", "631", "632"]


@pytest.mark.parametrize("action", ["Add", "add", "ADD", " Add "])
def test_add_is_case_insensitive(action: str) -> None:
    assert check(record(action=action), context()) == []


@pytest.mark.parametrize("action", ["Delete", "delete", " DELETE "])
def test_delete_runs_only_the_delete_rules(action: str) -> None:
    # A Delete names a live record by credit ID; missing learner fields do not matter.
    sparse = record(action=action, first_name=None, last_name=None, dob=None, credits=None, learner_id=None)
    assert check(sparse, context(live=live_record())) == []
    assert codes(sparse, context()) == [("605", MESSAGES["605"])]


@pytest.mark.parametrize(("board", "requires_dob"), [("ABA", False), ("ABP", False), ("ABOHNS", True)])
def test_dob_is_required_only_where_the_board_requires_it(board: str, requires_dob: bool) -> None:
    assert shipped_boards()[board].requires_dob is requires_dob
    no_dob = record(dob=None, target=Target(kind="moc", code=board))
    expected = [("624", MESSAGES["624"])] if requires_dob else []
    assert codes(no_dob, context(board)) == expected


@pytest.mark.parametrize(("board", "requires_board_id"), [("ABS", False), ("ABOHNS", True)])
def test_board_id_is_required_only_where_the_board_requires_it(board: str, requires_board_id: bool) -> None:
    assert shipped_boards()[board].requires_board_id is requires_board_id
    no_id = record(learner_id=None, target=Target(kind="moc", code=board))
    expected = [("621", MESSAGES["621"])] if requires_board_id else []
    assert codes(no_id, context(board)) == expected


def test_an_unknown_board_requires_both_board_id_and_dob() -> None:
    bare = record(learner_id=None, dob=None)
    assert [e.code for e in check(bare, context(board=None))] == ["621", "624", "713"]


@pytest.mark.parametrize("completed", ["2022-01-10", "2022-01-09", "2021-11-02"])
def test_a_completion_today_or_earlier_is_valid(completed: str) -> None:
    open_window = activity(end_date=date(2022, 3, 1), credit_claim_date=date(2022, 3, 1))
    assert check(record(completion_date=completed), context(activity=open_window)) == []


@pytest.mark.parametrize(
    ("completed", "kind", "expected"),
    [("2021-10-14", "moc", ["672"]), ("2021-10-15", "moc", []), ("2021-11-15", "moc", []),
     ("2021-12-31", "moc", []), ("2022-01-01", "moc", ["671"]), ("2021-11-16", "state", ["671"])],
)
def test_the_completion_date_must_fall_in_the_activity_window(completed: str, kind: str, expected: list) -> None:
    # The activity runs 2021-10-15 .. 2021-11-15; MOC credit may be claimed until 2021-12-31.
    target = Target(kind=kind, code="ABOHNS" if kind == "moc" else "CA")
    board = shipped_boards()[target.code]
    found = rules.completion_date_valid(record(completion_date=completed, target=target),
                                        context(board=board, today=date(2022, 7, 1)))
    assert found == expected


@pytest.mark.parametrize("credits", ["0", "0.25", "0.5", "6", "6.75", " 6.00 ", "1e1"])
def test_credits_in_quarter_points_are_valid(credits: str) -> None:
    assert rules.credits_valid(record(credits=credits), context()) == []


def test_a_state_target_is_not_checked_against_moc_registrations() -> None:
    cme = record(target=Target(kind="state", code="CA"), learner_id="A12345")
    assert check(cme, context("CA", activity=activity(moc={}))) == []


# individual rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "record_changes", "context_changes", "expected"),
    [
        (rules.record_action, {}, {}, []),
        (rules.record_action, {"action": None}, {}, ["601"]),
        (rules.record_action, {"action": "Update"}, {}, ["602"]),
        (rules.credit_id_state, {}, {}, []),
        (rules.credit_id_state, {"action": "Delete"}, {}, ["605"]),
        (rules.required_fields, {}, {}, []),
        (rules.required_fields, {"first_name": None, "credits": None}, {}, ["622", "632"]),
        (rules.board_known, {}, {}, []),
        (rules.board_known, {}, {"board": None}, ["713"]),
        (rules.activity_known, {}, {}, []),
        (rules.activity_known, {"activity_id": None}, {"activity": None}, []),  # 630 says it already
        (rules.activity_known, {}, {"activity": None}, ["690"]),
        (rules.completion_date_valid, {}, {}, []),
        (rules.completion_date_valid, {"completion_date": None}, {}, []),  # 631 says it already
        (rules.completion_date_valid, {"completion_date": "2030-01-01"}, {}, ["671"]),
        (rules.credits_valid, {}, {}, []),
        (rules.credits_valid, {"credits": None}, {}, []),  # 632 says it already
        (rules.credits_valid, {"credits": "x"}, {}, ["673"]),
        (rules.credits_valid, {"credits": "0.1"}, {}, ["675"]),
    ],
)
def test_rule(rule: rules.Rule, record_changes: dict[str, object], context_changes: dict[str, object],
              expected: list[str]) -> None:
    assert rule(record(**record_changes), context(**context_changes)) == expected


def test_credit_id_state_raises_603_for_an_add_over_a_live_record() -> None:
    assert rules.credit_id_state(record(), context(live=live_record())) == ["603"]
    assert rules.credit_id_state(record(action="Delete"), context(live=live_record())) == []


def test_activity_known_raises_670_for_a_board_the_activity_is_not_registered_with() -> None:
    assert rules.activity_known(record(), context(activity=activity(moc={}))) == ["670"]


# dates ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-11-02", date(2021, 11, 2)),
        (" 2021-11-02 ", date(2021, 11, 2)),
        ("11/2/2021", date(2021, 11, 2)),
        ("1/5/2021", date(2021, 1, 5)),
        ("11/02/2021", date(2021, 11, 2)),
        ("11/02/21", date(2021, 11, 2)),
        ("01/05/99", date(1999, 1, 5)),
        ("2021-02-30", None),
        ("13/01/2021", None),
        ("2021/11/02", None),
        ("02.11.2021", None),
        ("", None),
        ("yesterday", None),
    ],
)
def test_parse_completion_date(text: str, expected: date | None) -> None:
    assert parse_completion_date(text) == expected


@pytest.mark.parametrize("completed", ["2021-11-02", "11/2/2021", "11/02/21"])
def test_each_date_form_passes_the_rules(completed: str) -> None:
    assert check(record(completion_date=completed), context()) == []


# decide -------------------------------------------------------------------------------------------------


def test_decide_rejects_with_the_errors_and_keeps_nothing() -> None:
    bad = record(first_name=None, credits="0.3")
    decision = decide(submit(bad), context())
    assert decision.keep is None and decision.release is None
    [event] = decision.events
    assert isinstance(event, RecordRejectedByPars)
    assert [(e.code, e.message) for e in event.errors] == [("622", MESSAGES["622"]), ("675", MESSAGES["675"])]
    assert event.record == bad
    assert event.record_id == bad.record_id
    assert (event.correlation_id, event.provider_id, event.submission_id) == ("corr-1", PROVIDER, bad.submission_id)


def test_decide_submits_a_moc_record_for_the_board() -> None:
    good = record(first_name=" Harper ", activity_id=f" {ACTIVITY_ID} ", credits=" 6 ", completion_date="11/2/2021",
                  credit_types={"Self-Assessment": "5", "Patient Safety": "1"})
    decision = decide(submit(good), context())
    [event] = decision.events
    assert isinstance(event, RecordSubmitted)
    assert event.needs_board is True
    assert event.record_id == good.record_id
    assert (event.correlation_id, event.provider_id, event.submission_id) == ("corr-1", PROVIDER, good.submission_id)
    kept = event.record
    assert decision.keep == kept and decision.release is None
    assert kept.record_id == good.record_id
    assert kept.credit_id == "ccid-1"
    assert kept.activity_id == ACTIVITY_ID
    assert kept.first_name == "Harper"
    assert kept.completion_date == date(2021, 11, 2)
    assert kept.credits == Decimal(6)
    assert kept.credit_types == {"Self-Assessment": Decimal(5), "Patient Safety": Decimal(1)}
    assert kept.activity_max_credits == Decimal(6)  # the activity's MOC maximum
    assert kept.target == Target(kind="moc", code="ABOHNS")
    assert kept.learner_id == "19927"


def test_decide_accepts_a_state_record_at_once() -> None:
    cme = record(target=Target(kind="state", code="CA"), learner_id="A12345", credits="8", credit_types={})
    decision = decide(submit(cme), context("CA"))
    submitted, accepted = decision.events
    assert isinstance(submitted, RecordSubmitted) and submitted.needs_board is False
    assert isinstance(accepted, RecordAccepted)
    assert accepted.record_id == cme.record_id
    assert accepted.target == Target(kind="state", code="CA")
    assert accepted.response_id is None
    assert accepted.correlation_id == "corr-1"
    assert decision.keep == submitted.record
    assert decision.keep is not None and decision.keep.activity_max_credits == Decimal(8)  # the CME maximum


def test_decide_without_a_credit_id_keeps_the_record_id_as_credit_id() -> None:
    bare = record(credit_id=None)
    decision = decide(submit(bare), context())
    assert decision.keep is not None and decision.keep.credit_id == str(bare.record_id)


def test_decide_submits_a_delete_of_the_live_record() -> None:
    live = live_record()
    delete = record(action="Delete")
    decision = decide(submit(delete), context(live=live))
    [event] = decision.events
    assert isinstance(event, DeleteSubmitted)
    assert event.record_id == live.record_id != delete.record_id
    assert event.target == live.target
    assert decision.release == live and decision.keep is None


def test_decide_deletes_a_state_record_without_a_board() -> None:
    live = live_record(target=Target(kind="state", code="CA"))
    delete = record(action="Delete", target=Target(kind="state", code="CA"))
    decision = decide(submit(delete), context("CA", live=live))
    [event] = decision.events
    assert isinstance(event, RecordDeleted)
    assert event.record_id == live.record_id
    assert decision.release == live


def test_decide_rejects_a_delete_without_a_live_record_with_605() -> None:
    decision = decide(submit(record(action="Delete")), context())
    [event] = decision.events
    assert isinstance(event, RecordRejectedByPars)
    assert [(e.code, e.message) for e in event.errors] == [("605", MESSAGES["605"])]
    assert decision.keep is None and decision.release is None


def test_decide_rejects_an_add_over_a_live_record_with_603() -> None:
    decision = decide(submit(record()), context(live=live_record()))
    [event] = decision.events
    assert isinstance(event, RecordRejectedByPars)
    assert [(e.code, e.message) for e in event.errors] == [("603", MESSAGES["603"])]
    assert decision.keep is None


# found in review, fixed -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "abc"])
def test_a_bad_credit_type_value_is_rejected_not_a_crash(value: str) -> None:
    bad = record(credit_types={"Self-Assessment": value})
    decision = decide(submit(bad), context())
    assert isinstance(decision.events[0], RecordRejectedByPars)


@pytest.mark.parametrize("credit_id", [" c1 ", None])
def test_a_kept_record_is_stored_under_the_key_it_is_looked_up_by(credit_id: str | None) -> None:
    from validation.handlers import live_key

    r = record(credit_id=credit_id)
    kept = decide(submit(r), context()).keep
    assert kept is not None
    assert live_key(r) == (kept.provider_id, kept.credit_id, kept.target.code)



def test_a_completion_after_the_activity_window_raises_671() -> None:
    late = record(completion_date="2022-06-01")  # activity ended 2021-11-15, credit claimed until 2021-12-31
    assert codes(late, context(today=date(2022, 7, 1))) == [("671", MESSAGES["671"])]
