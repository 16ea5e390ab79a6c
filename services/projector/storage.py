"""The projection schema: records, their timelines and PARS's rejections, in generations (see migrations/0003)."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from projector.events import RecordEvent
from projector.folding import RecordChange, RejectionRow, new_row
from shared.db import Connection, array_columns
from shared.projection import RECORD_COLUMNS, REJECTION_COLUMNS
from shared.world import Activity


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


async def active_tables(conn: Connection, *, lock: str = "SHARE") -> Tables:
    """The generation to write; FOR SHARE keeps a rebuild from swapping it mid-batch (FOR UPDATE: the swap)."""
    return Tables(await conn.fetchval(f"SELECT active FROM projection_state FOR {lock}"))


async def append_timeline(conn: Connection, t: Tables, events: Sequence[RecordEvent]) -> set[UUID]:
    """Add the events to their records' timelines, each as it came; answer the ids that were new (the ones to
    apply). One statement for the batch."""
    rows = await conn.fetch(
        f"INSERT INTO {t.events} (event_id, record_id, event_type, occurred_at, payload)"
        " SELECT e, r, k, o, convert_from(p, 'UTF8')::json"
        " FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::bytea[]) AS x(e, r, k, o, p)"
        " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
        [e.event_id for e in events], [e.record_id for e in events], [e.event_type for e in events],
        [e.occurred_at for e in events], [e.raw for e in events],
    )
    return {r["event_id"] for r in rows}


assert tuple(REJECTION_COLUMNS) == RejectionRow._fields


def _unnest(columns: dict[str, str], first: int) -> str:
    """SELECT … FROM unnest($first…) of one array per column; JSON columns arrive as bytea."""
    kinds = list(columns.values())
    names = ", ".join(f"convert_from(c{i}, 'UTF8')::jsonb" if k == "json" else f"c{i}" for i, k in enumerate(kinds))
    arrays = ", ".join(f"${first + i}::{'bytea' if kind == 'json' else kind}[]" for i, kind in enumerate(kinds))
    return f"SELECT {names} FROM unnest({arrays}) AS x({', '.join(f'c{i}' for i in range(len(columns)))})"


def _save_changes_sql(t: Tables) -> str:
    # One statement: the CTE inserts the rows the batch creates; the UPDATE, which (same snapshot) cannot see
    # them, patches the rows the projection had. A record the projection has ignores its row in the first part.
    n = len(RECORD_COLUMNS)
    return (
        f"WITH created AS (INSERT INTO {t.records} ({', '.join(RECORD_COLUMNS)}) {_unnest(RECORD_COLUMNS, 1)}"
        " ON CONFLICT (record_id) DO NOTHING)"
        f" UPDATE {t.records} AS r SET status = coalesce(p.status, r.status),"
        " errors = coalesce(convert_from(p.errors, 'UTF8')::jsonb, r.errors), deleted = r.deleted OR p.deleted,"
        " updated_at = p.updated_at"
        f" FROM unnest(${n + 1}::uuid[], ${n + 2}::text[], ${n + 3}::bytea[], ${n + 4}::boolean[],"
        f" ${n + 5}::timestamptz[]) AS p(record_id, status, errors, deleted, updated_at)"
        " WHERE r.record_id = p.record_id"
    )


async def save_changes(conn: Connection, t: Tables, changes: dict[UUID, RecordChange]) -> None:
    """Write what a batch does to its records (folding.RecordChange), in one statement."""
    rows = [row for change in changes.values() if (row := new_row(change)) is not None]
    patched = [(record_id, c.existing) for record_id, c in changes.items() if c.existing]
    if not rows and not patched:
        return
    await conn.execute(
        _save_changes_sql(t), *array_columns(rows, len(RECORD_COLUMNS)),
        [i for i, _ in patched], [p.status for _, p in patched], [p.errors for _, p in patched],
        [p.deleted for _, p in patched], [p.updated_at for _, p in patched],
    )


async def save_rejections(conn: Connection, t: Tables, rows: Sequence[RejectionRow]) -> None:
    """Keep PARS's rejections; one seen before stays as it was (a record is judged once). One statement."""
    if rows:
        await conn.execute(
            f"INSERT INTO {t.rejections} ({', '.join(REJECTION_COLUMNS)}) {_unnest(REJECTION_COLUMNS, 1)}"
            " ON CONFLICT (record_id) DO NOTHING",
            *array_columns(rows, len(REJECTION_COLUMNS)),
        )


def activity_row(a: Activity) -> tuple:
    return (a.id, a.provider_id, a.title, a.format, a.start_date, a.end_date)


UPSERT_ACTIVITY = (
    "INSERT INTO activities (id, provider_id, title, format, start_date, end_date) VALUES ($1, $2, $3, $4, $5, $6)"
    " ON CONFLICT (id) DO UPDATE SET provider_id = EXCLUDED.provider_id, title = EXCLUDED.title,"
    " format = EXCLUDED.format, start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date"
)


class SqlGeneration:
    """projector.ports.GenerationWriter: one generation's tables, in the caller's transaction."""

    def __init__(self, conn: Connection, tables: Tables) -> None:
        self._conn = conn
        self._tables = tables

    async def append_timeline(self, events: Sequence[RecordEvent]) -> set[UUID]:
        return await append_timeline(self._conn, self._tables, events)

    async def save_changes(self, changes: dict[UUID, RecordChange]) -> None:
        await save_changes(self._conn, self._tables, changes)

    async def save_rejections(self, rows: Sequence[RejectionRow]) -> None:
        await save_rejections(self._conn, self._tables, rows)


class SqlProjection:
    """projector.ports.ProjectionStore over the projection schema."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def active(self) -> AsyncIterator[SqlGeneration]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield SqlGeneration(conn, await active_tables(conn))

    async def save_activities(self, activities: Sequence[Activity]) -> None:
        await self._pool.executemany(UPSERT_ACTIVITY, [activity_row(a) for a in activities])
