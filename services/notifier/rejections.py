"""Which record events a provider hears about, and what each digest line keeps of them; free of Kafka and SQL."""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from notifier.events import Errors, Event, RecordRejected, RecordRejectedByPars

# PARS's own rejections of these channels reach a digest (for providers who asked); an API caller hears at once.
DIGESTED_CHANNELS = ("batch", "ws")


@dataclass(frozen=True, slots=True)
class SubmittedDetails:
    """A submitted record as a digest line shows it, as the notifier kept it until 2026-12-03 (a board's rejection
    carries it since)."""

    activity_id: str
    first_name: str
    last_name: str
    learner_id: str | None
    completion_date: str


@dataclass(frozen=True, slots=True)
class KeptRejection:
    """One rejection waiting for its provider's digest."""

    event_id: UUID
    provider_id: str
    record_id: UUID
    board: str
    errors: Errors
    occurred_at: datetime
    activity_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    learner_id: str | None = None
    completion_date: str | None = None


def digested_by_pars(events: Sequence[Event]) -> list[RecordRejectedByPars]:
    """PARS's own rejections of channels whose providers may ask for them in their digest."""
    return [e for e in events if isinstance(e, RecordRejectedByPars) and e.record.channel in DIGESTED_CHANNELS]


def kept_rejections(events: Sequence[Event], submitted: Mapping[UUID, SubmittedDetails],
                    opted_in: Collection[str]) -> list[KeptRejection]:
    """The rejections to keep, in log order: every board rejection (with the record's details as the rejection
    carries them, or as kept before it did, when known) and PARS's own rejections of batch and web-service records
    for providers who opted in."""
    kept = []
    for e in events:
        if isinstance(e, RecordRejected):
            record_id = e.record_id
            assert record_id is not None  # a board answers about a record
            r = e.record or submitted.get(record_id)
            kept.append(KeptRejection(
                e.event_id, e.provider_id, record_id, e.target.code, e.errors, e.occurred_at,
                *((r.activity_id, r.first_name, r.last_name, r.learner_id, r.completion_date) if r else ())))
        elif (isinstance(e, RecordRejectedByPars) and e.provider_id in opted_in
              and e.record.channel in DIGESTED_CHANNELS):
            rec = e.record
            kept.append(KeptRejection(e.event_id, e.provider_id, rec.record_id, rec.target.code, e.errors,
                                      e.occurred_at, rec.activity_id, rec.first_name, rec.last_name, rec.learner_id,
                                      rec.completion_date))
    return kept
