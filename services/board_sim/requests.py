"""Board-sim's reading of a board's requests (shared.events.ProcessBoardRequest), decoded by msgspec.

Decoding each request into the pydantic model was board-sim's largest cost per record (13.5% of its busy samples
at scale; about 20 µs of a request's 90 in `python -m bench boards`). These structs mirror the model's JSON, as
far as judging a request and answering it read it (services/board_sim/tests/test_requests.py ties them to the
model); a message that is not a request, or has a field of the wrong type, fails to decode and the consumer
dead-letters it as before.
"""

from datetime import date
from decimal import Decimal
from typing import Literal
from uuid import UUID

import msgspec

from shared.event_views import Target


class Record(msgspec.Struct, kw_only=True):
    """shared.events.LearnerRecord, as far as a board judges and grants it."""

    record_id: UUID
    submission_id: UUID
    provider_id: str
    credit_id: str
    activity_id: str
    first_name: str
    last_name: str
    completion_date: date
    target: Target
    credits: Decimal
    dob: str | None = None
    learner_id: str | None = None
    learner_id_matched: bool = False
    credit_types: dict[str, Decimal] = {}
    activity_max_credits: Decimal | None = None


class BoardRequest(msgspec.Struct, tag_field="event_type", tag="ProcessBoardRequest", kw_only=True):
    event_id: UUID
    request_id: UUID
    action: Literal["add", "delete"]
    record: Record
    correlation_id: str
    provider_id: str
    record_id: UUID | None = None
    submission_id: UUID | None = None


_decoder = msgspec.json.Decoder(BoardRequest)


def decode_request(value: bytes) -> BoardRequest:
    """What the consumer makes of each message on a board's request topic."""
    return _decoder.decode(value)
