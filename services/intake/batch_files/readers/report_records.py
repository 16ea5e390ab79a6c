"""One ActivityReport element into its learner records: one per target (state licence, certifying board, REMS
program) its certificates name, each with the indexes of the certificates it came from.

Elements are found by local name whatever their namespace: providers get child prefixes wrong far more often than
they send another schema, and the root's namespace (activity_report.py) already tells the schema apart.

One ActivityReport (paths relative to it; `//` means anywhere below)
    Member//UniqueID[@domain]       learner identifiers: domain `NPI` -> npi; a certifying board's code (`ABIM`) ->
                                    that board's learner ID; a state (`LA`, `Louisiana`) -> the licence ID for that
                                    state's CME record; a REMS program's code or `local` -> the REMS learner ID
    Member//GivenName, //FamilyName first and last name
    Member//BirthDate (or DateOfBirth, Birthday)
                                    date of birth: `YYYY-MM-DD...` keeps month and day as `MM/DD`; other text is kept
    Activity//ModuleName/@moduleID  the ACCME activity ID; without it, Activity//ActivityID
    Activity//CompletedDateTime     completion date (the first Module's): `YYYY-MM-DDThh:mm...` keeps the date
                                    part; other text is kept
    Activity//CreditCertificate     one per credit awarded, each with CreditReceived/activityCertification,
                                    CreditReceived/numberOfCredits (creditUnit `Point` is not read) and CreditID
    XtensibleInfo//learnerRecordAction
                                    `add` / `delete` (any case) -> Add / Delete; other text kept for validation (602);
                                    no element -> Add
    XtensibleInfo//profession, timeInPractice, practiceState, practiceArea, deaRegistration, surgicalProcedures
                                    REMS fields, for a report naming a REMS program
    XtensibleInfo/ex:parsError      the errors a rejection file carries (writers/activity_report.py): never read, so
                                    a corrected rejection file uploads again as it is
    ProviderOrganization, ReportingOrganization, Status, creditUnit and anything else are not read: the upload's
    provider is the authenticated one, and ReportedRecord has no field for another.

activityCertification values (™, ®, "(TM)" and spacing ignored; case-insensitive)
    `AMA PRA Category 1 Credit`     state CME: one record per Member UniqueID whose domain is a US state, learner ID
                                    its text (or the NPI when empty), credits its numberOfCredits. Without a state
                                    UniqueID it is ordinary CME that PARS forwards nowhere, so it makes no record.
    `<BOARD> MOC - <credit type>`   a certifying board's credit type, points = numberOfCredits; also `<BOARD> -
                                    <type>`, `<BOARD> <type>` and `<BOARD> MOC: <type>`. BOARD is a board code.
    `<BOARD> MOC` or `<BOARD>`      the board's total credits (numberOfCredits)
    a board's template alias        e.g. `ABPath MOC Part II`, `ABO MOC Part II`: that board, the alias as credit type
    `<CODE> MOC ...` (unknown CODE) a MOC record for CODE, which validation rejects (713) instead of losing it
    `<PROGRAM>` or `<PROGRAM> REMS` a REMS program by code or name (`OPIOID`, `Opioid Analgesic REMS`)
    Certificates of one board merge into one record with several credit types; its credits are the total
    certificate's, else the largest credit-type points (a board's per-type credits default to the total and may be
    lower). Certificates naming nothing PARS forwards (AMA PRA Category 2, AAFP) are not read, unless the report
    names no target at all: then it still yields one record, Target(kind="moc", code=<first certification or "">),
    so validation rejects it with a code rather than the whole file failing.
    Credit ID: the first non-blank CreditID among the target's own certificates, else the report's first one.

Each record's `own_cells` (RowRecord) are, for XML, not column indexes but the 0-based indexes, in document order
among all CreditCertificate elements of its ActivityReport, of the certificates that produced its target (an AMA PRA
certificate counts for each state it reports to). When a report's records are partly added and partly rejected, the
rejection file leaves out the added targets' certificates and the success file the rejected ones'
(writers/activity_report.py), so a corrected rejection file does not add again what was added (603). The fallback
record of a report naming no target has none.

Values are kept as text (stripped of the indentation XML layout adds): validation judges them and gives the codes.
"""

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Literal
from uuid import UUID

from lxml import etree

from shared.boards import shipped_boards
from shared.events import CreditTypeClaim, RemsFields, ReportedRecord, Target
from shared.ids import new_id
from shared.states import state_code

_CME_CERTIFICATIONS = frozenset({"ama pra category 1 credit", "ama pra category 1 credits", "ama pra category 1"})
_BIRTH_DATES = ("BirthDate", "DateOfBirth", "Birthday")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:$|T)")
_MARKS = re.compile(r"\(tm\)|[™®]", re.IGNORECASE)
_MOC_WORD = re.compile(r"^MOC\b\s*", re.IGNORECASE)
_SEPARATOR = re.compile(r"^[-–—:]\s*")
_REMS_FIELDS = {"profession": "profession", "timeInPractice": "time_in_practice", "practiceState": "practice_state",
                "practiceArea": "practice_area", "deaRegistration": "dea_registration"}


@dataclass
class _TargetRecord:
    """What one target's record gathers from the report's certificates."""

    target: Target
    learner_id: str | None = None
    certificates: list[int] = field(default_factory=list)  # indexes of the CreditCertificates that name it
    total: str | None = None
    claims: list[CreditTypeClaim] = field(default_factory=list)
    credit_id: str | None = None

    def credits(self) -> str | None:
        if self.total is not None:
            return self.total
        given = [c.points for c in self.claims if c.points]
        numeric = [(value, text) for text in given if (value := _decimal(text)) is not None]
        return max(numeric)[1] if numeric else (given[0] if given else None)


def report_records(report: etree._Element, number: int, provider_id: str, batch_id: UUID,
                   channel: Literal["batch", "ws"]) -> list[tuple[ReportedRecord, list[int]]]:
    """Each target's record, with the indexes of the certificates it came from (see `own_cells` above)."""
    member = _first(report, "Member")
    ids = _unique_ids(member)
    activity = _first(report, "Activity")
    credit_id = next((v for e in report.iterdescendants("{*}CreditID") if (v := _value(e))), None)
    common = {
        "submission_id": batch_id, "batch_id": batch_id, "row_number": number, "provider_id": provider_id,
        "channel": channel, "credit_id_required": True, "action": _action(report),
        "activity_id": _activity_id(activity),
        "first_name": _value(_first(member, "GivenName")), "last_name": _value(_first(member, "FamilyName")),
        "dob": _dob(member), "npi": ids.get("NPI"), "completion_date": _completion_date(activity),
    }
    targets = _targets(report, ids)
    rems = _rems_fields(_first(report, "XtensibleInfo")) if any(t.target.kind == "rems" for t in targets) else None
    return [(ReportedRecord(record_id=new_id(), target=t.target, learner_id=t.learner_id, credits=t.credits(),
                            credit_types=t.claims, credit_id=t.credit_id or credit_id,
                            rems=rems if t.target.kind == "rems" else None, **common), t.certificates)
            for t in targets]


def _targets(report: etree._Element, ids: dict[str, str]) -> list[_TargetRecord]:
    found: dict[tuple[str, str], _TargetRecord] = {}
    certifications: list[str] = []
    for index, certificate in enumerate(certificates_of(report)):
        certification = _value(_first(certificate, "activityCertification")) or ""
        certifications.append(certification)
        points = _value(_first(certificate, "numberOfCredits"))
        own_credit_id = _value(_first(certificate, "CreditID"))
        for target, credit_type in _certificate_targets(certification, ids):
            record = found.setdefault((target.kind, target.code), _TargetRecord(target, _learner_id(target, ids)))
            if index not in record.certificates:
                record.certificates.append(index)
            record.credit_id = record.credit_id or own_credit_id
            if credit_type is not None:
                record.claims.append(CreditTypeClaim(name=credit_type, points=points))
            elif record.total is None:
                record.total = points
    if not found:  # nothing PARS forwards: one record validation rejects (713) keeps the report visible
        first = certifications[0] if certifications else ""
        return [_TargetRecord(Target(kind="moc", code=first))]
    return list(found.values())


def certificates_of(report: etree._Element) -> list[etree._Element]:
    """A report's CreditCertificate elements in document order: what `own_cells` indexes, here and in the writer."""
    return list(report.iterdescendants("{*}CreditCertificate"))


def _certificate_targets(certification: str, ids: dict[str, str]) -> list[tuple[Target, str | None]]:
    """The targets one certificate reports to, each with the credit type it names (None: the target's total)."""
    named = _classify(certification)
    if named is None:
        return []
    kind, code, credit_type = named
    if kind == "state":  # AMA PRA credit goes to each state the learner holds a licence in
        return [(Target(kind="state", code=state), None) for state in ids if state_code(state) == state]
    return [(Target(kind=kind, code=code), credit_type)]


@lru_cache(maxsize=4096)
def _classify(certification: str) -> tuple[Literal["moc", "state", "rems"], str, str | None] | None:
    """(kind, code, credit type or None) an activityCertification names; a state's code comes from the learner."""
    cleaned = " ".join(_MARKS.sub(" ", certification).split())
    folded = cleaned.casefold()
    if folded in _CME_CERTIFICATIONS:
        return "state", "", None
    names = _catalogue_names()
    named = names.by_name.get(folded)
    if named is not None:
        kind, code = named
        return (kind, code, None) if kind == "rems" else (kind, code, cleaned)
    head, _, rest = cleaned.partition(" ")
    code = head.rstrip("-–—:").upper()  # "ABIM: Medical Knowledge"
    if not code or not (code in names.moc_codes or _MOC_WORD.match(rest)):
        return None
    return "moc", code, _SEPARATOR.sub("", _MOC_WORD.sub("", rest)).strip() or None


@dataclass(frozen=True)
class _Names:
    by_name: dict[str, tuple[Literal["moc", "rems"], str]]  # casefolded REMS names, MOC aliases -> (kind, code)
    moc_codes: frozenset[str]


@lru_cache(maxsize=1)
def _catalogue_names() -> _Names:
    by_name: dict[str, tuple[Literal["moc", "rems"], str]] = {}
    boards = shipped_boards().values()
    for board in boards:
        if board.kind == "rems":
            for name in (board.code, board.name, f"{board.code} REMS"):
                by_name[name.casefold()] = ("rems", board.code)
        elif board.kind == "moc":  # an alias like "ABPath MOC Part II" names the board and the credit type at once
            by_name.update({alias.casefold(): ("moc", board.code) for alias in board.credit_type_aliases})
    return _Names(by_name, frozenset(b.code for b in boards if b.kind == "moc"))


def _learner_id(target: Target, ids: dict[str, str]) -> str | None:
    if target.kind == "state":
        return ids.get(target.code) or ids.get("NPI")
    if target.kind == "rems":
        return ids.get(target.code) or ids.get("LOCAL")
    return ids.get(target.code)


# Fields -----------------------------------------------------------------------------------------------------------


def _first(element: etree._Element | None, name: str) -> etree._Element | None:
    return None if element is None else next(element.iterdescendants(f"{{*}}{name}"), None)


def _value(element: etree._Element | None) -> str | None:
    """An element's text without the layout's indentation; None when absent or blank."""
    if element is None:
        return None
    return (element.text or "").strip() or None


def _unique_ids(member: etree._Element | None) -> dict[str, str]:
    """Member UniqueIDs by domain: a state as its two-letter code, any other domain (NPI, ABIM, LOCAL) upper-cased.
    The first UniqueID of a domain counts."""
    ids: dict[str, str] = {}
    for unique_id in () if member is None else member.iterdescendants("{*}UniqueID"):
        domain = " ".join(unique_id.get("domain", "").split())
        key = state_code(domain) or domain.upper()
        if key:
            ids.setdefault(key, (unique_id.text or "").strip())
    return ids


def _action(report: etree._Element) -> str | None:
    element = _first(report, "learnerRecordAction")
    if element is None:
        return "Add"
    text = (element.text or "").strip()
    return {"add": "Add", "delete": "Delete"}.get(text.casefold(), text)


def _activity_id(activity: etree._Element | None) -> str | None:
    module_name = _first(activity, "ModuleName")
    module_id = None if module_name is None else (module_name.get("moduleID") or "").strip()
    return module_id or _value(_first(activity, "ActivityID"))


def _completion_date(activity: etree._Element | None) -> str | None:
    text = _value(_first(activity, "CompletedDateTime"))
    if text and (match := _ISO_DATE.match(text)):
        return "-".join(match.groups())
    return text


def _dob(member: etree._Element | None) -> str | None:
    text = next((v for name in _BIRTH_DATES if (v := _value(_first(member, name)))), None)
    if text and (match := _ISO_DATE.match(text)):
        return f"{match[2]}/{match[3]}"
    return text


def _rems_fields(extensions: etree._Element | None) -> RemsFields:
    values = {attr: _value(_first(extensions, name)) for name, attr in _REMS_FIELDS.items()}
    surgical = (_value(_first(extensions, "surgicalProcedures")) or "").casefold()
    flag = True if surgical in ("yes", "true", "1") else False if surgical in ("no", "false", "0") else None
    return RemsFields(**values, surgical_procedures=flag)


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None
