"""Idempotent consumption: a message's business id is claimed in the transaction that applies it."""

from collections.abc import Iterable, Sequence
from typing import TypeVar
from uuid import UUID

import asyncpg

from shared.events import Envelope


async def claim_new(conn: asyncpg.Connection, event_ids: Iterable[UUID]) -> set[UUID]:
    """Record these ids as processed; answer the ones not processed before (the work still to do)."""
    rows = await conn.fetch(
        "INSERT INTO processed_events (event_id) SELECT DISTINCT unnest($1::uuid[])"
        " ON CONFLICT DO NOTHING RETURNING event_id",
        list(event_ids),
    )
    return {r["event_id"] for r in rows}


E = TypeVar("E", bound=Envelope)


def keep_fresh(events: Sequence[E], fresh: set[UUID]) -> list[E]:
    """The events whose ids are in `fresh`, in log order, each once (a batch may hold a duplicate)."""
    todo, left = [], set(fresh)
    for event in events:
        if event.event_id in left:
            left.discard(event.event_id)
            todo.append(event)
    return todo


async def fresh_only(conn: asyncpg.Connection, events: Sequence[E]) -> list[E]:
    """The events not applied before, claimed in this transaction."""
    return keep_fresh(events, await claim_new(conn, (e.event_id for e in events)))
