"""Idempotent consumption: a message's business id is claimed in the transaction that applies it.

Ids are kept for a window (`Settings.processed_events_keep_days`), then pruned (`keep_pruned`): a message can be
delivered again only while Kafka still holds it, and its id was claimed after it was written (docs/DESIGN-NOTES.md,
"Retention of processed_events")."""

import asyncio
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Protocol, TypeVar
from uuid import UUID

import asyncpg

from shared.db import DATABASE_UNAVAILABLE, Connection
from shared.logging import get_logger

log = get_logger(__name__)
PRUNE_BATCH = 2000  # ids per DELETE: a short transaction that holds few locks
PRUNE_PAUSE = 0.05  # seconds between batches, so a large backlog never hogs the database
# A pruning round fails on these without a bug: PostgreSQL away, the pool closed under it, the network.
_PRUNING_OUTLIVES: tuple[type[Exception], ...] = (*DATABASE_UNAVAILABLE, asyncpg.InterfaceError, OSError)


async def claim_new(conn: Connection, event_ids: Iterable[UUID]) -> set[UUID]:
    """Record these ids as processed; answer the ones not processed before (the work still to do)."""
    rows = await conn.fetch(
        "INSERT INTO processed_events (event_id) SELECT DISTINCT unnest($1::uuid[])"
        " ON CONFLICT DO NOTHING RETURNING event_id",
        list(event_ids),
    )
    return {r["event_id"] for r in rows}


def handled_before(ids: str) -> str:
    """SQL: an array of the ids among `ids` (a uuid[] parameter, e.g. "$5") claimed before, for a statement that
    reads what a batch needs without claiming it (the claim comes with the batch's writes: `claim_all`)."""
    return f"ARRAY(SELECT event_id FROM processed_events WHERE event_id = ANY({ids}::uuid[]))"


def claim_all(ids: str) -> str:
    """SQL: a data-modifying CTE (`claimed`) that claims every id of `ids` (a uuid[] parameter, each once), for the
    statement that applies them. Unlike `claim_new` it fails on an id claimed meanwhile, and the statement with it:
    for a writer that checked `handled_before` first, that is another instance having applied the same message."""
    return f"claimed AS (INSERT INTO processed_events (event_id) SELECT unnest({ids}::uuid[]))"


class Identified(Protocol):
    """A message with its business id: shared's pydantic events, and the msgspec events the projector and the notifier
    decode for speed."""

    @property
    def event_id(self) -> UUID: ...


E = TypeVar("E", bound=Identified)


def keep_fresh(events: Sequence[E], fresh: set[UUID]) -> list[E]:
    """The events whose ids are in `fresh`, in log order, each once (a batch may hold a duplicate)."""
    todo, left = [], set(fresh)
    for event in events:
        if event.event_id in left:
            left.discard(event.event_id)
            todo.append(event)
    return todo


async def fresh_only(conn: Connection, events: Sequence[E]) -> list[E]:
    """The events not applied before, claimed in this transaction."""
    return keep_fresh(events, await claim_new(conn, (e.event_id for e in events)))


# The oldest ids past the window, at most $2; SKIP LOCKED: another instance of the service pruning at once takes others.
_PRUNE = """
WITH old AS (
    SELECT event_id FROM processed_events WHERE processed_at < now() - $1::interval
    ORDER BY processed_at LIMIT $2 FOR UPDATE SKIP LOCKED
)
DELETE FROM processed_events p USING old WHERE p.event_id = old.event_id
"""


async def prune_processed(pool: asyncpg.Pool, keep: timedelta, *, batch: int = PRUNE_BATCH,
                          pause: float = PRUNE_PAUSE) -> int:
    """Delete the ids claimed more than `keep` ago, `batch` per statement (index processed_events_by_age); answer
    how many went."""
    total = 0
    while True:
        deleted = int((await pool.execute(_PRUNE, keep, batch)).split()[-1])
        total += deleted
        if deleted < batch:
            return total
        await asyncio.sleep(pause)


async def keep_pruned(pool: asyncpg.Pool, keep: timedelta, every: float) -> None:
    """Prune now, then every `every` seconds, until cancelled (every instance of a service does: see _PRUNE)."""
    while True:
        try:
            if deleted := await prune_processed(pool, keep):
                log.info("processed event ids pruned", ids=deleted, keep_days=keep / timedelta(days=1))
        except _PRUNING_OUTLIVES as exc:
            log.warning("pruning processed event ids failed; the next round retries", error=repr(exc))
        except Exception:  # keep going: a bug in one round must not stop every round after it
            log.exception("pruning processed event ids failed")
        await asyncio.sleep(every)
