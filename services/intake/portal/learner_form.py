"""The Add Learner form: its fields read into the API's completion body, and every answer placed beside its field.

The field names follow the completion body (first_name, dob...), one target's fields prefixed by it: cme_credits,
moc_ABOHNS_board_id, moc_ABOHNS_ct_0 (the activity's first credit type of ABOHNS), rems_OPIOID_profession. PARS's
codes name no field, so PLACES says which field each code is about; what it does not name sits on the target's group.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from intake.completions.schemas import RecordAnswer
from shared.events import ReportedRecord
from shared.fix_hints import fix_hint

LEARNER_FIELDS = ("first_name", "last_name", "dob", "completion_date", "npi", "medical_school")
CME_FIELDS = ("credits", "state", "license_id")
REMS_FIELDS = ("learner_id", "profession", "time_in_practice", "practice_state", "practice_area", "dea_registration")

# PARS code -> what it is about: a learner field, or a target's own field ("@credits" is cme_credits or
# moc_B_credits...). A code not listed is about the target as a whole (its group).
PLACES = {
    "621": "@board_id", "661": "@board_id", "622": "first_name", "665": "first_name", "623": "last_name",
    "624": "dob", "664": "dob", "630": "activity_id", "670": "activity_id", "690": "activity_id",
    "631": "completion_date", "671": "completion_date", "672": "completion_date", "705": "completion_date",
    "632": "@credits", "673": "@credits", "674": "@credits", "675": "@credits", "710": "@credits", "711": "@credits",
    "676": "@ct", "677": "@ct", "678": "@ct", "680": "@ct", "681": "@ct", "718": "learner",
}
# A target's own field, by kind: the CME record's learner ID is the licence; a REMS record's problems are its fields.
TARGET_FIELDS = {"state": {"@board_id": "cme_license_id", "@credits": "cme_credits", "@ct": "cme"},
                 "rems": {"998": "rems_{code}_profession", "@credits": "cme_credits",
                          "@board_id": "rems_{code}_learner_id"}}


@dataclass
class FormErrors:
    """Messages by the form's field (or group) name, in the order they came; the summary lists them all."""

    by_field: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.by_field.setdefault(name, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.by_field)


@dataclass
class LearnerForm:
    """The posted form as it came (to fill the page again) and the completion body it stands for."""

    values: dict[str, str]
    moc: list[str]  # the boards ticked
    rems: list[str]  # the REMS programs ticked
    cme: bool


def read_form(form: Mapping[str, Any], multi: Mapping[str, list[str]]) -> LearnerForm:
    values = {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}
    return LearnerForm(values, multi.get("moc", []), multi.get("rems", []), values.get("cme") == "on")


def _or_none(text: str | None) -> str | None:
    return text if text else None


def completion_body(form: LearnerForm, activity: Mapping[str, Any]) -> dict[str, Any]:
    """The POST /v1/completions body the form stands for; only the boards and programs the activity offers."""
    v = form.values
    body: dict[str, Any] = {"activity_id": _or_none(v.get("activity_id")), "action": "Add",
                            **{name: _or_none(v.get(name)) for name in LEARNER_FIELDS}}
    if form.cme:
        body["cme"] = {name: _or_none(v.get(f"cme_{name}")) for name in CME_FIELDS}
    body["moc"] = []
    for board, credit_types in (activity.get("moc") or {}).items():
        if board in form.moc:
            points = {name: v[f"moc_{board}_ct_{i}"] for i, name in enumerate(credit_types)
                      if v.get(f"moc_{board}_ct_{i}")}
            body["moc"].append({"board": board, "board_id": _or_none(v.get(f"moc_{board}_board_id")),
                                "credits": _or_none(v.get(f"moc_{board}_credits")), "credit_types": points})
    rems = [{"program": program, **{name: _or_none(v.get(f"rems_{program}_{name}")) for name in REMS_FIELDS},
             "surgical_procedures": v.get(f"rems_{program}_surgical_procedures") == "on" or None}
            for program in activity.get("rems") or [] if program in form.rems]
    body["rems"] = rems or None
    return body


def _body_field(loc: list[str], body: Mapping[str, Any]) -> str:
    """A completion body's field path (moc.0.credits) as the form's field name (moc_ABOHNS_credits)."""
    if loc and loc[0] in ("moc", "rems") and len(loc) > 2 and str(loc[1]).isdigit():
        entry = body[loc[0]][int(loc[1])]
        code = entry["board" if loc[0] == "moc" else "program"]
        if loc[2] == "credit_types":
            return f"moc_{code}"
        return f"{loc[0]}_{code}_{loc[2]}"
    if loc and loc[0] == "cme" and len(loc) > 1:
        return f"cme_{loc[1]}"
    return loc[0] if loc and loc[0] in (*LEARNER_FIELDS, "activity_id") else "form"


def body_errors(exc: ValidationError, body: Mapping[str, Any]) -> FormErrors:
    """The completion model's refusals (what no service could keep), each on its field."""
    errors = FormErrors()
    for problem in exc.errors():
        loc = [str(p) for p in problem["loc"]]
        message = problem["msg"].removeprefix("Value error, ")
        if message.startswith("a completion reports at least one target"):
            message = "Report the completion to at least one: CME, a board or a REMS program."
        errors.add(_body_field(loc, body), message)
    return errors


def keepable_errors(details: list[dict[str, Any]], body: Mapping[str, Any]) -> FormErrors:
    """refuse_unkeepable_records' details (field names as the record has them) on the form's fields."""
    errors = FormErrors()
    for detail in details:
        name = str(detail.get("field", ""))
        errors.add(_body_field(name.split("."), body), f"{name} {detail.get('reason', '')}")
    return errors


def place(code: str, record: ReportedRecord) -> str:
    """The form field (or group) a record's PARS code is about."""
    kind, target = record.target.kind, record.target.code
    where = TARGET_FIELDS.get(kind, {}).get(code) or PLACES.get(code) or "@group"
    if where == "@group":
        return {"state": "cme", "moc": f"moc_{target}", "rems": f"rems_{target}"}[kind]
    if where.startswith("@"):
        where = TARGET_FIELDS.get(kind, {}).get(where) or f"{kind}_{target}_{where[1:]}"
        where = f"moc_{target}" if where.endswith("_ct") else where
    return where.format(code=target)


def dry_run_errors(records: list[ReportedRecord], answers: list[RecordAnswer]) -> FormErrors:
    """The dry run's codes beside the fields they are about, each named with its target and a fix hint."""
    errors = FormErrors()
    for record, answer in zip(records, answers, strict=True):
        for error in answer.errors:
            code = error.get("code", "")
            errors.add(place(code, record), f"{record.target.code}: {code} {error.get('message', '')} "
                                            f"How to fix: {fix_hint(code)}")
    return errors
