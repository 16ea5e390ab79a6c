"""Every error answers `{"error": {"code", "message", "details"}}`, with the PARS code where there is one."""

from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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


DATABASE_RETRY_AFTER_SECONDS = 5


RETRY_AFTER_HEADER = {"Retry-After": {"description": "Seconds to wait before sending the request again.",
                                      "schema": {"type": "integer"}}}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "PARS's database cannot be reached for a moment (it may be restarting); nothing was changed. "
                         "Send the request again after Retry-After seconds.", "headers": RETRY_AFTER_HEADER}}


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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status,
                            headers=exc.headers)

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
    async def invalid_body(_: Request, exc: RequestValidationError) -> JSONResponse:
        # A field name may be a key the caller sent (a credit type's name): printable keeps it encodable.
        details = [{"field": printable(".".join(str(p) for p in e["loc"] if p != "body")), "reason": e["msg"]}
                   for e in exc.errors()]
        first = details[0] if details else {"field": "", "reason": "not valid"}
        more = f" (and {len(details) - 1} more, in details)" if len(details) > 1 else ""
        message = f"The request is not valid: {first['field'] or 'the body'}: {first['reason']}{more}."
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
