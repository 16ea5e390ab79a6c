"""structlog set-up: JSON lines, the correlation id bound per message, personal data never logged."""

import logging
import re
import sys
from collections.abc import MutableMapping
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


def configure_logging(service: str, level: str = "INFO", fmt: str = "json", stream: TextIO = sys.stdout) -> None:
    renderer: Any = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Library loggers (aiokafka, uvicorn) go through the same stream at WARNING and above.
    logging.basicConfig(stream=stream, level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)


bind_correlation = structlog.contextvars.bound_contextvars
