"""Board-sim's storage ports in memory: what the desk tests run against."""

import copy
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from board_sim.judging import Diplomate, Grant, Ledger
from board_sim.requests import BoardRequest
from shared.boards import Board, shipped_boards
from shared.events import BoardVerdict
from shared.names import name_key
from shared.outbox import KeptRows, OutboxMessage, OutboxRow


@dataclass
class FakeDeskStore:
    """Board-sim's tables and outbox as Python objects; a transaction that raises leaves them as they were."""

    boards_by_code: dict[str, Board] = field(default_factory=shipped_boards)
    roster: dict[tuple[str, str], Diplomate] = field(default_factory=dict)  # (board, board ID)
    credits: dict[str, tuple[str, str, str, Grant]] = field(default_factory=dict)  # (board, board ID, activity, grant)
    answers_given: dict[UUID, BoardVerdict] = field(default_factory=dict)
    outbox: list[OutboxMessage] = field(default_factory=list)
    published: list[OutboxRow] = field(default_factory=list)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator["FakeDeskStore"]:
        saved = copy.deepcopy((self.credits, self.answers_given, self.outbox))
        try:
            yield self
        except BaseException:
            self.credits, self.answers_given, self.outbox = saved
            raise

    async def publish(self, rows: KeptRows) -> None:
        self.published.extend(rows)

    async def boards(self) -> dict[str, Board]:
        return self.boards_by_code

    async def answers(self, request_ids: Iterable[UUID]) -> dict[UUID, BoardVerdict]:
        return {i: self.answers_given[i] for i in request_ids if i in self.answers_given}

    async def diplomates(self, board: str, board_ids: Iterable[str]) -> dict[str, Diplomate]:
        return {i: self.roster[board, i] for i in board_ids if (board, i) in self.roster}

    async def diplomates_named(self, board: str, last_names: Iterable[str]) -> list[Diplomate]:
        keys = {name_key(n) for n in last_names}
        return [d for (b, _), d in self.roster.items() if b == board and name_key(d.last_name) in keys]

    async def ledger(self, board: str, keys: Iterable[tuple[str, str]]) -> Ledger:
        wanted, book = set(keys), Ledger()
        for b, board_id, activity, grant in self.credits.values():
            if b == board and (board_id, activity) in wanted:
                book.of(board_id, activity).append(grant)
        return book

    async def record_answers(self, answers: list[tuple[BoardVerdict, bytes]]) -> None:
        for v, value in answers:
            # Kept as the table keeps it: the JSON given, which a request asked again is answered from.
            self.answers_given.setdefault(v.request_id, BoardVerdict.model_validate_json(value))

    async def grant(self, granted: list[BoardRequest]) -> None:
        for q in granted:
            r = q.record
            self.credits.setdefault(f"record:{r.record_id}", (r.target.code, r.learner_id or "", r.activity_id,
                                                              Grant(r.completion_date, r.credits, r.record_id)))

    async def withdraw(self, deleted: list[BoardRequest]) -> None:
        for q in deleted:
            self.credits.pop(f"record:{q.record.record_id}", None)

    async def enqueue(self, messages: Sequence[OutboxMessage]) -> KeptRows:
        start, now = len(self.outbox), datetime.now(UTC)
        self.outbox.extend(messages)
        # As OutboxWriter: the writer publishes what is due now; the relay sends the rest when due.
        return KeptRows(OutboxRow(start + n, m.topic, m.key, m.value, m.headers) for n, m in enumerate(messages)
                        if m.not_before is None or m.not_before <= now)
