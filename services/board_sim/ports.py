"""What a board's desk needs of storage; storage.py answers it with PostgreSQL and the outbox, the tests with
fakes."""

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol
from uuid import UUID

from board_sim.judging import Diplomate, Ledger
from board_sim.requests import BoardRequest
from shared.boards import Board
from shared.events import BoardVerdict
from shared.outbox import KeptRows, OutboxMessage


class DeskTables(Protocol):
    """One transaction over the board-sim tables and its outbox."""

    async def boards(self) -> dict[str, Board]:
        """Every board, with this schema's overrides (latency and faults)."""
        ...

    async def answers(self, request_ids: Iterable[UUID]) -> dict[UUID, BoardVerdict]:
        """The answers given before to any of these requests."""
        ...

    async def diplomates(self, board: str, board_ids: Iterable[str]) -> dict[str, Diplomate]:
        """The board's diplomates with these board IDs."""
        ...

    async def diplomates_named(self, board: str, last_names: Iterable[str]) -> list[Diplomate]:
        """The board's diplomates with these last names (as PARS compares names), for matching without an ID."""
        ...

    async def ledger(self, board: str, keys: Iterable[tuple[str, str]]) -> Ledger:
        """The credit already granted for each (board ID, activity), through PARS or outside it."""
        ...

    async def record_answers(self, answers: list[tuple[BoardVerdict, bytes]]) -> None:
        """Remember each new verdict, given with its JSON, so a request asked again gets the same answer."""
        ...

    async def grant(self, granted: list[BoardRequest]) -> None: ...

    async def withdraw(self, deleted: list[BoardRequest]) -> None: ...

    async def enqueue(self, messages: Sequence[OutboxMessage]) -> KeptRows:
        """Keep the messages in the outbox in this transaction; answers the rows to publish after the commit."""
        ...


class DeskStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[DeskTables]: ...

    async def publish(self, rows: KeptRows) -> None:
        """After the commit: hand the rows due now to be sent, in order; may return before Kafka has them (the relay
        sends the later ones and whatever is not sent)."""
        ...
