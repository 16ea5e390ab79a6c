"""The router's storage ports in memory: what the handler tests run against."""

import copy
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from board_router.events import RoutedRecord
from board_router.messages import BoardRequest
from board_router.ports import OverdueRequest, SentRequest
from shared.boards import Board, shipped_boards
from shared.outbox import KeptRows, OutboxMessage, OutboxRow


@dataclass
class RequestRow:
    """A row of the router's requests table."""

    record_id: UUID
    board: str
    action: str
    correlation_id: str
    answer_due: datetime
    attempts: int = 1
    settled: bool = False
    verdict_id: UUID | None = None


@dataclass
class FakeRouterStore:
    """The router's tables and outbox as Python objects; a transaction that raises leaves them as they were."""

    boards_by_code: dict[str, Board] = field(default_factory=shipped_boards)
    routed: dict[UUID, RoutedRecord] = field(default_factory=dict)
    sent: dict[UUID, RequestRow] = field(default_factory=dict)
    outbox: list[OutboxMessage] = field(default_factory=list)
    published: list[OutboxRow] = field(default_factory=list)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator["FakeRouterStore"]:
        saved = copy.deepcopy((self.routed, self.sent, self.outbox))
        try:
            yield self
        except BaseException:
            self.routed, self.sent, self.outbox = saved
            raise

    async def publish(self, rows: KeptRows) -> None:
        self.published.extend(rows)

    async def boards(self) -> dict[str, Board]:
        return self.boards_by_code

    async def remember_records(self, records: list[RoutedRecord]) -> None:
        for r in records:
            self.routed.setdefault(r.record_id, r)

    async def routed_records(self, record_ids: Iterable[UUID]) -> dict[UUID, RoutedRecord]:
        return {i: self.routed[i] for i in record_ids if i in self.routed}

    async def open_requests(self, sent: list[tuple[BoardRequest, datetime]]) -> set[UUID]:
        new = set()
        for q, due in sent:
            if q.request_id not in self.sent:
                self.sent[q.request_id] = RequestRow(q.record.record_id, q.record.target.code, q.action,
                                                     q.correlation_id, due)
                new.add(q.request_id)
        return new

    async def settle_open(self, verdicts: list[tuple[UUID, UUID]]) -> dict[UUID, SentRequest]:
        settled = {}
        for request_id, verdict_id in verdicts:
            if (row := self.sent.get(request_id)) is not None and not row.settled:
                settled[request_id] = SentRequest(request_id, row.record_id, row.correlation_id, None)
                row.settled, row.verdict_id = True, verdict_id
        return settled

    async def settled_requests(self, request_ids: Iterable[UUID]) -> dict[UUID, SentRequest]:
        return {i: SentRequest(i, r.record_id, r.correlation_id, r.verdict_id) for i in request_ids
                if (r := self.sent.get(i)) is not None and r.settled}

    async def overdue(self, limit: int) -> list[OverdueRequest]:
        now = datetime.now(UTC)
        late = sorted((r.answer_due, i) for i, r in self.sent.items() if not r.settled and r.answer_due < now)
        return [OverdueRequest(i, (r := self.sent[i]).record_id, r.action, r.correlation_id, r.board)
                for _, i in late[:limit]]

    async def postpone(self, due: list[tuple[UUID, datetime]]) -> None:
        for request_id, at in due:
            row = self.sent[request_id]
            row.answer_due, row.attempts = at, row.attempts + 1

    async def enqueue(self, messages: Sequence[OutboxMessage]) -> KeptRows:
        start = len(self.outbox)
        self.outbox.extend(messages)
        return KeptRows(OutboxRow(start + n, m.topic, m.key, m.value, m.headers) for n, m in enumerate(messages))
