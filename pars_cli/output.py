"""What listing commands print with `--json`: one JSON array of objects, times in ISO 8601, for scripts and jq."""

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import asyncpg


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def to_json(rows: Iterable[Mapping[str, Any] | asyncpg.Record]) -> str:
    return json.dumps([{k: _plain(v) for k, v in dict(r).items()} for r in rows], indent=1)
