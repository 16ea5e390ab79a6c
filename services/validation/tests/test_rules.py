"""PARS rules and the decision a checked record leads to: plain functions, no Kafka, no PostgreSQL."""

import copy
import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from shared.boards import shipped_boards
from shared.codes import catalogue
from shared.dates import parse_completion_date
from shared.events import (
    CreditTypeClaim,
    DeleteSubmitted,
    LearnerRecord,
    RecordAccepted,
    RecordDeleted,
    RecordRejectedByPars,
    RecordSubmitted,
    RemsFields,
    ReportedRecord,
    SubmitRecord,
    Target,
)
from shared.world import Activity
from validation.decide import decide, kept_record, unexpected_failure
from validation.lookups import live_key
from validation.matching import DirectoryEntry, MatchResult
from validation.rules import ADD_RULES, DELETE_RULES, Context, RosterEntry, check, credit_key, is_delete
from validation.rules.activity import (
    activity_present,
    activity_registered,
    completion_date_valid,
    delete_deadline,
    reporting_deadline,
)
from validation.rules.credits import (
    credit_type,
    credit_type_names,
    credit_types_valid,
    credits_valid,
    credits_within_maximum,
)
from validation.rules.learner import (
    directory_match,
    identity_present,
    learner_id_type_valid,
    needs_directory_match,
    realtime_roster,
)
from validation.rules.record import (
    credit_id_present,
    credit_id_state,
    delete_allowed_now,
    delete_matches_original,
    record_action,
    target_known,
)
from validation.rules.rems import rems_fields
from validation.submissions import UnreadableSubmission, decode_submission

PROVIDER = "0008001"
ACTIVITY_ID = "210016865"
TODAY = date(2022, 1, 10)
IN_YEAR = date(2021, 12, 20)  # a day a record completed in 2021 can still be deleted

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
    "650": "Missing ACCME credit ID.",
    "661": "Diplomate ID not found in Board records.",
    "664": "Diplomate date of birth does not match Board record for this diplomate ID.",
    "665": "Diplomate name does not batch Board record.",
    "670": "Activity ID does not match with a registered MOC activity.",
    "671": "Activity completion date not valid",
    "672": "Activity completion date proceeds activity start date.",
    "673": "MOC points not valid.",
    "674": "MOC points awarded are greater than amount listed for activity.",
    "675": "MOC points not in increment of .25",
    "676": "Invalid activityCertification value.",
    "677": "Missing creditCertificate element.",
    "678": "Invalid activity credit certificate. Activity certificate [Activity Certificate Name] allowed once per "
           "learner submission record.",
    "680": "Patient safety credit not available for activity.",
    "681": "Practice assessment credit not available for activity",
    "690": "ACCME activity ID does not exist",
    "705": "Due date for reporting participant data has passed. PARS will not accept participant records after the "
           "deadline set by the specialty board for the reporting year.",
    "706": "Deadline for deleting participant data has passed. PARS will not accept deletions of participant records "
           "past the date set by the specialty board.",
    "712": "Learner ID type is not valid.",
    "713": "Activity registration type is not valid.",
    "718": "Unable to match a learner with the information provided",
    "998": "General learner record processing error.",
    "999": "General learner record processing error.",
}


def duplicate_certificate(name: str) -> tuple[str, str]:
    """678 with its bracketed certificate name filled in."""
    return "678", MESSAGES["678"].replace("[Activity Certificate Name]", name)


# the world the records are checked against -----------------------------------------------------------------


def activity(**changes: object) -> Activity:
    fields: dict[str, object] = {
        "id": ACTIVITY_ID, "provider_id": PROVIDER, "title": "Testing adding learners via manual entry",
        "start_date": date(2021, 10, 15), "end_date": date(2021, 11, 15), "credit_claim_date": date(2021, 12, 31),
        "cme_credits": Decimal(8), "moc_credits": Decimal(6),
        "moc": {"ABOHNS": ["Self-Assessment", "Patient Safety"], "ABA": ["Patient Safety"],
                "ABP": ["Lifelong Learning"], "ABS": ["Self-Assessment"],
                "ABPATH": ["Lifelong Learning", "Improvement in Medical Practice"],
                "ABIM": ["Medical Knowledge"]},
        "rems": ["OPIOID"],
    }
    return Activity(**(fields | changes))


HARPER = DirectoryEntry(
    first_name="Harper", last_name="Benton", dob="11/11", npi="1234567893",
    medical_school="Tulane University School of Medicine", licenses=(("CA", "A12345"),),
    certifications=(("ABOHNS", "19927"), ("ABS", "S-4242")),
)
MATCHED = MatchResult(matched=True, learner=HARPER, candidates=1, reason="Matched one physician by name.")
NOT_MATCHED = MatchResult(matched=False, learner=None, candidates=2, need=["dob"],
                          reason="2 physicians in the directory match by name; more identifying fields are needed.")
UNKNOWN = MatchResult(matched=False, learner=None, candidates=0, need=["npi"],
                      reason="No physician in the directory matches by name.")
ROSTER = RosterEntry(board_id="19927", first_name="Harper", last_name="Benton", dob="11/11")


def moc(code: str) -> Target:
    return Target(kind="moc", code=code)


STATE = Target(kind="state", code="CA")
REMS = Target(kind="rems", code="OPIOID")


def claim(name: str, points: str | None = None) -> CreditTypeClaim:
    return CreditTypeClaim(name=name, points=points)


# A valid record for each kind of target, and the Context PARS has for it.
VALID_RECORDS: dict[str, dict[str, object]] = {
    "ABOHNS": {},
    "ABA": {"target": moc("ABA"), "dob": None, "credit_types": [claim("Patient Safety")]},  # DOB optional
    "ABIM": {"target": moc("ABIM"), "credit_types": [claim("medical  knowledge")]},  # case and spacing forgiven
    "ABPATH": {"target": moc("ABPATH"), "credit_types": [claim("ABPath MOC Part II")]},  # real-time, an alias
    "ABS": {"target": moc("ABS"), "learner_id": None},  # matched through the directory without a board ID
    "CA": {"target": STATE, "learner_id": "A12345", "learner_id_type": "License", "credits": "8",
           "credit_types": []},
    "OPIOID": {"target": REMS, "learner_id": "L-1", "learner_id_type": "Local ID", "credits": None,
               "credit_types": [], "rems": RemsFields(profession="Physician", time_in_practice="6-10 years")},
}
VALID_CONTEXTS: dict[str, dict[str, object]] = {
    "ABPATH": {"diplomate": ROSTER}, "ABS": {"match": MATCHED}, "CA": {"match": MATCHED},
}
TARGETS = list(VALID_RECORDS)


def record(base: str = "ABOHNS", /, **changes: object) -> ReportedRecord:
    """A valid record for target `base` (a key of VALID_RECORDS); `changes` replace its fields."""
    fields: dict[str, object] = {
        "record_id": uuid4(), "submission_id": uuid4(), "provider_id": PROVIDER, "action": "Add",
        "credit_id": "ccid-1", "activity_id": ACTIVITY_ID, "first_name": "Harper", "last_name": "Benton",
        "dob": "11/11", "completion_date": "2021-11-02", "target": moc("ABOHNS"),
        "learner_id": "19927", "credits": "6", "credit_types": [claim("Self-Assessment", "6")],
    }
    return ReportedRecord(**(fields | VALID_RECORDS[base] | changes))


def context(base: str = "ABOHNS", /, **changes: object) -> Context:
    """The Context of a valid record for target `base`; `changes` replace its fields (board=None for none)."""
    board = shipped_boards()[base]
    fields: dict[str, Any] = VALID_CONTEXTS.get(base, {}) | changes
    return replace(Context(activity=activity(), board=board, today=TODAY), **fields)


def live_record(**changes: object) -> LearnerRecord:
    fields: dict[str, object] = {
        "record_id": uuid4(), "submission_id": uuid4(), "provider_id": PROVIDER, "credit_id": "ccid-1",
        "activity_id": ACTIVITY_ID, "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
        "completion_date": date(2021, 11, 2), "target": moc("ABOHNS"), "learner_id": "19927",
        "credits": Decimal(6), "credit_types": {"Self-Assessment": Decimal(6)},
    }
    return LearnerRecord(**(fields | changes))


def errors(record_: ReportedRecord, ctx: Context) -> list[tuple[str, str]]:
    return [(e.code, e.message) for e in check(record_, ctx)]


def expected_errors(expected: list[str | tuple[str, str]]) -> list[tuple[str, str]]:
    return [item if isinstance(item, tuple) else (item, MESSAGES[item]) for item in expected]


def submit(record_: ReportedRecord) -> SubmitRecord:
    return SubmitRecord(record=record_, correlation_id="corr-1", provider_id=record_.provider_id,
                        record_id=record_.record_id, submission_id=record_.submission_id)


# the message catalogue --------------------------------------------------------------------------------------


def pars_codes() -> set[str]:
    return {code for code, info in catalogue().items() if info.where in ("pars", "both")}


def test_the_copied_messages_are_the_catalogues_pars_codes() -> None:
    assert set(MESSAGES) == pars_codes()
    assert {code: catalogue()[code].message for code in MESSAGES} == MESSAGES


# check: every PARS code fails somewhere ------------------------------------------------------------------

# (target, record changes, Context changes, the errors check() answers: a code or (code, exact message))
FAILING = [
    # record: action, credit ID, target
    pytest.param("ABOHNS", {"action": None}, {}, ["601"], id="601-no-action"),
    pytest.param("ABOHNS", {"action": "   "}, {}, ["601"], id="601-blank-action"),
    pytest.param("ABOHNS", {"action": "Modify"}, {}, ["602"], id="602-modify"),
    pytest.param("ABOHNS", {"action": "Add Delete"}, {}, ["602"], id="602-two-actions"),
    pytest.param("ABOHNS", {}, {"live": live_record()}, ["603"], id="603-add-over-live"),
    pytest.param("CA", {}, {"live": live_record(target=STATE)}, ["603"], id="603-state"),
    pytest.param("ABOHNS", {"action": "Delete"}, {}, ["605"], id="605-delete-unknown"),
    pytest.param("ABOHNS", {"action": "Delete", "first_name": "Harriet"},
                 {"live": live_record(), "today": IN_YEAR}, ["605"],
                 id="605-delete-other-name"),
    pytest.param("ABOHNS", {"action": "Delete", "activity_id": "210016866"},
                 {"live": live_record(), "today": IN_YEAR}, ["605"],
                 id="605-delete-other-activity"),
    pytest.param("ABOHNS", {"action": "Delete", "learner_id": "19928"},
                 {"live": live_record(), "today": IN_YEAR}, ["605"],
                 id="605-delete-other-learner-id"),
    pytest.param("ABOHNS", {"credit_id_required": True, "credit_id": None}, {}, ["650"], id="650-missing"),
    pytest.param("ABOHNS", {"credit_id_required": True, "credit_id": "  "}, {}, ["650"], id="650-blank"),
    pytest.param("ABOHNS", {"action": "Delete", "credit_id_required": True, "credit_id": None},
                 {"live": live_record(), "today": IN_YEAR}, ["650"], id="650-delete"),
    pytest.param("ABOHNS", {}, {"board": None}, ["713"], id="713-unknown-board"),
    pytest.param("ABOHNS", {"target": Target(kind="state", code="ABOHNS")}, {"match": MATCHED}, ["713"],
                 id="713-moc-as-state"),
    pytest.param("OPIOID", {"target": Target(kind="rems", code="CA")}, {"board": shipped_boards()["CA"]},
                 ["670", "713"], id="713-state-as-rems"),  # nor a REMS program of the activity
    pytest.param("ABOHNS", {"registration": "ABIM"}, {}, ["713"], id="713-registration-other-board"),
    pytest.param("CA", {"registration": "NY"}, {}, ["713"], id="713-registration-other-state"),
    # learner: identity, roster, directory
    pytest.param("ABOHNS", {"learner_id": None}, {}, ["621"], id="621-no-board-id"),
    pytest.param("ABOHNS", {"learner_id": "  "}, {}, ["621"], id="621-blank-board-id"),
    pytest.param("CA", {"learner_id": None, "npi": None}, {}, ["621"], id="621-state-no-licence-nor-npi"),
    pytest.param("OPIOID", {"learner_id": None}, {}, ["621"], id="621-rems-no-local-id"),
    pytest.param("ABOHNS", {"first_name": None}, {}, ["622"], id="622-none"),
    pytest.param("ABOHNS", {"first_name": ""}, {}, ["622"], id="622-empty"),
    pytest.param("ABOHNS", {"last_name": None}, {}, ["623"], id="623-none"),
    pytest.param("ABOHNS", {"last_name": " "}, {}, ["623"], id="623-blank"),
    pytest.param("ABOHNS", {"dob": None}, {}, ["624"], id="624-none"),
    pytest.param("ABOHNS", {"dob": ""}, {}, ["624"], id="624-empty"),
    pytest.param("ABPATH", {}, {"diplomate": None}, ["661"], id="661-not-on-roster"),
    pytest.param("ABPATH", {"dob": "12/11"}, {}, ["664"], id="664-dob-differs"),
    pytest.param("ABPATH", {"dob": "11/12"}, {}, ["664"], id="664-day-differs"),
    pytest.param("ABPATH", {"first_name": "Harriet"}, {}, ["665"], id="665-first-name-differs"),
    pytest.param("ABPATH", {"last_name": "Bentley"}, {}, ["665"], id="665-last-name-differs"),
    pytest.param("ABPATH", {"dob": "1/5", "last_name": "Bentley"}, {}, ["664", "665"], id="664-665-both"),
    pytest.param("ABOHNS", {"learner_id_type": "NPI"}, {}, ["712"], id="712-npi-for-moc"),
    pytest.param("ABOHNS", {"learner_id_type": "ABIM"}, {}, ["712"], id="712-other-board"),
    pytest.param("CA", {"learner_id_type": "ABOHNS"}, {}, ["712"], id="712-board-for-state"),
    pytest.param("OPIOID", {"learner_id_type": "NPI"}, {}, ["712"], id="712-npi-for-rems"),
    pytest.param("CA", {}, {"match": NOT_MATCHED}, ["718"], id="718-state-several"),
    pytest.param("CA", {}, {"match": UNKNOWN}, ["718"], id="718-state-none"),
    pytest.param("CA", {}, {"match": None}, ["718"], id="718-state-not-looked-up"),
    pytest.param("ABS", {}, {"match": NOT_MATCHED}, ["718"], id="718-abs-without-id"),
    # activity and completion date
    pytest.param("ABOHNS", {"activity_id": None}, {"activity": None}, ["630"], id="630-none"),
    pytest.param("ABOHNS", {"activity_id": "  "}, {"activity": None}, ["630"], id="630-blank"),
    pytest.param("ABOHNS", {"completion_date": None}, {}, ["631"], id="631-none"),
    pytest.param("ABOHNS", {"completion_date": ""}, {}, ["631"], id="631-empty"),
    pytest.param("ABOHNS", {}, {"activity": activity(moc={"ABA": ["Patient Safety"]})}, ["670"],
                 id="670-not-registered-with-board"),
    pytest.param("CA", {}, {"activity": activity(cme_credits=None)}, ["670"], id="670-no-cme"),
    pytest.param("OPIOID", {}, {"activity": activity(rems=[])}, ["670"], id="670-not-rems"),
    pytest.param("ABOHNS", {"completion_date": "2021-02-30"}, {}, ["671"], id="671-no-such-day"),
    pytest.param("ABOHNS", {"completion_date": "13/01/2021"}, {}, ["671"], id="671-month-13"),
    pytest.param("ABOHNS", {"completion_date": "Nov 2, 2021"}, {}, ["671"], id="671-words"),
    pytest.param("ABOHNS", {"completion_date": "2022-01-11"}, {}, ["671"], id="671-tomorrow"),
    pytest.param("ABOHNS", {"completion_date": "2022-01-01"}, {}, ["671"], id="671-after-claim-date"),
    pytest.param("CA", {"completion_date": "2021-11-16"}, {}, ["671"], id="671-state-after-end"),
    pytest.param("ABOHNS", {"completion_date": "2021-10-14"}, {}, ["672"], id="672-before-start"),
    pytest.param("ABOHNS", {}, {"activity": None}, ["690"], id="690-no-such-activity"),
    pytest.param("ABOHNS", {"completion_date": "2020-05-01"},
                 {"activity": activity(start_date=date(2020, 1, 1), end_date=date(2020, 12, 31),
                                       credit_claim_date=None),
                  "today": date(2021, 4, 1)},
                 ["705"], id="705-past-march-31"),
    pytest.param("ABOHNS", {"action": "Delete"},
                 {"live": live_record(completion_date=date(2020, 11, 2)), "today": date(2021, 1, 5)},
                 ["706"], id="706-delete-last-year"),
    # credits
    pytest.param("ABOHNS", {"credits": None}, {}, ["632"], id="632-none"),
    pytest.param("ABOHNS", {"credits": " "}, {}, ["632"], id="632-blank"),
    pytest.param("CA", {"credits": None}, {}, ["632"], id="632-state"),
    pytest.param("ABOHNS", {"credits": "abc"}, {}, ["673"], id="673-words"),
    pytest.param("ABOHNS", {"credits": "-1"}, {}, ["673"], id="673-negative"),
    pytest.param("ABOHNS", {"credits": "-0.25"}, {}, ["673"], id="673-negative-quarter"),
    pytest.param("ABOHNS", {"credits": "NaN"}, {}, ["673"], id="673-nan"),
    pytest.param("ABOHNS", {"credits": "Infinity"}, {}, ["673"], id="673-infinity"),
    pytest.param("ABOHNS", {"credits": "1,5"}, {}, ["673"], id="673-comma"),
    pytest.param("ABOHNS", {"credits": "1001"}, {}, ["673"], id="673-absurd"),  # not over 6: no number
    pytest.param("ABOHNS", {"credit_types": [claim("Self-Assessment", "abc")]}, {}, ["673"], id="673-type-points"),
    pytest.param("ABOHNS", {"credits": "6.25"}, {}, ["674"], id="674-total-over-moc"),
    pytest.param("ABOHNS", {"credits": "4", "credit_types": [claim("Self-Assessment", "7")]}, {}, ["674"],
                 id="674-type-over-moc"),
    pytest.param("CA", {"credits": "8.25"}, {}, ["674"], id="674-cme-over-cme"),
    pytest.param("ABOHNS", {"credits": "0.3"}, {}, ["675"], id="675-total"),
    pytest.param("ABOHNS", {"credits": "5.1"}, {}, ["675"], id="675-tenth"),
    pytest.param("ABOHNS", {"credit_types": [claim("Self-Assessment", "0.1")]}, {}, ["675"], id="675-type-points"),
    pytest.param("ABOHNS", {"credit_types": [claim("Medical Knowledge")]}, {}, ["676"], id="676-unknown-type"),
    pytest.param("ABIM", {"credit_types": [claim("Improvement in Medical Practice")]}, {}, ["676"],
                 id="676-other-boards-type"),
    pytest.param("ABPATH", {"credit_types": [claim("ABPath MOC Part II")]},
                 {"activity": activity(moc={"ABPATH": ["Improvement in Medical Practice"]})}, ["676"],
                 id="676-type-not-offered"),
    pytest.param("ABOHNS", {"credit_types": []}, {}, ["677"], id="677-no-credit-type"),
    pytest.param("ABS", {"credit_types": []}, {}, ["677"], id="677-abs"),
    pytest.param("ABOHNS", {"credit_types": [claim("Self-Assessment", "3"), claim("Self-Assessment", "3")]}, {},
                 [("678", "Invalid activity credit certificate. Activity certificate Self-Assessment allowed once "
                          "per learner submission record.")], id="678-same-type-twice"),
    pytest.param("ABOHNS", {"credit_types": [claim("Self-Assessment"), claim(" self-assessment ")]}, {},
                 [duplicate_certificate("self-assessment")], id="678-case-forgiven"),
    pytest.param("ABPATH", {"credit_types": [claim("Lifelong Learning"), claim("ABPath MOC Part II")]}, {},
                 [duplicate_certificate("ABPath MOC Part II")], id="678-alias-of-the-same-type"),
    pytest.param("ABOHNS", {"credit_types": [claim("Patient Safety")]},
                 {"activity": activity(moc={"ABOHNS": ["Self-Assessment"]})}, ["680"], id="680-patient-safety"),
    pytest.param("ABIM", {"credit_types": [claim("Patient Safety")]}, {}, ["680"], id="680-abim"),
    pytest.param("ABIM", {"credit_types": [claim("Practice Assessment")]}, {}, ["681"], id="681-practice-assessment"),
    pytest.param("ABIM", {"credit_types": [claim("Practice Assessment", "3"), claim("Patient Safety", "3")]}, {},
                 ["680", "681"], id="680-681-both"),
    # REMS: a record the programs cannot take is PARS's general error
    pytest.param("OPIOID", {"rems": None}, {}, ["998"], id="998-no-rems-fields"),
    pytest.param("OPIOID", {"rems": RemsFields(time_in_practice="6-10 years")}, {}, ["998"], id="998-no-profession"),
    pytest.param("OPIOID", {"rems": RemsFields(profession="Wizard", time_in_practice="6-10 years")}, {}, ["998"],
                 id="998-unknown-profession"),
    pytest.param("OPIOID", {"rems": RemsFields(profession="Physician")}, {}, ["998"], id="998-no-time-in-practice"),
    pytest.param("OPIOID", {"rems": RemsFields(profession="Physician", time_in_practice="forever")}, {}, ["998"],
                 id="998-unknown-time-in-practice"),
    pytest.param("OPIOID", {"rems": RemsFields(profession="Physician", time_in_practice="Trainee",
                                               practice_area="Astrology")}, {}, ["998"],
                 id="998-unknown-practice-area"),
    pytest.param("OPIOID", {"rems": RemsFields(profession="Physician", time_in_practice="Trainee",
                                               dea_registration="Maybe")}, {}, ["998"],
                 id="998-unknown-dea-registration"),
]


@pytest.mark.parametrize(("target", "record_changes", "context_changes", "expected"), FAILING)
def test_each_failing_rule_answers_its_code_with_the_pars_message(
    target: str, record_changes: dict[str, object], context_changes: dict[str, object],
    expected: list[str | tuple[str, str]],
) -> None:
    assert errors(record(target, **record_changes), context(target, **context_changes)) == expected_errors(expected)


def test_every_pars_code_but_999_has_a_failing_case() -> None:
    covered: set[str] = set()
    for case in FAILING:
        codes = case.values[3]  # the expected codes, or (code, message) pairs
        assert isinstance(codes, list), case.id
        covered |= {item if isinstance(item, str) else item[0] for item in codes}
    assert pars_codes() - {"999"} <= covered


# check: what passes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_a_valid_record_raises_nothing(target: str) -> None:
    assert check(record(target), context(target)) == []


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("rule", ADD_RULES, ids=lambda rule: rule.__name__)
def test_each_add_rule_passes_a_valid_record(rule, target: str) -> None:
    assert list(rule(record(target), context(target))) == []


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("rule", DELETE_RULES, ids=lambda rule: rule.__name__)
def test_each_delete_rule_passes_a_delete_of_a_live_record(rule, target: str) -> None:
    valid = record(target)
    live = live_record(target=valid.target, learner_id=valid.learner_id)
    assert list(rule(record(target, action="Delete"), context(target, live=live, today=IN_YEAR))) == []


PASSING = [
    # (target, record changes, Context changes): edge cases check() lets through
    pytest.param("ABOHNS", {"credit_id_required": True}, {}, id="credit-id-given-where-required"),
    pytest.param("ABOHNS", {"credit_id": None}, {}, id="credit-id-optional"),
    pytest.param("ABOHNS", {"registration": " abohns "}, {}, id="registration-of-the-target"),
    pytest.param("CA", {"registration": "CA"}, {}, id="registration-of-the-state"),
    pytest.param("ABOHNS", {"learner_id_type": "abohns"}, {}, id="learner-id-type-of-the-board"),
    pytest.param("CA", {"learner_id_type": "NPI", "learner_id": None, "npi": "1234567893"}, {},
                 id="state-by-npi"),
    pytest.param("CA", {"learner_id_type": "state  licence"}, {}, id="state-licence-spelling"),
    pytest.param("ABA", {"credit_types": [claim("MOCA")]},
                 {"activity": activity(moc={"ABA": ["MOCA (Lifelong Learning)"]})}, id="aba-alias"),
    pytest.param("ABS", {"learner_id": "S-4242"}, {"match": None}, id="abs-with-board-id-needs-no-match"),
    pytest.param("ABPATH", {"dob": "1/5"}, {"diplomate": replace(ROSTER, dob="01/05")}, id="roster-dob-forms"),
    pytest.param("ABPATH", {"first_name": "HARPER", "last_name": " benton"}, {}, id="roster-name-forgiven"),
    pytest.param("ABPATH", {}, {"diplomate": replace(ROSTER, dob=None)}, id="roster-without-dob"),
    pytest.param("ABPATH", {"credit_types": [claim("ABPath MOC Part II", "2"), claim("ABPath MOC Part IV", "4")]},
                 {}, id="two-aliases"),
    pytest.param("ABOHNS", {"credits": "6", "credit_types": [claim("Self-Assessment", "6"),
                                                             claim("Patient Safety", "6")]}, {},
                 id="each-type-up-to-the-maximum"),
    pytest.param("ABOHNS", {"completion_date": "2021-12-31"}, {}, id="moc-until-the-claim-date"),
    pytest.param("ABOHNS", {"completion_date": "2020-05-01"},
                 {"activity": activity(start_date=date(2020, 1, 1), end_date=date(2020, 12, 31),
                                       credit_claim_date=None), "today": date(2021, 3, 31)},
                 id="last-year-until-march-31"),
    pytest.param("ABOHNS", {"action": "Delete"}, {"live": live_record(completion_date=date(2020, 11, 2)),
                                                  "today": date(2020, 12, 31)}, id="delete-until-december-31"),
    pytest.param("ABOHNS", {"action": "Delete", "first_name": " harper ", "learner_id": " 19927 "},
                 {"live": live_record(), "today": IN_YEAR}, id="delete-with-matching-fields"),
    pytest.param("OPIOID", {"rems": RemsFields(profession=" physician ", time_in_practice="21+ YEARS",
                                               practice_area="Pain", dea_registration="None")}, {},
                 id="rems-fields-forgiven"),
    pytest.param("OPIOID", {"credits": "1"}, {}, id="rems-with-credits"),
]


@pytest.mark.parametrize(("target", "record_changes", "context_changes"), PASSING)
def test_edge_cases_that_pass(target: str, record_changes: dict[str, object],
                              context_changes: dict[str, object]) -> None:
    assert check(record(target, **record_changes), context(target, **context_changes)) == []


# check: several failures -------------------------------------------------------------------------------------


def test_several_failures_are_reported_together_in_code_order() -> None:
    bad = record(learner_id=None, last_name="", dob=None, credits="abc", completion_date="2099-01-01")
    assert errors(bad, context(activity=None)) == expected_errors(["621", "623", "624", "671", "673", "690"])


def test_failures_of_every_rule_module_are_reported_together_with_unique_codes() -> None:
    bad = record("ABPATH", credit_id_required=True, credit_id=None, first_name=" ", learner_id_type="NPI",
                 registration="ABIM", completion_date="2021-10-01", credits="6.3",
                 credit_types=[claim("Lifelong Learning", "7"), claim("Lifelong Learning", "7"), claim("MOCA")])
    found = errors(bad, context("ABPATH", diplomate=None))
    assert found == expected_errors(["622", "650", "661", "672", "674", "675", "676",
                                     duplicate_certificate("Lifelong Learning"), "712", "713"])
    assert len({code for code, _ in found}) == len(found)


def test_a_record_missing_everything_reports_every_missing_field() -> None:
    empty = record(learner_id=None, first_name=None, last_name=None, dob=None, activity_id=None,
                   completion_date=None, credits=None, credit_types=[], credit_id=None, credit_id_required=True)
    assert [e.code for e in check(empty, context())] == ["621", "622", "623", "624", "630", "631", "632", "650",
                                                          "677"]


def test_a_code_raised_by_several_rules_or_claims_is_reported_once() -> None:
    bad = record("ABIM", credit_types=[claim("Nonsense"), claim("Other nonsense"), claim("Patient Safety"),
                                       claim("patient safety")])
    assert errors(bad, context("ABIM")) == expected_errors(["676", duplicate_certificate("patient safety"), "680"])


def test_678_names_each_repeated_certificate() -> None:
    twice = record(credit_types=[claim("Self-Assessment", "3"), claim("Patient Safety", "3"),
                                 claim("Self-Assessment", "3"), claim("Patient Safety", "3")])
    assert errors(twice, context()) == [duplicate_certificate("Patient Safety"),
                                        duplicate_certificate("Self-Assessment")]


def test_713_when_a_moc_target_names_a_state() -> None:
    # A MOC target resolved to a state's entry: not a board, not registered, and its credit type unknown there.
    assert [e.code for e in check(record(target=moc("CA")), context("CA"))] == ["670", "676", "713"]


# check: which rules run -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["Add", "add", "ADD", " Add "])
def test_add_is_case_insensitive(action: str) -> None:
    assert not is_delete(record(action=action))
    assert check(record(action=action), context()) == []


@pytest.mark.parametrize("action", ["Delete", "delete", " DELETE "])
def test_delete_runs_only_the_delete_rules(action: str) -> None:
    # A Delete names a live record by credit ID; missing learner fields do not matter.
    sparse = record(action=action, first_name=None, last_name=None, dob=None, credits=None, learner_id=None,
                    credit_types=[], completion_date=None)
    assert is_delete(sparse)
    assert check(sparse, context(live=live_record(), today=IN_YEAR)) == []
    assert errors(sparse, context()) == expected_errors(["605"])


@pytest.mark.parametrize(("board", "requires_dob"), [("ABA", False), ("ABP", False), ("ABOHNS", True)])
def test_dob_is_required_only_where_the_board_requires_it(board: str, requires_dob: bool) -> None:
    assert shipped_boards()[board].requires_dob is requires_dob
    no_dob = record(dob=None, target=moc(board), credit_types=[claim("Lifelong Learning")])
    assert identity_present(no_dob, context(board)) == (["624"] if requires_dob else [])


@pytest.mark.parametrize(("board", "requires_board_id"), [("ABS", False), ("ABOHNS", True)])
def test_board_id_is_required_only_where_the_board_requires_it(board: str, requires_board_id: bool) -> None:
    assert shipped_boards()[board].requires_board_id is requires_board_id
    no_id = record(learner_id=None, target=moc(board))
    assert identity_present(no_id, context(board)) == (["621"] if requires_board_id else [])


def test_an_unknown_board_requires_both_board_id_and_dob() -> None:
    bare = record(learner_id=None, dob=None)
    assert [e.code for e in check(bare, context(board=None))] == ["621", "624", "713"]


@pytest.mark.parametrize(
    ("target", "learner_id", "expected"),
    [("CA", "A12345", True), ("CA", None, True), ("ABS", None, True), ("ABS", "S-4242", False),
     ("ABOHNS", None, False), ("ABOHNS", "19927", False), ("OPIOID", "L-1", False)],
)
def test_which_records_are_matched_against_the_directory(target: str, learner_id: str | None,
                                                         expected: bool) -> None:
    r = record(target, learner_id=learner_id)
    assert needs_directory_match(r, shipped_boards()[target].requires_board_id) is expected


# individual rules ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "target", "record_changes", "context_changes", "expected"),
    [
        (record_action, "ABOHNS", {"action": None}, {}, ["601"]),
        (record_action, "ABOHNS", {"action": "Update"}, {}, ["602"]),
        (credit_id_present, "ABOHNS", {"credit_id": None}, {}, []),  # only XML and web-service records need it
        (credit_id_present, "ABOHNS", {"credit_id": None, "credit_id_required": True}, {}, ["650"]),
        (credit_id_state, "ABOHNS", {"action": "Delete"}, {}, ["605"]),
        (credit_id_state, "ABOHNS", {}, {"live": live_record()}, ["603"]),
        (delete_matches_original, "ABOHNS", {"action": "Delete", "last_name": "Bentley"}, {"live": live_record()},
         ["605"]),
        (delete_matches_original, "ABOHNS", {"action": "Delete"}, {}, []),  # credit_id_state says 605 already
        (target_known, "ABOHNS", {}, {"board": None}, ["713"]),
        (identity_present, "ABOHNS", {"first_name": None, "last_name": None}, {}, ["622", "623"]),
        (identity_present, "CA", {"learner_id": None, "npi": "1234567893"}, {}, []),  # an NPI instead of a licence
        (learner_id_type_valid, "ABOHNS", {"learner_id_type": "NPI"}, {}, ["712"]),
        (learner_id_type_valid, "ABOHNS", {"learner_id_type": " "}, {}, []),
        (realtime_roster, "ABPATH", {"learner_id": None}, {"diplomate": None}, []),  # 621 says it already
        (realtime_roster, "ABPATH", {"dob": None}, {}, []),  # 624 says it already
        (realtime_roster, "ABOHNS", {}, {"diplomate": None}, []),  # not a real-time board
        (realtime_roster, "ABPATH", {}, {"diplomate": None}, ["661"]),
        (directory_match, "CA", {"last_name": None}, {"match": None}, []),  # 623 says it already
        (directory_match, "ABOHNS", {}, {"match": NOT_MATCHED}, []),  # the board ID identifies
        (directory_match, "CA", {}, {"match": NOT_MATCHED}, ["718"]),
        (activity_present, "ABOHNS", {"activity_id": None}, {}, ["630"]),
        (activity_registered, "ABOHNS", {"activity_id": None}, {"activity": None}, []),  # 630 says it already
        (activity_registered, "ABOHNS", {}, {"activity": None}, ["690"]),
        (activity_registered, "ABOHNS", {}, {"activity": activity(moc={})}, ["670"]),
        (completion_date_valid, "ABOHNS", {"completion_date": None}, {}, ["631"]),
        (completion_date_valid, "ABOHNS", {}, {"activity": None}, []),  # no window without an activity
        (completion_date_valid, "ABOHNS", {"completion_date": "2030-01-01"}, {}, ["671"]),
        (reporting_deadline, "ABOHNS", {"completion_date": "not a date"}, {}, []),  # 671 says it already
        (reporting_deadline, "ABOHNS", {"completion_date": "2020-05-01"}, {"today": date(2021, 4, 1)}, ["705"]),
        (delete_deadline, "ABOHNS", {"action": "Delete"}, {"today": date(2030, 1, 1)}, []),  # 605 says it already
        (delete_deadline, "ABOHNS", {"action": "Delete"}, {"live": live_record(), "today": date(2022, 1, 1)},
         ["706"]),
        (credits_valid, "ABOHNS", {"credits": None}, {}, ["632"]),
        (credits_valid, "OPIOID", {"credits": None}, {}, []),  # a REMS record reports the completion
        (credits_valid, "ABOHNS", {"credits": "x"}, {}, ["673"]),
        (credits_valid, "ABOHNS", {"credits": "0.1"}, {}, ["675"]),
        (credits_within_maximum, "ABOHNS", {"credits": "7"}, {"activity": None}, []),  # 690 says it already
        (credits_within_maximum, "ABOHNS", {"credits": "7"}, {"activity": activity(moc_credits=None)}, []),
        (credits_within_maximum, "ABOHNS", {"credits": "7"}, {}, ["674"]),
        (credits_within_maximum, "CA", {"credits": "8"}, {}, []),  # the CME maximum, not the MOC one
        (credit_types_valid, "CA", {"credit_types": []}, {}, []),  # only MOC records carry credit types
        (credit_types_valid, "ABOHNS", {"credit_types": []}, {}, ["677"]),
        (credit_types_valid, "ABOHNS", {}, {"activity": activity(moc={})}, []),  # 670 says it already
        (credit_types_valid, "ABOHNS", {"credit_types": [claim("Bogus")]}, {"board": None}, []),  # 713 says it
        (rems_fields, "ABOHNS", {"rems": None}, {}, []),
        (rems_fields, "OPIOID", {"rems": None}, {}, ["998"]),
    ],
)
def test_rule(rule, target: str, record_changes: dict[str, object], context_changes: dict[str, object],
              expected: list[str]) -> None:
    assert list(rule(record(target, **record_changes), context(target, **context_changes))) == expected


@pytest.mark.parametrize("credits", ["0", "0.25", "0.5", "6", "5.75", " 6.00 ", "1e0"])
def test_credits_in_quarter_points_are_valid(credits: str) -> None:
    assert credits_valid(record(credits=credits), context()) == []
    assert check(record(credits=credits, credit_types=[claim("Self-Assessment")]), context()) == []


@pytest.mark.parametrize("completed", ["2022-01-10", "2022-01-09", "2021-11-02"])
def test_a_completion_today_or_earlier_is_valid(completed: str) -> None:
    open_window = activity(end_date=date(2022, 3, 1), credit_claim_date=date(2022, 3, 1))
    assert check(record(completion_date=completed), context(activity=open_window)) == []


@pytest.mark.parametrize(
    ("completed", "target", "expected"),
    [("2021-10-14", "ABOHNS", ["672"]), ("2021-10-15", "ABOHNS", []), ("2021-11-15", "ABOHNS", []),
     ("2021-12-31", "ABOHNS", []), ("2022-01-01", "ABOHNS", ["671"]), ("2021-11-15", "CA", []),
     ("2021-11-16", "CA", ["671"])],
)
def test_the_completion_date_must_fall_in_the_activity_window(completed: str, target: str, expected: list) -> None:
    # The activity runs 2021-10-15 .. 2021-11-15; MOC credit may be claimed until 2021-12-31.
    found = completion_date_valid(record(target, completion_date=completed), context(target, today=date(2022, 7, 1)))
    assert found == expected


@pytest.mark.parametrize(
    ("completed", "today", "expected"),
    [("2020-05-01", date(2021, 3, 31), []), ("2020-05-01", date(2021, 4, 1), ["705"]),
     ("2020-12-31", date(2021, 4, 1), ["705"]), ("2021-01-01", date(2021, 4, 1), []),
     ("2021-01-01", date(2022, 3, 31), []), ("2021-01-01", date(2022, 4, 1), ["705"])],
)
def test_the_reporting_deadline_is_march_31_of_the_next_year(completed: str, today: date,
                                                             expected: list[str]) -> None:
    assert reporting_deadline(record(completion_date=completed), context(today=today)) == expected


@pytest.mark.parametrize(
    ("completed", "today", "expected"),
    [(date(2020, 11, 2), date(2020, 12, 31), []), (date(2020, 11, 2), date(2021, 1, 5), ["706"]),
     (date(2021, 1, 5), date(2021, 1, 5), [])],
)
def test_a_record_can_be_deleted_until_december_31_of_its_year(completed: date, today: date,
                                                                expected: list[str]) -> None:
    ctx = context(live=live_record(completion_date=completed), today=today)
    assert delete_deadline(record(action="Delete"), ctx) == expected


def test_the_rule_tables_hold_every_rule_once() -> None:
    assert len(set(ADD_RULES)) == len(ADD_RULES) and len(set(DELETE_RULES)) == len(DELETE_RULES)
    assert set(DELETE_RULES) - set(ADD_RULES) == {delete_matches_original, delete_allowed_now, delete_deadline}


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


def test_decide_rejects_with_every_error_in_code_order_and_keeps_nothing() -> None:
    bad = record(first_name=None, credits="0.3", credit_types=[], learner_id_type="NPI")
    decision = decide(submit(bad), context())
    assert decision.keep is None and decision.release is None
    [event] = decision.events
    assert isinstance(event, RecordRejectedByPars)
    assert [(e.code, e.message) for e in event.errors] == expected_errors(["622", "675", "677", "712"])
    assert event.record == bad
    assert event.record_id == bad.record_id
    assert (event.correlation_id, event.provider_id, event.submission_id) == ("corr-1", PROVIDER, bad.submission_id)


def test_decide_submits_a_moc_record_for_the_board() -> None:
    good = record(first_name=" Harper ", activity_id=f" {ACTIVITY_ID} ", credits=" 6 ", completion_date="11/2/2021",
                  credit_types=[claim("Self-Assessment", "5"), claim("Patient Safety", "1")])
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
    assert kept.target == moc("ABOHNS")
    assert kept.learner_id == "19927"


def test_decide_submits_a_realtime_boards_record_for_the_board_too() -> None:
    [event] = decide(submit(record("ABPATH")), context("ABPATH")).events
    assert isinstance(event, RecordSubmitted) and event.needs_board is True


def test_decide_accepts_a_state_record_at_once() -> None:
    cme = record("CA")
    ctx = context("CA")
    assert ctx.match is not None and ctx.match.learner == HARPER and ctx.activity is not None
    assert ctx.activity.cme_credits == Decimal(8)
    decision = decide(submit(cme), ctx)
    submitted, accepted = decision.events
    assert isinstance(submitted, RecordSubmitted) and submitted.needs_board is False
    assert isinstance(accepted, RecordAccepted)
    assert accepted.record_id == cme.record_id
    assert accepted.target == STATE
    assert accepted.response_id is None
    assert accepted.correlation_id == "corr-1"
    assert decision.keep == submitted.record
    assert decision.keep.learner_id == "A12345"
    assert decision.keep.credits == Decimal(8)
    assert decision.keep.activity_max_credits == Decimal(8)  # the CME maximum


def test_decide_accepts_a_rems_record_at_once() -> None:
    decision = decide(submit(record("OPIOID")), context("OPIOID"))
    submitted, accepted = decision.events
    assert isinstance(submitted, RecordSubmitted) and submitted.needs_board is False
    assert isinstance(accepted, RecordAccepted) and accepted.target == REMS
    assert decision.keep is not None and decision.keep.credits == Decimal(0)


@pytest.mark.parametrize(
    ("target", "credits", "claims", "expected"),
    [
        ("ABPATH", "6", [claim("ABPath MOC Part II", "4"), claim("ABPath MOC Part IV")],
         {"Lifelong Learning": Decimal(4), "Improvement in Medical Practice": Decimal(6)}),
        ("ABPATH", "3", [claim("abpath moc part ii")], {"Lifelong Learning": Decimal(3)}),
        ("ABOHNS", "5.5", [claim(" self-assessment ", "2.25"), claim("PATIENT SAFETY", "")],
         {"Self-Assessment": Decimal("2.25"), "Patient Safety": Decimal("5.5")}),
        ("ABIM", "2", [claim("Medical  Knowledge", None)], {"Medical Knowledge": Decimal(2)}),
    ],
)
def test_kept_credit_types_use_the_boards_names_with_their_points(
    target: str, credits: str, claims: list[CreditTypeClaim], expected: dict[str, Decimal]
) -> None:
    r = record(target, credits=credits, credit_types=claims)
    ctx = context(target)
    assert check(r, ctx) == []
    kept = kept_record(submit(r), ctx)
    assert kept.credit_types == expected
    assert decide(submit(r), ctx).keep == kept


def test_a_credit_type_with_blank_points_is_kept_with_the_total() -> None:
    r = record(credits="6", credit_types=[claim("Self-Assessment", "  ")])
    assert check(r, context()) == []
    kept = decide(submit(r), context()).keep
    assert kept is not None
    assert kept.credit_types == {"Self-Assessment": Decimal(6)}


def test_an_abs_record_without_a_board_id_gets_the_id_the_directory_found() -> None:
    abs_record = record("ABS", learner_id=None, npi=None)
    decision = decide(submit(abs_record), context("ABS"))
    [event] = decision.events
    assert isinstance(event, RecordSubmitted) and event.needs_board is True
    assert event.record.learner_id == "S-4242"  # HARPER's ABS certification, not her ABOHNS one


def test_an_abs_record_with_a_board_id_keeps_its_own() -> None:
    kept = decide(submit(record("ABS", learner_id=" S-0001 ")), context("ABS", match=None)).keep
    assert kept is not None and kept.learner_id == "S-0001"


def test_a_state_record_without_a_licence_is_kept_under_its_npi() -> None:
    cme = record("CA", learner_id=None, npi="1234567893")
    kept = decide(submit(cme), context("CA")).keep
    assert kept is not None and kept.learner_id == "1234567893"


@pytest.mark.parametrize(("dob", "kept"), [("1/5", "01/05"), (" 1/5 ", "01/05"), ("11/11", "11/11"), (None, None)])
def test_the_dob_is_kept_as_mm_dd(dob: str | None, kept: str | None) -> None:
    r = record("ABA", dob=dob)
    decision = decide(submit(r), context("ABA"))
    assert decision.keep is not None and decision.keep.dob == kept


def test_decide_submits_a_delete_of_an_accepted_record_to_its_board() -> None:
    live = live_record()
    delete = record(action="Delete")
    decision = decide(submit(delete), context(live=live, live_status="Accepted", today=IN_YEAR))
    [event] = decision.events
    assert isinstance(event, DeleteSubmitted)
    assert event.record_id == live.record_id != delete.record_id and event.reported_as == delete.record_id
    assert event.target == live.target
    assert event.correlation_id == "corr-1"
    assert decision.mark == "Delete Submitted" and decision.release is None and decision.keep is None


def test_decide_deletes_a_rejected_record_at_once() -> None:
    live = live_record()
    decision = decide(submit(record(action="Delete")), context(live=live, live_status="Rejected", today=IN_YEAR))
    [event] = decision.events
    assert isinstance(event, RecordDeleted) and event.record_id == live.record_id
    assert decision.release == live and decision.mark is None


@pytest.mark.parametrize("status", ["Submitted", "Delete Submitted"])
def test_a_record_still_with_its_board_cannot_be_deleted_yet(status: str) -> None:
    decision = decide(submit(record(action="Delete")), context(live=live_record(), live_status=status,
                                                               today=IN_YEAR))
    [event] = decision.events
    assert isinstance(event, RecordRejectedByPars) and [e.code for e in event.errors] == ["998"]
    assert decision.release is None and decision.mark is None


def test_decide_deletes_a_state_record_without_a_board() -> None:
    live = live_record(target=STATE, learner_id="A12345")
    delete = record("CA", action="Delete")
    decision = decide(submit(delete), context("CA", live=live, today=IN_YEAR))
    [event] = decision.events
    assert isinstance(event, RecordDeleted)
    assert event.record_id == live.record_id
    assert event.target == STATE
    assert event.response_id is None
    assert decision.release == live and decision.keep is None


@pytest.mark.parametrize(
    "changes",
    [{"activity_id": "210016866"}, {"first_name": "Harriet"}, {"last_name": "Bentley"}, {"learner_id": "19928"}],
)
def test_a_delete_whose_fields_differ_from_the_live_record_is_rejected_with_605(changes: dict[str, object]) -> None:
    decision = decide(submit(record(action="Delete", **changes)), context(live=live_record(), today=IN_YEAR))
    [event] = decision.events
    assert isinstance(event, RecordRejectedByPars)
    assert [(e.code, e.message) for e in event.errors] == expected_errors(["605"])
    assert decision.keep is None and decision.release is None


def test_decide_rejects_a_delete_without_a_live_record_with_605() -> None:
    decision = decide(submit(record(action="Delete")), context())
    [event] = decision.events
    assert isinstance(event, RecordRejectedByPars)
    assert [(e.code, e.message) for e in event.errors] == expected_errors(["605"])
    assert decision.keep is None and decision.release is None


def test_decide_rejects_a_late_delete_with_706_and_releases_nothing() -> None:
    ctx = context(live=live_record(completion_date=date(2020, 11, 2)), today=date(2021, 1, 5))
    decision = decide(submit(record(action="Delete")), ctx)
    [event] = decision.events
    assert isinstance(event, RecordRejectedByPars)
    assert [(e.code, e.message) for e in event.errors] == expected_errors(["706"])
    assert decision.release is None


def test_decide_rejects_an_add_over_a_live_record_with_603() -> None:
    decision = decide(submit(record()), context(live=live_record()))
    [event] = decision.events
    assert isinstance(event, RecordRejectedByPars)
    assert [(e.code, e.message) for e in event.errors] == expected_errors(["603"])
    assert decision.keep is None


@pytest.mark.parametrize("value", ["abc", "-1", "0.1"])
def test_a_bad_credit_type_value_is_rejected_not_a_crash(value: str) -> None:
    decision = decide(submit(record(credit_types=[claim("Self-Assessment", value)])), context())
    assert isinstance(decision.events[0], RecordRejectedByPars)
    assert decision.keep is None


@pytest.mark.parametrize(("credit_id", "key"), [(" c1 ", "c1"), (None, None), ("  ", None)])
def test_a_kept_record_is_stored_under_its_credit_key(credit_id: str | None, key: str | None) -> None:
    r = record(credit_id=credit_id)
    kept = decide(submit(r), context()).keep
    assert kept is not None
    assert kept.credit_id == credit_key(r) == (key or str(r.record_id))
    assert live_key(r) == (kept.provider_id, kept.credit_id, kept.target.code)


def test_decide_is_pure() -> None:
    r = record("CA")
    ctx = context("CA")
    before = copy.deepcopy((r, ctx))
    first, second = decide(submit(r), ctx), decide(submit(r), ctx)
    assert (r, ctx) == before  # nothing it was given changed
    assert first.keep == second.keep
    assert [type(e) for e in first.events] == [type(e) for e in second.events]


# 999: what no rule foresaw -------------------------------------------------------------------------------


def test_an_unexpected_failure_is_rejected_with_999() -> None:
    r = record()
    decision = unexpected_failure(submit(r))
    assert decision.keep is None and decision.release is None
    [event] = decision.events
    assert isinstance(event, RecordRejectedByPars)
    assert [(e.code, e.message) for e in event.errors] == [("999", MESSAGES["999"])]
    assert event.record == r and event.record_id == r.record_id
    assert (event.correlation_id, event.provider_id, event.submission_id) == ("corr-1", PROVIDER, r.submission_id)


def test_an_unreadable_submission_is_answered_with_999() -> None:
    raw = submit(record()).model_dump(mode="json")
    raw["record"]["credits"] = {"points": 6}  # breaks the schema, yet names its record
    command = decode_submission(json.dumps(raw).encode())
    assert isinstance(command, UnreadableSubmission)
    assert "credits" in command.reason
    [event] = unexpected_failure(command).events
    assert isinstance(event, RecordRejectedByPars)
    assert [(e.code, e.message) for e in event.errors] == [("999", MESSAGES["999"])]
    assert event.record_id == command.record.record_id


def test_the_credit_type_table_names_what_the_board_names() -> None:
    for board in shipped_boards().values():
        names = credit_type_names(board)
        asked = [*board.credit_types, *board.credit_type_aliases, "unknown", ""]
        asked += [f"  {n.upper()} " for n in asked] + [n.replace(" ", "  ") for n in asked]
        for name in asked:
            with_table = credit_type(Context(activity=None, board=board, today=TODAY, credit_type_names=names), name)
            assert with_table == board.credit_type(name), (board.code, name)
