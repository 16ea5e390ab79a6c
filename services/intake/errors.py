"""Every error answers `{"error": {"code", "message", "details"}}`, with the PARS code where there is one."""

from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.db import DATABASE_UNAVAILABLE
from shared.limits import printable


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list[Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []
        self.headers = headers


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


class Error(BaseModel):
    code: str = Field(description="What went wrong, for programs: a PARS code (706...) where there is one, else a word "
                                  "such as invalid_request, unauthorized, not_found.")
    message: str = Field(description="What went wrong, for people: names the request, the field and the reason.")
    details: list[dict[str, Any]] = Field(default_factory=list, description="One entry per problem, most with `field` "
                                          "and `reason` (a query or path parameter's also `location`).")


class ErrorBody(BaseModel):
    """Every error PARS answers (`error_body`), documented as one schema."""

    error: Error


# An answer to a request without a key, or with one PARS does not know (RFC 6750, section 3).
REALM = 'Bearer realm="PARS"'
NO_KEY_CHALLENGE = {"WWW-Authenticate": REALM}
INVALID_KEY_CHALLENGE = {"WWW-Authenticate": f'{REALM}, error="invalid_token", error_description="The API key is '
                                             'not valid."'}

RETRY_AFTER_HEADER = {"Retry-After": {"description": "Seconds to wait before sending the request again.",
                                      "schema": {"type": "integer"}}}
WWW_AUTHENTICATE_HEADER = {"WWW-Authenticate": {
    "description": "`Bearer realm=\"PARS\"`, with `error=\"invalid_token\"` when a key was sent but is not valid.",
    "schema": {"type": "string"}}}
# What each status means wherever it is answered; a route may say more of its own.
STATUS_MEANINGS: dict[int, str] = {
    400: "The body cannot be read at all (not UTF-8, nested too deep, a number of more than 4,300 digits).",
    401: "No API key, or one that is not valid: send 'Authorization: Bearer KEY'.",
    403: "The key may not make this call: a web-service key outside /v1/ws, an interactive key on /v1/ws, a "
         "provider's call without a provider's key, or an operator's call without an operator's key.",
    404: "No such resource for this key (another provider's answers 404 too).",
    409: "The resource is not in a state that allows this now.",
    413: "The body is larger than the route takes. Nothing was kept.",
    422: "A parameter or the body is not valid: the message names the request, the field and the reason; details "
         "lists every field with its reason.",
    503: "A service PARS needs (its database, the message log, the validation service or the record projection) "
         "cannot be reached for a moment; nothing was changed. Send the request again (after Retry-After seconds, "
         "when given).",
}
STATUS_HEADERS: dict[int, dict[str, Any]] = {401: WWW_AUTHENTICATE_HEADER, 503: RETRY_AFTER_HEADER}


def errors(*statuses: int, **said: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route: each status with the error schema and its meaning; `said` (`e409="..."`) replaces a
    status's general meaning with the route's own."""
    answers: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        answer: dict[str, Any] = {"model": ErrorBody, "description": said.get(f"e{status}", STATUS_MEANINGS[status])}
        if status in STATUS_HEADERS:
            answer["headers"] = STATUS_HEADERS[status]
        answers[status] = answer
    return answers


# Every route that takes an API key: FastAPI lists these beside its security requirement.
AUTHENTICATED = errors(401, 403)


DATABASE_RETRY_AFTER_SECONDS = 5


UNAVAILABLE = errors(503)


def database_unavailable(exc: Exception) -> bool:
    if isinstance(exc, asyncpg.InterfaceError):  # the pool closing, or a connection the server closed
        return any(words in str(exc) for words in ("pool is closed", "pool is closing", "connection is closed"))
    return isinstance(exc, DATABASE_UNAVAILABLE)


def unreadable_body(cause: BaseException) -> str:
    if isinstance(cause, RecursionError):
        why = "it nests arrays or objects deeper than PARS reads"
    elif isinstance(cause, UnicodeDecodeError):
        why = "it is not UTF-8 text"
    elif isinstance(cause, ValueError) and "digits" in str(cause):
        why = "a number in it has more than 4,300 digits"
    else:
        why = "it is not JSON"
    return f"The request body cannot be read: {why}."


def the_request(request: Request) -> str:
    """The request as its caller knows it: "The request to list records (GET /v1/records)"."""
    route = request.scope.get("route")
    what = getattr(route, "summary", None) or getattr(route, "name", "").replace("_", " ")
    where = f"{request.method} {getattr(route, 'path', request.url.path)}"
    return f"The request to {what[:1].lower()}{what[1:]} ({where})" if what else f"The request {where}"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = exc.headers
        if exc.status == 401 and not headers:  # every 401 says how to authenticate
            headers = NO_KEY_CHALLENGE
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=headers)

    async def database_error(_: Request, exc: Exception) -> JSONResponse:
        if not database_unavailable(exc):
            raise exc  # a bug: the server error it is
        return JSONResponse(error_body("database_unavailable", "PARS's database is not reachable right now (it may be"
                                       " restarting); nothing was changed. Send the request again in"
                                       f" {DATABASE_RETRY_AFTER_SECONDS} seconds."),
                            status_code=503, headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})

    for kind in (*DATABASE_UNAVAILABLE, asyncpg.InterfaceError):
        app.add_exception_handler(kind, database_error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # A field name may be a key the caller sent (a credit type's name): printable keeps it encodable.
        details = [{"field": printable(".".join(str(p) for p in e["loc"] if p != "body")), "reason": e["msg"]}
                   for e in exc.errors()]
        first = details[0] if details else {"field": "", "reason": "not valid"}
        more = f" (and {len(details) - 1} more, in details)" if len(details) > 1 else ""
        message = f"{the_request(request)} is not valid: {first['field'] or 'the body'}: {first['reason']}{more}."
        return JSONResponse(error_body("invalid_request", message, details), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                413: "body_too_large"}.get(
            exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 400 and exc.__cause__ is not None:  # FastAPI could not parse the body at all
            code, message = "unreadable_body", unreadable_body(exc.__cause__)
        return JSONResponse(error_body(code, message), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
