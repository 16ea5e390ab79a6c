"""What the router's handlers need of storage; storage.py answers it with PostgreSQL and the outbox, the tests with
fakes."""

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import NamedTuple, Protocol
from uuid import UUID

from board_router.events import RoutedRecord
from board_router.messages import BoardRequest
from shared.boards import Board
from shared.outbox import KeptRows, OutboxMessage


class SentRequest(NamedTuple):
    """A request a verdict answers: open, or settled by `verdict_id`."""

    request_id: UUID
    record_id: UUID
    correlation_id: str
    verdict_id: UUID | None


class OverdueRequest(NamedTuple):
    """An open request past its board's answer time."""

    request_id: UUID
    record_id: UUID
    action: str
    correlation_id: str
    board: str


class RouterTables(Protocol):
    """One transaction over the router's tables and its outbox."""

    async def boards(self) -> dict[str, Board]:
        """Every board, with this schema's overrides (deadlines and latency it routes by)."""
        ...

    async def remember_records(self, records: list[RoutedRecord]) -> None: ...

    async def routed_records(self, record_ids: Iterable[UUID]) -> dict[UUID, RoutedRecord]: ...

    async def open_requests(self, sent: list[tuple[BoardRequest, datetime]]) -> set[UUID]:
        """Each request, with the time its board should have answered by; answers the ids of those not opened
        before (a request's id is its record's and action's: the table is the records hop's claim)."""
        ...

    async def settle_open(self, verdicts: list[tuple[UUID, UUID]]) -> dict[UUID, SentRequest]:
        """(request id, verdict id), each request once: settles those still open with their verdict, locked until the
        commit, and answers them as they were (open)."""
        ...

    async def settled_requests(self, request_ids: Iterable[UUID]) -> dict[UUID, SentRequest]:
        """Those of these requests settled before, with the verdict that settled each (a replay's)."""
        ...

    async def overdue(self, limit: int) -> list[OverdueRequest]:
        """Open requests past their answer time, oldest first, none another instance is asking again."""
        ...

    async def postpone(self, due: list[tuple[UUID, datetime]]) -> None:
        """(request id, new answer time): asked again."""
        ...

    async def enqueue(self, messages: Sequence[OutboxMessage]) -> KeptRows:
        """Keep the messages in the outbox in this transaction; answers the rows to publish after the commit."""
        ...


class RouterStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[RouterTables]: ...

    async def publish(self, rows: KeptRows) -> None:
        """After the commit: hand the rows to be sent, in order; may return before Kafka has them (the relay sends
        whatever is not sent)."""
        ...
