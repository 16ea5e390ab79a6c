"""What validation's handlers need of storage, as protocols: storage.py keeps them in PostgreSQL, the handler tests
in dicts (tests/fakes.py)."""

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from shared.boards import Board
from shared.events import LearnerRecord, SubmitRecord
from shared.lifecycle import RecordStatus
from shared.outbox import KeptRows, OutboxMessage
from shared.world import Activity
from validation.matching import DirectoryEntry
from validation.rules import RosterEntry

LiveKey = tuple[str, str, str]  # provider ID, credit ID, target code


@dataclass(frozen=True)
class LiveRecord:
    """A record holding its credit ID, with its status as the record events tell it."""

    record: LearnerRecord
    status: RecordStatus


@dataclass(frozen=True)
class Known:
    """What every batch reads first, in one round trip: the boards, the records' activities, the live records holding
    their credit IDs."""

    boards: dict[str, Board]
    activities: dict[str, Activity]
    live: dict[LiveKey, LiveRecord]


class LookupReader(Protocol):
    """What a batch of records reads before it is decided (lookups.fetch)."""

    async def known(self, activity_ids: Iterable[str], live_keys: Iterable[LiveKey]) -> Known: ...

    async def roster_entries(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], RosterEntry]: ...

    async def directory_candidates(self, *, licenses: Iterable[tuple[str, str]] = (), npis: Iterable[str] = (),
                                   names: Iterable[tuple[str, str]] = (),
                                   certifications: Iterable[tuple[str, str]] = ()) -> list[DirectoryEntry]: ...


class SubmissionBatch(LookupReader, Protocol):
    """One batch of SubmitRecord commands: its reads, then its writes at once (`keep`)."""

    async def fresh_and_known(self, commands: list[SubmitRecord], activity_ids: Iterable[str],
                              live_keys: Iterable[LiveKey]) -> tuple[list[SubmitRecord], Known]:
        """The commands not handled before (each once) and `known` (of every command: a command handled before only
        adds entries nobody looks up), in the same round trip. Claims nothing: `keep` does."""
        ...

    async def keep(self, before: dict[LiveKey, LiveRecord], after: dict[LiveKey, LiveRecord],
                   submitted: Mapping[UUID, bytes], handled: Sequence[UUID],
                   messages: Sequence[OutboxMessage]) -> KeptRows:
        """All or nothing: the commands `handled` claimed (fails if one was claimed meanwhile: the batch is retried),
        what the batch changed of the live records (`submitted`: the JSON of the RecordSubmitted event of each
        record it kept), and its events kept in the outbox; answers the rows to publish now that they are kept."""
        ...


class SubmissionStore(Protocol):
    def batch(self) -> AbstractAsyncContextManager[SubmissionBatch]:
        """One batch's connection to storage: nothing is kept but by its `keep`."""
        ...

    def reading(self) -> AbstractAsyncContextManager[LookupReader]:
        """Reads outside a transaction (the dry run keeps nothing)."""
        ...

    async def publish(self, rows: KeptRows) -> None:
        """After the commit: hand the batch's events to be sent, in order; may return before Kafka has them (the
        outbox relay sends whatever is not sent)."""
        ...


class StatusStore(Protocol):
    async def track_statuses(self, statuses: list[tuple[UUID, RecordStatus]], gone: list[UUID]) -> None:
        """Live records' new statuses (a record named twice takes its last), and the records deleted."""
        ...
