"""Follows pars.record-events and notes, for each batch record, what validation decided.

A batch is complete once every record it reported has an outcome: added (Submitted, or a Delete taken) or
rejected (Rejected by PARS, with its codes). The consumer group commits only after the outcomes are written,
so a restart resumes where it stopped and a redelivery changes nothing.
"""

import asyncpg

from intake.batches import storage
from intake.batches.storage import Outcome
from intake.waiters import outcome
from shared.consumer import Delivery
from shared.events import Envelope, RecordRejectedByPars, RecordSubmitted


def outcome_of(event: Envelope) -> Outcome | None:
    """The batch outcome an event announces (the same reading `?wait=true` callers get); None if none."""
    answer = outcome(event)
    if answer is None or (isinstance(event, RecordSubmitted | RecordRejectedByPars) and event.record.batch_id is None):
        return None  # not a batch's record (a Delete's outcome is checked against the table instead)
    return Outcome(answer.record_id, "rejected" if answer.status == "Rejected by PARS" else "added", answer.errors)


class BatchOutcomes:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def __call__(self, batch: list[Delivery[Envelope]]) -> None:
        outcomes = [o for d in batch if (o := outcome_of(d.message)) is not None]
        if outcomes:
            async with self._pool.acquire() as conn, conn.transaction():
                await storage.apply_outcomes(conn, outcomes)
