"""The batch tests' intake schema on the session's PostgreSQL: migrated, with the provider their files report for."""

from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared.db import create_pool, migrate
from shared.service_registry import INTAKE
from shared.settings import Settings

P = "0008001"  # the provider of the tests' batches


@pytest.fixture
async def intake_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    schema = settings.schema(INTAKE.schema)
    pool = await create_pool(settings.database_url, schema)
    try:
        await migrate(pool, schema, INTAKE.package)
        await pool.execute("INSERT INTO providers (id, name, email) VALUES ($1, 'p', 'p@example.org')"
                           " ON CONFLICT DO NOTHING", P)
        yield pool
    finally:
        await pool.close()
