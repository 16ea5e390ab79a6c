"""Loads the world file's activities into the projection (titles and formats for the activity summary)."""

import asyncpg

from shared.world import Activity, World


def activity_row(a: Activity) -> tuple:
    return (a.id, a.provider_id, a.title, a.format, a.start_date, a.end_date)


UPSERT_ACTIVITY = (
    "INSERT INTO activities (id, provider_id, title, format, start_date, end_date) VALUES ($1, $2, $3, $4, $5, $6)"
    " ON CONFLICT (id) DO UPDATE SET provider_id = EXCLUDED.provider_id, title = EXCLUDED.title,"
    " format = EXCLUDED.format, start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date"
)


async def load_world(pool: asyncpg.Pool, world: World) -> None:
    await pool.executemany(UPSERT_ACTIVITY, [activity_row(a) for a in world.activities])
