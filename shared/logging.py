"""structlog set-up: JSON lines, the correlation id bound per message, personal data never logged."""

import logging
import os
import re
import sys
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any, TextIO

import structlog

# Fields that must never reach a log line, whatever a caller passes.
REDACTED_FIELDS = frozenset(
    {"dob", "date_of_birth", "license_id", "licence_id", "api_key", "key", "password", "smtp_password",
     "authorization", "secret"}
)


# "... [type=missing, input_value={'dob': '11/11', ...}, input_type=dict]": the input can be a whole record.
_INPUT_VALUE = re.compile(r"input_value=.*?(?=, input_type=|$)", re.DOTALL)


def scrub_error_text(text: str) -> str:
    """An error's text without the rejected input pydantic quotes in it (a DOB, a licence number)."""
    return _INPUT_VALUE.sub("input_value=[redacted]", text)


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for name in REDACTED_FIELDS.intersection(event):
        event[name] = "[redacted]"
    return event


def _service_named(service: str) -> Any:
    def add_service(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event.setdefault("service", service)  # whatever context the line comes from (a library's thread, a task)
        return event

    return add_service


def _scrub_library_text(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A library's message and traceback are text: what pydantic quotes of a rejected input goes, as in ours."""
    for name in ("event", "exception"):
        if isinstance(text := event.get(name), str) and "input_value=" in text:
            event[name] = scrub_error_text(text)
    return event


class _JsonLines(logging.StreamHandler):  # type: ignore[type-arg]
    """The root logger's handler configure_logging installs (and replaces when called again)."""


# A service configures logging once, so each logger binds its configuration at first use and keeps it. The test
# session runs many services' configurations and the CLI's in one process: it turns this off (conftest.py), so a
# logger first used under one test's configuration does not keep writing with it under the next.
CACHE_LOGGERS = True


def configure_logging(service: str, level: str = "INFO", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Every line one JSON object with `service`, `level`, `timestamp` and the bound context (correlation id):
    structlog's own, and through the standard library's root logger those of uvicorn, aiokafka, asyncpg and
    FastStream, which print plain text of their own otherwise. Libraries log at WARNING and above."""
    stream = stream or sys.stdout  # the stdout of the call, not of the import (a test's runner swaps it)
    renderer: Any = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    add_service = _service_named(service)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_request_correlation,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            add_service,
            _redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=CACHE_LOGGERS,
    )
    structlog.contextvars.bind_contextvars(service=service)
    handler = _JsonLines(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            _add_request_correlation,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            add_service,
            _redact,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _scrub_library_text,
            renderer,
        ],
    ))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _JsonLines)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))
    # Loggers that print through handlers of their own (FastStream's, uvicorn's when it configures them) go to the
    # root's instead; uvicorn's access log stays as serve() sets it (off).
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger) or name == "uvicorn.access":
            continue
        if logger.handlers or not logger.propagate:
            for own in list(logger.handlers):
                logger.removeHandler(own)
            logger.propagate = True


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)


bind_correlation = structlog.contextvars.bound_contextvars

CORRELATION_HEADER = "X-Correlation-ID"
_SANE_CORRELATION = re.compile(rb"[A-Za-z0-9._:-]{1,100}")
# The request's correlation id: a ContextVar of its own (one set and reset per request, cheaper than structlog's
# bind/reset); _add_request_correlation puts it on each line unless a message's id is bound (bind_correlation).
_request_correlation: ContextVar[str | None] = ContextVar("request_correlation", default=None)


def _add_request_correlation(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if (correlation := _request_correlation.get()) is not None:
        event.setdefault("correlation_id", correlation)
    return event


class RequestCorrelation:
    """ASGI middleware: each request's log lines carry its correlation id, the caller's `X-Correlation-ID` when it is
    a sane token (else a fresh random 32-hex one: a caller puts no arbitrary text in our logs), echoed in the answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = b""
        for name, value in scope["headers"]:
            if name == b"x-correlation-id":
                raw = value
                break
        if not _SANE_CORRELATION.fullmatch(raw):
            raw = os.urandom(16).hex().encode()  # uuid4's 128 random bits without building a UUID (4 µs of 8)
        token = _request_correlation.set(raw.decode())

        async def answer(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (b"x-correlation-id", raw)]
            await send(message)

        await self.app(scope, receive, answer)
        # Reset only on the way out of a request that ended: when it raised, uvicorn logs "Exception in ASGI
        # application" after this returns, and that line should carry the id too. uvicorn runs each request in a task
        # of its own, so the id ends with that task either way.
        _request_correlation.reset(token)


def current_correlation() -> str | None:
    """The correlation id of the work at hand (a message's bound one, else the request's), to pass on to a service."""
    bound = structlog.contextvars.get_contextvars().get("correlation_id")
    return bound if isinstance(bound, str) else _request_correlation.get()
