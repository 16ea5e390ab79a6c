"""Register Activity: the form behind POST /v1/activities, its problems beside their fields.

The body goes where the API's goes (validation's /internal/activities, which holds every registration rule), through
the same checks and answers: refuse_unkeepable_json, in_api_shape, as_provider_sees_it.
"""

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from intake.activities.registration import as_provider_sees_it
from intake.errors import ApiError
from intake.forwarded import in_api_shape
from intake.keepable import refuse_unkeepable_json
from intake.portal.learner_form import FormErrors
from intake.portal.pages import Session, check_csrf, render
from intake.portal.sessions import PortalSession
from intake.validation_client import Validation, forward
from shared.boards import shipped_boards

router = APIRouter()
TEXT_FIELDS = ("id", "title", "format", "internal_id", "start_date", "end_date", "credit_claim_date", "cme_credits",
               "moc_credits")
# ACCME's activity formats, offered as suggestions: validation takes any text (Live Course when blank).
FORMATS = ("Live Course", "Regularly Scheduled Series", "Internet Live Course", "Enduring Material",
           "Internet Enduring Material", "Journal-based CME", "Manuscript Review", "Test-item Writing",
           "Committee Learning", "Performance Improvement", "Internet Searching and Learning", "Learning from Teaching",
           "Other")


def _catalogue() -> tuple[dict[str, list[str]], list[str]]:
    """The MOC boards with their credit types, and the REMS programs, as the shipped catalogue lists them."""
    boards = shipped_boards()
    return ({code: b.credit_types for code, b in sorted(boards.items()) if b.kind == "moc"},
            sorted(code for code, b in boards.items() if b.kind == "rems"))


def registration_body(values: dict[str, str], moc: dict[str, list[str]], rems: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {name: values.get(name) or None for name in TEXT_FIELDS}
    body["moc"] = moc
    body["rems"] = rems
    return body


def field_of(path: str) -> str:
    """Validation's field path (moc.ABOHNS.credit_types, rems.OPIOID) as the form's field or group."""
    parts = path.split(".")
    if parts[0] == "moc" and len(parts) > 1:
        return f"moc_{parts[1]}"
    return parts[0] if parts[0] in (*TEXT_FIELDS, "moc", "rems") else "form"


def _errors(details: list[Any], message: str) -> FormErrors:
    errors = FormErrors()
    for detail in details:
        if isinstance(detail, dict):
            errors.add(field_of(str(detail.get("field", ""))), str(detail.get("reason", "")))
    if not errors:
        errors.add("form", message)
    return errors


def _page(request: Request, session: PortalSession, values: dict[str, str], moc: dict[str, list[str]],
          rems: list[str], errors: FormErrors, status_code: int = 200) -> HTMLResponse:
    boards, programs = _catalogue()
    return render(request, "register_activity.html", {
        "title": "Register Activity", "values": values, "chosen_moc": moc, "chosen_rems": rems, "boards": boards,
        "programs": programs, "formats": FORMATS, "errors": errors.by_field}, status_code=status_code,
        session=session)


@router.get("/activities/new", response_class=HTMLResponse)
async def register_page(request: Request, session: Session) -> HTMLResponse:
    return _page(request, session, {}, {}, [], FormErrors())


@router.post("/activities/new", response_class=HTMLResponse)
async def register(request: Request, session: Session, validation: Validation) -> HTMLResponse:
    posted = await request.form()
    check_csrf(session, str(posted.get("csrf_token") or ""))
    values = {name: str(posted.get(name) or "").strip() for name in TEXT_FIELDS}
    boards, programs = _catalogue()
    moc = {code: [t for t in posted.getlist(f"moc_{code}") if isinstance(t, str)] for code in boards}
    moc = {code: types for code, types in moc.items() if types}
    rems = [p for p in posted.getlist("rems") if isinstance(p, str) and p in programs]
    body = registration_body(values, moc, rems)
    try:
        refuse_unkeepable_json(body)
        answer = as_provider_sees_it(in_api_shape(await forward(
            validation, "POST", "/internal/activities", json=body,
            params={"provider_id": session.principal.provider_id}), "an activity registration"), body.get("id"))
    except ApiError as exc:
        return _page(request, session, values, moc, rems, _errors(exc.details, exc.message), exc.status)
    answered = json.loads(bytes(answer.body))
    if answer.status_code not in (200, 201):
        error = answered.get("error", {})
        return _page(request, session, values, moc, rems,
                     _errors(error.get("details", []), error.get("message", "The activity cannot be registered.")),
                     answer.status_code)
    return render(request, "activity_registered.html", {
        "title": "Activity registered", "activity": answered, "updated": answer.status_code == 200},
        session=session)
