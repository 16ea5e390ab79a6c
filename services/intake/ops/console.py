"""`GET /console`: the operators' page. It carries no data itself; its script asks for an operator key, keeps
it in the tab's sessionStorage and calls `/v1/ops` with it, so the page needs no authentication of its own.
"""

import html
import secrets
from functools import lru_cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from shared.service_registry import SERVICE_NAMES

router = APIRouter()


@lru_cache
def _template() -> str:
    page = files("intake.ops").joinpath("templates/console.html").read_text(encoding="utf-8")
    options = "".join(f'<option value="{html.escape(s)}">{html.escape(s)}</option>' for s in SERVICE_NAMES)
    return page.replace("{{service_options}}", options)


def _headers(nonce: str) -> dict[str, str]:
    # The page handles an operator key: only its own nonce'd script runs, it talks to this origin only,
    # and no other site may frame it.
    policy = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; "
              "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return {"Content-Security-Policy": policy, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff"}


@router.get("/console", response_class=HTMLResponse, include_in_schema=False)
async def console() -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    return HTMLResponse(_template().replace("{{nonce}}", nonce), headers=_headers(nonce))
