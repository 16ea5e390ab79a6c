"""What validation's status tracking reads of pars.record-events: each event's type and record, decoded by msgspec.

pydantic's decode of the whole event (shared.events.record_event_adapter, every event type's model) took ≈ 5% of
validation's samples while files were ingested, for two fields. The structs mirror those models' JSON (the tag is
`event_type`); a message of another type, or whose ids are not UUIDs, fails to decode and is dead-lettered as before.
"""

from typing import ClassVar, Protocol
from uuid import UUID

import msgspec


class MovesStatus(Protocol):
    """What the tracker reads of an event: these structs, or shared.events' models."""

    @property
    def event_type(self) -> str: ...

    @property
    def record_id(self) -> UUID | None: ...


class StatusEvent(msgspec.Struct, tag_field="event_type", kw_only=True):
    event_type: ClassVar[str]
    event_id: UUID
    record_id: UUID | None = None


class RecordAccepted(StatusEvent, tag="RecordAccepted"):
    event_type: ClassVar[str] = "RecordAccepted"


class RecordRejected(StatusEvent, tag="RecordRejected"):
    event_type: ClassVar[str] = "RecordRejected"


class DeleteSubmitted(StatusEvent, tag="DeleteSubmitted"):
    event_type: ClassVar[str] = "DeleteSubmitted"


class RecordDeleted(StatusEvent, tag="RecordDeleted"):
    event_type: ClassVar[str] = "RecordDeleted"


_decoder: msgspec.json.Decoder[RecordAccepted | RecordRejected | DeleteSubmitted | RecordDeleted] = (
    msgspec.json.Decoder(RecordAccepted | RecordRejected | DeleteSubmitted | RecordDeleted))


def decode_status_event(value: bytes) -> StatusEvent:
    return _decoder.decode(value)
