"""Activity registration rules: plain functions over a registration and the board catalogue."""

from datetime import date
from decimal import Decimal

import pytest

from shared.boards import BoardOverride, apply_overrides, shipped_boards
from shared.world import Activity
from validation.activity_registration import ActivityRegistration, Problem, check_activity

PROVIDER = "0008001"

# CONTRACT.md section 2's example activity.
EXAMPLE = {
    "id": "210016865", "provider_id": "0008001", "title": "Testing adding learners via manual entry",
    "format": "Live Course", "internal_id": "manuallyaddinglearnersDE01",
    "start_date": "2021-10-15", "end_date": "2021-11-15", "credit_claim_date": "2021-12-31",
    "cme_credits": 8, "moc_credits": 8,
    "moc": {"ABOHNS": ["Self-Assessment", "Patient Safety"]}, "rems": [],
}

_DROP = object()  # a change that removes the field


def _check(boards=None, **changes):
    body = {**EXAMPLE, **changes}
    for key in [k for k, v in changes.items() if v is _DROP]:
        del body[key]
    reg = ActivityRegistration.model_validate(body)
    return check_activity(reg, PROVIDER, boards if boards is not None else shipped_boards())


FAILING = [
    # (case, changes, field, part of the reason)
    ("id missing", {"id": _DROP}, "id", "required"),
    ("id blank", {"id": "  "}, "id", "required"),
    ("id too short", {"id": "21001686"}, "id", "exactly 9 digits"),
    ("id not digits", {"id": "21001686X"}, "id", "'21001686X'"),
    ("id unicode digits", {"id": "２１００１６８６５"}, "id", "exactly 9 digits"),
    ("other provider", {"provider_id": "0008002"}, "provider_id", "'0008002' is not yours"),
    ("title missing", {"title": _DROP}, "title", "title is required"),
    ("title blank", {"title": " "}, "title", "title is required"),
    ("start missing", {"start_date": _DROP}, "start_date", "start_date is required"),
    ("start not ISO", {"start_date": "10/15/2021"}, "start_date", "'10/15/2021' is not an ISO date"),
    ("end missing", {"end_date": None}, "end_date", "end_date is required"),
    ("end not a date", {"end_date": "2021-02-30"}, "end_date", "not an ISO date"),
    ("end before start", {"end_date": "2021-10-14"}, "end_date", "2021-10-14 is before start_date 2021-10-15"),
    ("claim not ISO", {"credit_claim_date": "soon"}, "credit_claim_date", "'soon' is not an ISO date"),
    ("claim before end", {"credit_claim_date": "2021-11-14"}, "credit_claim_date",
     "2021-11-14 is before end_date 2021-11-15"),
    ("no credits", {"cme_credits": None, "moc_credits": None, "moc": {}}, "cme_credits",
     "at least one of cme_credits or moc_credits"),
    ("cme zero", {"cme_credits": 0}, "cme_credits", "must be more than 0"),
    ("cme negative", {"cme_credits": "-1"}, "cme_credits", "must be more than 0"),
    ("cme not a step", {"cme_credits": 8.1}, "cme_credits", "8.1 is not a multiple of 0.25"),
    ("cme not a number", {"cme_credits": "eight"}, "cme_credits", "'eight' is not a number"),
    ("cme NaN", {"cme_credits": "NaN"}, "cme_credits", "not a number"),
    ("cme boolean", {"cme_credits": True}, "cme_credits", "not a number"),
    ("cme absurd", {"cme_credits": 1000.25}, "cme_credits", "too large"),
    ("moc not a step", {"moc_credits": "2.3"}, "moc_credits", "2.3 is not a multiple of 0.25"),
    ("moc boards without moc_credits", {"moc_credits": None}, "moc_credits", "moc_credits is required"),
    ("moc_credits without boards", {"moc": {}}, "moc", "moc names no board"),
    ("unknown board", {"moc": {"ABXYZ": ["Lifelong Learning"]}}, "moc.ABXYZ", "not a known certifying board"),
    ("state board under moc", {"moc": {"LA": ["CME"]}}, "moc.LA", "state licensing board, not an MOC board"),
    ("REMS under moc", {"moc": {"OPIOID": ["REMS"]}}, "moc.OPIOID", "REMS program, not an MOC board"),
    ("board twice", {"moc": {"ABO": ["Lifelong Learning"], "abo": ["Self-Assessment"]}}, "moc.ABO",
     "listed more than once"),
    ("blank board code", {"moc": {" ": ["Lifelong Learning"]}}, "moc", "blank board code"),
    ("no credit types", {"moc": {"ABOHNS": []}}, "moc.ABOHNS.credit_types", "lists no credit type"),
    ("unknown credit type", {"moc": {"ABOHNS": ["Medical Knowledge"]}}, "moc.ABOHNS.credit_types",
     "'Medical Knowledge' is not one that ABOHNS accepts"),
    ("blank credit type", {"moc": {"ABOHNS": [""]}}, "moc.ABOHNS.credit_types", "is blank"),
    ("credit type twice after resolution", {"moc": {"ABO": ["ABO MOC Part II", "lifelong learning"]}},
     "moc.ABO.credit_types", "'Lifelong Learning' of ABO is listed more than once"),
    ("ABO IMP with Patient Safety", {"moc": {"ABO": ["Improvement in Medical Practice", "Patient Safety"]}},
     "moc.ABO.credit_types", "cannot offer both 'Improvement in Medical Practice' and 'Patient Safety'"),
    ("ABO Part IV alias with Patient Safety", {"moc": {"ABO": ["ABO MOC Part IV", "patient safety"]}},
     "moc.ABO.credit_types", "cannot offer both"),
    ("ABPMR before 2025", {"moc": {"ABPMR": ["Lifelong Learning"]}}, "moc.ABPMR",
     "starting 2025-01-01 or later; this one starts 2021-10-15"),
    ("ABPATH Self-Assessment (not in the catalogue)", {"moc": {"ABPATH": ["Self-Assessment"]}},
     "moc.ABPATH.credit_types", "discontinued Self-Assessment from 2021-01-01"),
    ("unknown REMS", {"rems": ["CLOZAPINE"]}, "rems.CLOZAPINE", "not a known REMS program"),
    ("MOC board under rems", {"rems": ["ABO"]}, "rems.ABO", "an MOC board, not a REMS program"),
    ("REMS twice", {"rems": ["OPIOID", "opioid"]}, "rems.OPIOID", "listed more than once"),
]


@pytest.mark.parametrize(("changes", "field", "reason"), [c[1:] for c in FAILING], ids=[c[0] for c in FAILING])
def test_each_rule_reports_its_problem(changes, field, reason):
    activity, problems = _check(**changes)
    assert activity is None
    assert any(p.field == field and reason in p.reason for p in problems), problems


def test_abpmr_from_2025_passes():
    activity, problems = _check(start_date="2025-01-01", end_date="2025-02-01", credit_claim_date=None,
                                moc={"abpmr": ["lifelong learning"]})
    assert problems == []
    assert activity.moc == {"ABPMR": ["Lifelong Learning"]}


def test_abpath_self_assessment_added_back_is_allowed_only_before_2021():
    boards = apply_overrides([BoardOverride(code="ABPATH", credit_types=[
        "Lifelong Learning", "Improvement in Medical Practice", "Self-Assessment"])])
    moc = {"ABPATH": ["Self-Assessment"]}
    activity, problems = _check(boards, moc=moc, start_date="2020-06-01", end_date="2020-07-01",
                                credit_claim_date=None)
    assert problems == [] and activity.moc == moc
    activity, problems = _check(boards, moc=moc)
    assert activity is None
    assert [p.field for p in problems] == ["moc.ABPATH.credit_types"]
    assert "discontinued 'Self-Assessment' for activities starting 2021-01-01 or later" in problems[0].reason


def test_every_problem_is_reported_in_field_order():
    _, problems = _check(id="1", provider_id="0000001", title="", start_date="2021-12-01", end_date="2021-11-01",
                         credit_claim_date="2021-10-01", cme_credits="0.1", moc_credits=None,
                         moc={"NOPE": ["x"], "ABO": ["Patient Safety", "Improvement in Medical Practice"]},
                         rems=["NOPE"])
    assert [p.field for p in problems] == [
        "id", "provider_id", "title", "end_date", "credit_claim_date", "cme_credits", "moc_credits",
        "moc.NOPE", "moc.ABO.credit_types", "rems.NOPE"]
    assert all(isinstance(p, Problem) and p.reason.endswith(".") for p in problems)


def test_contract_example_passes():
    activity, problems = _check()
    assert problems == []
    assert activity == Activity.model_validate(EXAMPLE)


def test_abo_part_ii_resolves_to_lifelong_learning():
    activity, problems = _check(moc={"abo": ["ABO MOC Part II", "self-assessment"]})
    assert problems == []
    assert activity.moc == {"ABO": ["Lifelong Learning", "Self-Assessment"]}


def test_provider_filled_in_and_lenient_values_normalised():
    activity, problems = _check(provider_id=_DROP, id=" 210016865 ", cme_credits="7.75", moc_credits=2.5,
                                credit_claim_date=None, format=None, internal_id=None,
                                start_date=date(2021, 10, 15), rems=["opioid", "Mycophenolate"])
    assert problems == []
    assert activity.provider_id == PROVIDER
    assert activity.id == "210016865"
    assert activity.format == "Live Course"
    assert activity.start_date == date(2021, 10, 15)
    assert (activity.cme_credits, activity.moc_credits) == (Decimal("7.75"), Decimal("2.5"))
    assert activity.credit_claim_date is None and activity.internal_id is None
    assert activity.rems == ["OPIOID", "MYCOPHENOLATE"]


@pytest.mark.parametrize("changes", [
    {"cme_credits": None},  # MOC only
    {"moc_credits": None, "moc": {}},  # CME only
    {"cme_credits": 0.25, "moc_credits": 1000},  # the bounds
    {"credit_claim_date": "2021-11-15"},  # claim on the end date
    {"end_date": "2021-10-15", "credit_claim_date": None},  # one-day activity
    {"cme_credits": 2, "moc_credits": 20},  # no rule between CME and MOC credits
])
def test_passing_variants(changes):
    activity, problems = _check(**changes)
    assert problems == [] and isinstance(activity, Activity)


def test_lenient_model_takes_odd_types_without_raising():
    reg = ActivityRegistration.model_validate({"id": 210016865, "cme_credits": "x", "start_date": "y", "moc": None})
    activity, problems = check_activity(reg, PROVIDER, shipped_boards())
    assert activity is None
    assert [p.field for p in problems] == ["title", "start_date", "end_date", "cme_credits"]
