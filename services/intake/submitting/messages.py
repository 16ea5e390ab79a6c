"""How a reported record becomes its SubmitRecord message on pars.submissions, and how large one may be."""

import json
from typing import Any

from intake.errors import ApiError
from shared.events import ReportedRecord, SubmitRecord
from shared.kafka import KAFKA_MAX_MESSAGE_BYTES
from shared.outbox import OutboxMessage
from shared.settings import Settings
from shared.topics import SUBMISSIONS

# A record's SubmitRecord must fit in Kafka, and so must every event that repeats it further on (RecordSubmitted,
# the board request, RecordRejectedByPars with its messages): a quarter of Kafka's limit leaves them room.
MAX_SUBMISSION_BYTES = KAFKA_MAX_MESSAGE_BYTES // 4


def submission_headers(correlation_id: str) -> dict[str, str]:
    """A submission's headers; a batch's messages share one such dict (≈ 5 us a record less than a copy each)."""
    return {"event_type": "SubmitRecord", "correlation_id": correlation_id}


def submission(settings: Settings, record: ReportedRecord, correlation_id: str,
               headers: dict[str, str] | None = None) -> OutboxMessage:
    """A record's SubmitRecord on pars.submissions, keyed by provider and credit ID so an Add and its Delete
    stay in order. `headers`: submission_headers(correlation_id), when the caller holds one for many messages."""
    command = SubmitRecord(record=record, correlation_id=correlation_id, provider_id=record.provider_id,
                           record_id=record.record_id, submission_id=record.submission_id)
    return OutboxMessage(topic=settings.topic(SUBMISSIONS.name), value=command.to_bytes(),
                         key=f"{record.provider_id}:{record.credit_id}".encode(),
                         headers=submission_headers(correlation_id) if headers is None else headers)


def message_bytes(message: OutboxMessage) -> int:
    return (len(message.value) + len(message.key or b"")
            + sum(len(k.encode()) + len(v.encode()) for k, v in message.headers.items()))


def _shown(text: str, chars: int = 40) -> str:
    """A caller's value, cut short and with anything unencodable escaped, to name it in a message."""
    cut = text[:chars].encode("utf-8", "backslashreplace").decode("utf-8")
    return cut + ("..." if len(text) > chars else "")


def largest_field(record: ReportedRecord) -> tuple[str, int]:
    """The record's field that takes most room once encoded, and how much."""
    sizes: dict[str, Any] = record.model_dump(mode="json")
    return max(((name, len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")))
                for name, value in sizes.items()), key=lambda pair: pair[1])


def refuse_oversized(records: list[ReportedRecord], messages: list[OutboxMessage]) -> None:
    """413 naming the target and the field when a record's message would be over MAX_SUBMISSION_BYTES."""
    details = []
    for record, message in zip(records, messages, strict=True):
        size = message_bytes(message)
        if size > MAX_SUBMISSION_BYTES:
            field, field_size = largest_field(record)
            details.append({"field": field, "target": _shown(record.target.code),
                            "reason": f"the record for this target would be {size:,} bytes, {field_size:,} of them"
                                      f" {field}; at most {MAX_SUBMISSION_BYTES:,} bytes are allowed"})
    if details:
        first = details[0]
        raise ApiError(413, "record_too_large",
                       f"The record for target '{first['target']}' is too large to keep: its {first['field']} is "
                       f"too long ({first['reason']}). Nothing was kept.", details)
