"""What operators may see of a message: its fields, without dates of birth or licence numbers.

The field names are the logging redaction's (`shared.logging`), so a value shown here hides what a log line
hides. Two things no field name reveals are handled on top: a state board's learner ID *is* the licence
number (or NPI), and pydantic's error texts (the DLQ's `dlq.error`) quote the input they rejected.
"""

import json
import re
from typing import Any

from shared.logging import REDACTED_FIELDS as LOGGED_NEVER

REDACTED = "[redacted]"
PREVIEW_CHARS = 2000
_DIGITS = re.compile(r"\d")


def _state_target(mapping: dict[str, Any]) -> bool:
    target = mapping.get("target")
    return isinstance(target, dict) and target.get("kind") == "state"


def redact(value: Any) -> Any:
    """A copy of a decoded JSON value with every personal field replaced, at any depth."""
    if isinstance(value, list):
        return [redact(item) for item in value]
    if not isinstance(value, dict):
        return value
    licence_learner = _state_target(value)  # CME records: learner_id is the licence ID or NPI
    return {
        key: REDACTED if key.lower() in LOGGED_NEVER or (key == "learner_id" and licence_learner) else redact(item)
        for key, item in value.items()
    }


def shown_value(raw: bytes | None) -> dict[str, Any]:
    """`value` (JSON, redacted) when the bytes are JSON; else a preview with every digit masked.

    A message that is not JSON may still hold a birthday or a licence number, and no field name says
    where: masking digits keeps its shape readable for diagnosis and hides both.
    """
    if raw is None:
        return {"value": None}
    try:
        decoded = json.loads(raw)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both
        decoded = None
    if isinstance(decoded, dict | list):
        return {"value": redact(decoded)}
    # A bare JSON string or number has no field name either ("11/11" alone is a birthday).
    text = raw.decode("utf-8", errors="replace")[:PREVIEW_CHARS]
    return {"value": None, "value_text": _DIGITS.sub("#", text), "value_bytes": len(raw)}
