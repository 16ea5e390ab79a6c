"""Loads the world file's activities into the projection (titles and formats for the activity summary)."""

import asyncpg

from projector.storage import SqlProjection
from shared.world import World


async def load_world(pool: asyncpg.Pool, world: World) -> None:
    await SqlProjection(pool).save_activities(world.activities)
