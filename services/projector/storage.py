"""The projection schema: records, their timelines and PARS's rejections, in generations (see migrations/0003)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from projector.folding import RecordRow, RejectionRow
from shared.events import Envelope

_COLUMNS = list(RecordRow.model_fields)
_REJECTION_COLUMNS = list(RejectionRow.model_fields)


@dataclass(frozen=True)
class Tables:
    """One generation of the projection's tables (readers see the active one through views)."""

    generation: int

    @property
    def records(self) -> str:
        return f"records_g{self.generation}"

    @property
    def events(self) -> str:
        return f"record_events_g{self.generation}"

    @property
    def rejections(self) -> str:
        return f"pars_rejections_g{self.generation}"

    @property
    def all(self) -> tuple[str, str, str]:
        return self.records, self.events, self.rejections


async def active_tables(conn: asyncpg.Connection, *, lock: str = "SHARE") -> Tables:
    """The generation to write; FOR SHARE keeps a rebuild from swapping it mid-batch (FOR UPDATE: the swap)."""
    return Tables(await conn.fetchval(f"SELECT active FROM projection_state FOR {lock}"))


async def append_timeline(conn: asyncpg.Connection, t: Tables, events: Sequence[Envelope]) -> set[UUID]:
    """Add the events to their records' timelines; answer the ids that were new (the ones to apply)."""
    rows = await conn.fetch(
        f"INSERT INTO {t.events} (event_id, record_id, event_type, occurred_at, payload)"
        " SELECT e, r, k, o, p::jsonb FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[])"
        " AS x(e, r, k, o, p) ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
        [e.event_id for e in events], [e.record_id for e in events], [e.event_type for e in events],
        [e.occurred_at for e in events], [e.model_dump_json() for e in events],
    )
    return {r["event_id"] for r in rows}


async def load_rows(conn: asyncpg.Connection, t: Tables, record_ids: Iterable[UUID]) -> dict[UUID, RecordRow]:
    rows = await conn.fetch(f"SELECT {', '.join(_COLUMNS)} FROM {t.records} WHERE record_id = ANY($1::uuid[])",
                            list(set(record_ids)))
    return {r["record_id"]: RecordRow.model_validate(dict(r)) for r in rows}


async def save_rows(conn: asyncpg.Connection, t: Tables, rows: Iterable[RecordRow]) -> None:
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS if c != "record_id")
    placeholders = ", ".join(f"${i}" for i in range(1, len(_COLUMNS) + 1))
    await conn.executemany(
        f"INSERT INTO {t.records} ({', '.join(_COLUMNS)}) VALUES ({placeholders})"
        f" ON CONFLICT (record_id) DO UPDATE SET {updates}",
        [tuple(_db_value(c, getattr(row, c)) for c in _COLUMNS) for row in rows],
    )


async def save_rejections(conn: asyncpg.Connection, t: Tables, rows: Iterable[RejectionRow]) -> None:
    """Keep PARS's rejections; one seen before stays as it was (a record is judged once)."""
    placeholders = ", ".join(f"${i}" for i in range(1, len(_REJECTION_COLUMNS) + 1))
    await conn.executemany(
        f"INSERT INTO {t.rejections} ({', '.join(_REJECTION_COLUMNS)}) VALUES ({placeholders})"
        " ON CONFLICT (record_id) DO NOTHING",
        [tuple(_db_value(c, getattr(row, c)) for c in _REJECTION_COLUMNS) for row in rows],
    )


def _db_value(column: str, value: object) -> object:
    if column == "errors":
        return [e.model_dump() for e in value]  # type: ignore[attr-defined]
    if column == "credit_types":
        return {k: str(v) for k, v in value.items()}  # type: ignore[attr-defined]
    return value
