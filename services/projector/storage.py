"""The projection schema: records and their timelines."""

from collections.abc import Iterable, Sequence
from uuid import UUID

import asyncpg

from projector.folding import RecordRow
from shared.events import Envelope

_COLUMNS = list(RecordRow.model_fields)


async def append_timeline(conn: asyncpg.Connection, events: Sequence[Envelope]) -> set[UUID]:
    """Add the events to their records' timelines; answer the ids that were new (the ones to apply)."""
    rows = await conn.fetch(
        "INSERT INTO record_events (event_id, record_id, event_type, occurred_at, payload)"
        " SELECT e, r, t, o, p::jsonb FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[])"
        " AS x(e, r, t, o, p) ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
        [e.event_id for e in events], [e.record_id for e in events], [e.event_type for e in events],
        [e.occurred_at for e in events], [e.model_dump_json() for e in events],
    )
    return {r["event_id"] for r in rows}


async def load_rows(conn: asyncpg.Connection, record_ids: Iterable[UUID]) -> dict[UUID, RecordRow]:
    rows = await conn.fetch(f"SELECT {', '.join(_COLUMNS)} FROM records WHERE record_id = ANY($1::uuid[])",
                            list(set(record_ids)))
    return {r["record_id"]: RecordRow.model_validate(dict(r)) for r in rows}


async def save_rows(conn: asyncpg.Connection, rows: Iterable[RecordRow]) -> None:
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS if c != "record_id")
    placeholders = ", ".join(f"${i}" for i in range(1, len(_COLUMNS) + 1))
    await conn.executemany(
        f"INSERT INTO records ({', '.join(_COLUMNS)}) VALUES ({placeholders})"
        f" ON CONFLICT (record_id) DO UPDATE SET {updates}",
        [tuple(_db_value(c, getattr(row, c)) for c in _COLUMNS) for row in rows],
    )


def _db_value(column: str, value: object) -> object:
    if column == "errors":
        return [e.model_dump() for e in value]  # type: ignore[attr-defined]
    if column == "credit_types":
        return {k: str(v) for k, v in value.items()}  # type: ignore[attr-defined]
    return value
