"""Reading SubmitRecord messages; one that breaks the schema but names its record is still answered (999)."""

import json
from typing import Any

from pydantic import ValidationError

from shared.events import ReportedRecord, SubmitRecord

# Without these a record cannot be answered at all; such a message goes to the dead-letter topic.
_IDENTITY = {"record_id", "submission_id", "provider_id", "target"}


class UnreadableSubmission(SubmitRecord):
    """A submission whose record broke the schema; kept are its identity and the fields that were valid."""

    reason: str


def decode_submission(raw: bytes) -> SubmitRecord:
    try:
        return SubmitRecord.model_validate_json(raw)
    except ValidationError as error:
        return _salvage(raw, error)


def _salvage(raw: bytes, error: ValidationError) -> UnreadableSubmission:
    data: dict[str, Any] = json.loads(raw)
    record = dict(data.get("record") or {})
    bad_fields = {e["loc"][1] for e in error.errors() if len(e["loc"]) > 1 and e["loc"][0] == "record"}
    if bad_fields & _IDENTITY or any(e["loc"][:1] != ("record",) for e in error.errors()):
        raise error
    salvaged = ReportedRecord.model_validate({k: v for k, v in record.items() if k not in bad_fields})
    reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
    return UnreadableSubmission(**{**data, "record": salvaged}, reason=reason[:500])
