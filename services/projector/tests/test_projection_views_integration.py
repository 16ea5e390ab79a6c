"""The projection's views have exactly the columns shared.projection promises its readers (intake)."""

import pytest

from shared.db import create_pool, migrate
from shared.projection import RECORD_COLUMNS, REJECTION_COLUMNS
from shared.service_registry import PROJECTOR
from shared.settings import Settings

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("view", "promised"), [("records", RECORD_COLUMNS), ("pars_rejections", REJECTION_COLUMNS)])
async def test_each_view_has_the_promised_columns(settings: Settings, view: str, promised: dict[str, str]) -> None:
    schema = settings.schema(PROJECTOR.schema)
    pool = await create_pool(settings.database_url, schema)
    try:
        await migrate(pool, schema, PROJECTOR.package)
        columns = {r["column_name"]: r["data_type"] for r in await pool.fetch(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
            schema, view)}
    finally:
        await pool.close()
    assert set(columns) == set(promised), f"{view}: the view and shared.projection disagree"
    for name, kind in promised.items():  # the type each is sent as: JSON goes as text into a jsonb column
        assert columns[name].startswith({"json": "json", "timestamptz": "timestamp with time zone"}.get(kind, kind))
