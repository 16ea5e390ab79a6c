"""Sign in with a provider's key (once; a session cookie afterwards) and sign out."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from intake.dependencies import Pool
from intake.portal import sessions
from intake.portal.pages import Session, check_csrf, render, safe_next, see_other, set_session_cookie

router = APIRouter()


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request) -> HTMLResponse:
    return render(request, "sign_in.html", {"next": safe_next(request.query_params.get("next")), "problem": ""})


@router.post("/sign-in")
async def sign_in(request: Request, pool: Pool, key: Annotated[str, Form()] = "",
                  next: Annotated[str, Form()] = "") -> Response:
    # No CSRF token before a session exists: the key itself is what a forged form could not know.
    principal = await sessions.who_holds(pool, key) if key.strip() else None
    if principal is not None and principal.is_operator:
        return see_other("/console")  # an operator's key opens the console, not a provider's screens
    if principal is None or principal.role != "provider":  # a web-service key is for a learning system, not people
        problem = ("Enter your provider's API key." if not key.strip() else
                   "That key is not a provider's key PARS knows (a web-service key does not open the portal).")
        return render(request, "sign_in.html", {"next": safe_next(next), "problem": problem}, status_code=401)
    token = await sessions.start(pool, key)
    response = see_other(safe_next(next))
    set_session_cookie(response, request, token)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, session: Session, pool: Pool,
                   csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(session, csrf_token)
    await sessions.sign_out(pool, request.cookies.get(sessions.COOKIE, ""))
    response = see_other("/portal/sign-in")
    response.delete_cookie(sessions.COOKIE, path="/portal")
    return response
