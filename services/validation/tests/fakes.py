"""validation.ports kept in dicts, for handler tests without PostgreSQL: a batch's writes land only when its block
ends without raising, as a transaction's would."""

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from uuid import UUID

from shared.boards import Board, shipped_boards
from shared.events import SubmitRecord
from shared.lifecycle import RecordStatus
from shared.outbox import KeptRows, OutboxMessage, OutboxRow
from shared.world import Activity
from validation.matching import DirectoryEntry
from validation.ports import Known, LiveKey, LiveRecord
from validation.rules import RosterEntry


@dataclass
class FakeValidationStore:
    """SubmissionStore and StatusStore at once, as the validation schema holds both."""

    activities_by_id: dict[str, Activity] = field(default_factory=dict)
    boards_by_code: dict[str, Board] = field(default_factory=shipped_boards)
    live: dict[LiveKey, LiveRecord] = field(default_factory=dict)
    roster: dict[tuple[str, str], RosterEntry] = field(default_factory=dict)
    directory: list[DirectoryEntry] = field(default_factory=list)
    handled: set[UUID] = field(default_factory=set)  # the inbox: command ids handled before
    outbox: list[OutboxMessage] = field(default_factory=list)
    published: list[OutboxMessage] = field(default_factory=list)
    fail_on_enqueue: bool = False  # keeping the batch fails after deciding

    @asynccontextmanager
    async def batch(self) -> AsyncIterator["FakeBatch"]:
        tx = FakeBatch(self)
        yield tx
        tx.commit()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator["FakeBatch"]:
        yield FakeBatch(self)  # never committed: a dry run keeps nothing

    async def publish(self, rows: KeptRows) -> None:
        self.published += [self.outbox[row.id] for row in rows]

    async def track_statuses(self, statuses: list[tuple[UUID, RecordStatus]], gone: list[UUID]) -> None:
        last = dict(statuses)
        for key, held in list(self.live.items()):
            if held.record.record_id in gone:
                del self.live[key]
            elif held.record.record_id in last:
                self.live[key] = LiveRecord(held.record, last[held.record.record_id])


class FakeBatch:
    def __init__(self, store: FakeValidationStore) -> None:
        self._store = store
        self._claimed: set[UUID] = set()
        self._live: dict[LiveKey, LiveRecord] | None = None
        self._messages: list[OutboxMessage] = []

    def commit(self) -> None:
        s = self._store
        s.handled |= self._claimed
        if self._live is not None:
            s.live = self._live
        s.outbox = self._messages  # only this batch's rows are published; earlier ones went already

    async def known(self, activity_ids: Iterable[str], live_keys: Iterable[LiveKey]) -> Known:
        s = self._store
        return Known(dict(s.boards_by_code),
                     {i: s.activities_by_id[i] for i in set(activity_ids) if i in s.activities_by_id},
                     {k: s.live[k] for k in set(live_keys) if k in s.live})

    async def roster_entries(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], RosterEntry]:
        return {k: self._store.roster[k] for k in set(keys) if k in self._store.roster}

    async def directory_candidates(self, *, licenses: Iterable[tuple[str, str]] = (), npis: Iterable[str] = (),
                                   names: Iterable[tuple[str, str]] = (),
                                   certifications: Iterable[tuple[str, str]] = ()) -> list[DirectoryEntry]:
        return list(self._store.directory)  # matching itself picks among them

    async def fresh_and_known(self, commands: list[SubmitRecord], activity_ids: Iterable[str],
                              live_keys: Iterable[LiveKey]) -> tuple[list[SubmitRecord], Known]:
        fresh, seen = [], set()
        for c in commands:
            if c.event_id not in self._store.handled and c.event_id not in seen:
                seen.add(c.event_id)
                fresh.append(c)
        return fresh, await self.known(activity_ids, live_keys)

    async def keep(self, before: dict[LiveKey, LiveRecord], after: dict[LiveKey, LiveRecord],
                   submitted: Mapping[UUID, bytes], handled: Sequence[UUID],
                   messages: Sequence[OutboxMessage]) -> KeptRows:
        if self._store.fail_on_enqueue:
            raise ConnectionError("the database went away")
        if self._store.handled.intersection(handled):  # claimed meanwhile: the real statement fails likewise
            raise RuntimeError("duplicate key value violates unique constraint processed_events_pkey")
        live = dict(self._store.live)
        for key in before.keys() - after.keys():
            live.pop(key, None)
        live.update(after)
        self._claimed, self._live, self._messages = set(handled), live, list(messages)
        return KeptRows(OutboxRow(id=n, topic=m.topic, key=m.key, value=m.value, headers=m.headers)
                        for n, m in enumerate(messages))
