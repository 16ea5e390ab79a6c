"""MedBiquitous Activity Report documents from simple dicts, for tests, e2e uploads and benchmarks.

Built as text (5,000 reports take a few tens of milliseconds). Keys, all optional; a None value leaves its element out:
    activity_id, credit_id, first_name, last_name, dob ("MM/DD" becomes a 1972 birth date; other text is kept),
    completion_date ("YYYY-MM-DD" gets "T00:00:00"; other text is kept), action ("Add"/"Delete" -> add/delete;
    absent: add; None: no learnerRecordAction),
    npi, provider_id (ProviderOrganization),
    board, board_id, credits, credit_types {name: points}     one certifying board ...
    moc: [{board, board_id, credits, credit_types}]           ... or several
    state, license_id, cme_credits                           state CME (AMA PRA Category 1 Credit)
    certificates: [(activityCertification, numberOfCredits)]  extra certificates written as given
A board's credit types are written "<BOARD> MOC - <type>", or as given when the name starts with the board's code
(the template aliases, "ABPath MOC Part II"); a total certificate "<BOARD> MOC" is added when `credits` is not the
largest credit-type points (or there are none).
"""

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from intake.batch_files.readers.activity_report import AR_NS, HX_NS, MEMBER_NS, NAME_NS, PARS_NS

_OPEN = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ActivityReports xmlns="{AR_NS}" xmlns:m="{MEMBER_NS}" '
         f'xmlns:n="{NAME_NS}" xmlns:hx="{HX_NS}" xmlns:ex="{PARS_NS}">\n')
_CLOSE = "</ActivityReports>\n"


def activity_report_xml(reports: list[dict[str, Any]]) -> bytes:
    return (_OPEN + "".join(_report(r) for r in reports) + _CLOSE).encode()


def _report(r: Mapping[str, Any]) -> str:
    return f"<ActivityReport>\n{_member(r)}{_activity(r)}{_extensions(r)}</ActivityReport>\n"


def _el(tag: str, value: Any, attrs: str = "") -> str:
    return "" if value is None else f"<{tag}{attrs}>{escape(str(value))}</{tag}>"


def _boards(r: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(r.get("moc") or []) + ([r] if r.get("board") is not None else [])


def _member(r: Mapping[str, Any]) -> str:
    ids = [("NPI", r.get("npi"))] + [(b["board"], b.get("board_id")) for b in _boards(r)]
    if r.get("state") is not None:
        ids.append((r["state"], r.get("license_id") or ""))
    unique_ids = "".join(_el("m:UniqueID", value, f" domain={quoteattr(str(domain))}") for domain, value in ids)
    name = f"<m:Name>{_el('n:GivenName', r.get('first_name'))}{_el('n:FamilyName', r.get('last_name'))}</m:Name>"
    return f"<Member>{unique_ids}{name}{_el('m:BirthDate', _birth_date(r.get('dob')))}</Member>\n"


def _birth_date(dob: Any) -> Any:
    text = str(dob) if dob is not None else None
    if text and len(parts := text.split("/")) == 2 and all(p.isdigit() for p in parts):
        return f"1972-{int(parts[0]):02d}-{int(parts[1]):02d}"
    return dob


def _activity(r: Mapping[str, Any]) -> str:
    activity_id = r.get("activity_id")
    module_id = "" if activity_id is None else f" moduleID={quoteattr(str(activity_id))}"
    module_name = f"<ModuleName{module_id}>Module</ModuleName>"
    completed = r.get("completion_date")
    if isinstance(completed, str) and len(completed) == 10 and completed[4] == "-":
        completed += "T00:00:00"
    certificates = "".join(_certificate(text, points, r.get("credit_id")) for text, points in _certifications(r))
    return (f"<Activity>{_el('ProviderOrganization', r.get('provider_id'))}<Module>{module_name}"
            f"<Status>Completed</Status>{_el('CompletedDateTime', completed)}\n{certificates}</Module></Activity>\n")


def _certifications(r: Mapping[str, Any]) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if r.get("state") is not None or r.get("cme_credits") is not None:
        found.append(("AMA PRA Category 1 Credit", r.get("cme_credits")))
    for board in _boards(r):
        found += _board_certifications(board)
    return found + list(r.get("certificates") or [])


def _board_certifications(b: Mapping[str, Any]) -> list[tuple[str, Any]]:
    code, credits, types = str(b["board"]), b.get("credits"), dict(b.get("credit_types") or {})
    typed = [(name if name.casefold().startswith(code.casefold()) else f"{code} MOC - {name}", points)
             for name, points in types.items()]
    largest = max((_number(p) for p in types.values()), default=None, key=lambda v: v or Decimal(-1))
    needs_total = credits is not None and (not types or _number(credits) != largest)
    return ([(f"{code} MOC", credits)] if needs_total else []) + typed


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _certificate(certification: str, points: Any, credit_id: Any) -> str:
    received = (f"<hx:activityCertification>{escape(certification)}</hx:activityCertification>"
                f"<hx:creditUnit>Point</hx:creditUnit>{_el('hx:numberOfCredits', points)}")
    credit = _el("CreditID", credit_id)
    return f"<CreditCertificate><CreditReceived>{received}</CreditReceived>{credit}</CreditCertificate>\n"


def _extensions(r: Mapping[str, Any]) -> str:
    action = r.get("action", "Add")
    if action is None:
        return ""
    text = {"add": "add", "delete": "delete"}.get(str(action).casefold(), str(action))
    return f"<XtensibleInfo>{_el('ex:learnerRecordAction', text)}</XtensibleInfo>\n"
