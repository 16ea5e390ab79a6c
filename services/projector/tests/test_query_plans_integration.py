"""The record list's queries stay on indexes at a million records (EXPLAIN on generated rows)."""

import json
from typing import Any

import pytest

from intake.keys import Principal
from intake.records.queries import COLUMNS, order_by, record_filters
from projector.sample_data import fill_records
from shared.db import create_pool, migrate
from shared.service_registry import PROJECTOR
from shared.settings import Settings
from tests.support import plan_nodes

pytestmark = pytest.mark.integration
ROWS = 1_000_000


QUERIES = [
    ({}, "-submission"), ({"activity_id": "210000042"}, "name"), ({"status": "Rejected"}, "-submission"),
    ({"board": "ABA"}, "board"), ({"learner_id": "4242"}, "completion"), ({}, "name"), ({}, "completion"),
    ({"completed_from": "2021-03-01", "completed_to": "2021-03-02"}, "completion"),
]


@pytest.mark.parametrize(("filters", "sort"), QUERIES)
async def test_record_list_queries_use_indexes(settings: Settings, filters: dict, sort: str, million: str) -> None:
    from datetime import date

    typed = {k: date.fromisoformat(v) if k.startswith("completed") else v for k, v in filters.items()}
    every: dict[str, Any] = {
        "activity_id": None, "status": None, "board": None, "name": None, "learner_id": None,
        "completed_from": None, "completed_to": None, **typed}
    where, args = record_filters(Principal("provider", "0008042"), **every)
    pool = await create_pool(settings.database_url, million)
    try:
        raw = await pool.fetchval(f"EXPLAIN (FORMAT JSON) SELECT {COLUMNS} FROM records WHERE {where}"
                                  f" ORDER BY {order_by(sort)} LIMIT 50", *args)
    finally:
        await pool.close()
    nodes = plan_nodes((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"])
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], nodes
    assert any("Index" in n["Node Type"] for n in nodes)


@pytest.fixture(scope="module")
async def million(servers: dict[str, str]) -> str:
    """A projection schema holding a million generated records, made once for the module."""
    settings = Settings(kafka_bootstrap_servers=servers["PARS_KAFKA_BOOTSTRAP_SERVERS"],
                        database_url=servers["PARS_DATABASE_URL"], namespace="planmillion")
    schema = settings.schema(PROJECTOR.schema)
    pool = await create_pool(settings.database_url, schema)
    try:
        await migrate(pool, schema, PROJECTOR.package)
        await fill_records(pool, ROWS)
    finally:
        await pool.close()
    return schema
