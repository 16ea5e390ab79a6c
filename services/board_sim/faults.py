"""Fault injection: which answers a board drops, repeats, holds back or sends out of order; seeded."""

import random
from datetime import datetime, timedelta
from uuid import UUID

from shared.boards import BoardFaults


class BoardCrash(RuntimeError):
    """The simulated board fell over in the middle of a batch (nothing of it is committed)."""


def deliveries(faults: BoardFaults | None, request_event_id: UUID, answer_at: datetime) -> list[datetime]:
    """When each copy of one answer leaves: none (dropped), one, or two (duplicated)."""
    if faults is None:
        return [answer_at]
    dice = random.Random(f"{faults.seed}:{request_event_id}")  # the same request message, the same fate
    if dice.random() < faults.drop:
        return []
    at = answer_at + timedelta(seconds=dice.uniform(0, faults.reorder_seconds))
    if dice.random() < faults.delay:
        at += timedelta(seconds=dice.uniform(0, faults.max_delay_seconds))
    copies = [at]
    if dice.random() < faults.duplicate:
        copies.append(at + timedelta(seconds=dice.uniform(0, max(faults.reorder_seconds, 1.0))))
    return copies


class CrashDice:
    """Whether the next batch crashes: a process-wide sequence, so a redelivered batch gets new dice."""

    def __init__(self, faults: BoardFaults | None) -> None:
        self._faults = faults
        self._dice = random.Random(faults.seed if faults else 0)

    def roll(self) -> None:
        if self._faults is not None and self._dice.random() < self._faults.crash:
            raise BoardCrash("simulated board crash")
