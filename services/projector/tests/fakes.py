"""projector.ports kept in dicts, for handler tests without PostgreSQL. Rows are as the SQL leaves them (JSON columns
decoded); a batch's writes land only when its block ends without raising, as a transaction's would."""

import copy
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from projector.events import RecordEvent
from projector.folding import RecordChange, RejectionRow, new_row
from projector.storage import RECORD_COLUMNS
from shared.world import Activity

Row = dict[str, Any]
JSON_COLUMNS = ("credit_types", "errors")


@dataclass
class Generation:
    timeline: dict[UUID, RecordEvent] = field(default_factory=dict)  # by event id, in the order applied
    records: dict[UUID, Row] = field(default_factory=dict)
    rejections: dict[UUID, RejectionRow] = field(default_factory=dict)


@dataclass
class FakeProjection:
    active_generation: Generation = field(default_factory=Generation)
    activities: dict[str, Activity] = field(default_factory=dict)
    transactions: int = 0
    fail_on_rejections: bool = False  # the transaction fails on its last statement

    @asynccontextmanager
    async def active(self) -> AsyncIterator["FakeGeneration"]:
        self.transactions += 1
        writer = FakeGeneration(copy.deepcopy(self.active_generation), fail=self.fail_on_rejections)
        yield writer
        self.active_generation = writer.generation  # committed

    async def save_activities(self, activities: Sequence[Activity]) -> None:
        self.activities.update((a.id, a) for a in activities)


class FakeGeneration:
    def __init__(self, generation: Generation, *, fail: bool) -> None:
        self.generation = generation
        self._fail = fail

    async def append_timeline(self, events: Sequence[RecordEvent]) -> set[UUID]:
        fresh = {e.event_id for e in events if e.event_id not in self.generation.timeline}
        for e in events:
            self.generation.timeline.setdefault(e.event_id, e)
        return fresh

    async def save_changes(self, changes: dict[UUID, RecordChange]) -> None:
        records = self.generation.records
        had = set(records)  # the UPDATE does not see the rows the same statement inserts
        for change in changes.values():
            values = new_row(change)
            if values is not None and values[0] not in records:
                row = dict(zip(RECORD_COLUMNS, values, strict=True))
                records[values[0]] = row | {c: json.loads(bytes(row[c])) for c in JSON_COLUMNS}
        for record_id, change in changes.items():
            p = change.existing
            if p and record_id in had:
                row = records[record_id]
                row["status"] = p.status if p.status is not None else row["status"]
                row["errors"] = json.loads(bytes(p.errors)) if p.errors is not None else row["errors"]
                row["deleted"] = row["deleted"] or p.deleted
                row["updated_at"] = p.updated_at

    async def save_rejections(self, rows: Sequence[RejectionRow]) -> None:
        if self._fail:
            raise ConnectionError("the database went away")
        for row in rows:
            self.generation.rejections.setdefault(row.record_id, row)
