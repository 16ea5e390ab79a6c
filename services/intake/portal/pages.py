"""What every portal page shares: the templates, the signed-in provider, CSRF checks and the security headers."""

import hmac
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from intake.dependencies import Pool
from intake.keys import Principal
from intake.portal import sessions
from intake.portal.sessions import PortalSession
from shared.lifecycle import RecordStatus

templates = Environment(loader=PackageLoader("intake.portal", "templates"),
                        autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)

# The statuses a provider filters by, in PARS's words (a record PARS rejected itself is in no list).
LISTED_STATUSES = [RecordStatus.SUBMITTED.value, RecordStatus.ACCEPTED.value, RecordStatus.REJECTED.value,
                   RecordStatus.DELETE_SUBMITTED.value]

# The pages show learners' personal data: only the portal's own scripts and styles run, nothing frames them,
# forms post only here, and no copy is kept by the browser or a proxy.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store", "Referrer-Policy": "same-origin", "X-Content-Type-Options": "nosniff",
}


class SignInNeeded(Exception):
    """A portal page asked for without a live session: the browser is sent to the sign-in page."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


class CsrfRefused(Exception):
    """A form posted without its session's CSRF token."""


def render(request: Request, template: str, context: Mapping[str, Any], *, status_code: int = 200,
           session: PortalSession | None = None) -> HTMLResponse:
    page = templates.get_template(template).render(request=request, session=session, statuses=LISTED_STATUSES,
                                                   **context)
    return HTMLResponse(page, status_code=status_code, headers=SECURITY_HEADERS)


def see_other(url: str) -> RedirectResponse:
    """After a form's POST, the browser GETs the answer page (so a reload does not post twice)."""
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def served_over_tls(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "") == "https"


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(sessions.COOKIE, token, max_age=int(sessions.LIFETIME.total_seconds()), path="/portal",
                        httponly=True, secure=served_over_tls(request), samesite="lax")


async def portal_session(request: Request, pool: Pool) -> PortalSession:
    token = request.cookies.get(sessions.COOKIE)
    session = await sessions.session_of(pool, token) if token else None
    if session is None or session.principal.role != "provider":
        back_to = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInNeeded(back_to)
    return session


Session = Annotated[PortalSession, Depends(portal_session)]


async def provider_of(session: Session) -> Principal:
    return session.principal


def check_csrf(session: PortalSession, sent: str | None) -> None:
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise CsrfRefused


async def csrf_header(request: Request, session: Session) -> PortalSession:
    """For the pages' scripts (fetch with X-CSRF-Token); forms send the token as a field and call check_csrf."""
    check_csrf(session, request.headers.get("x-csrf-token"))
    return session


async def to_sign_in(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInNeeded)
    return see_other(f"/portal/sign-in?next={quote(exc.back_to, safe='/')}")


async def refuse_csrf(request: Request, _exc: Exception) -> Response:
    return render(request, "message.html", {"title": "This form has expired",
                                            "text": "Open the page again and send the form from there."},
                  status_code=403)


def safe_next(target: str | None) -> str:
    """Only a portal path is a place to go back to after signing in (no open redirect to another site)."""
    if target and target.startswith("/portal/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/portal/"
