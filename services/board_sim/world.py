"""Loads rosters, prior credits and board overrides from the world file into the board-sim schema."""

import asyncpg

from shared.board_overrides import write_overrides
from shared.names import name_key
from shared.world import World


async def load_world(pool: asyncpg.Pool, world: World) -> None:
    roster, prior = [], []
    for p in world.physicians:
        for cert in p.certifications:
            names = cert.roster
            last_name = (names and names.last_name) or p.last_name
            roster.append((cert.board, cert.id, (names and names.first_name) or p.first_name, last_name,
                           (names and names.dob) or p.dob, name_key(last_name)))
            for c in cert.prior_credits:
                key = f"prior:{cert.board}:{cert.id}:{c.activity_id}:{c.completion_date.isoformat()}"
                prior.append((key, cert.board, cert.id, c.activity_id, c.completion_date, c.points))
    async with pool.acquire() as conn, conn.transaction():
        await write_overrides(conn, world.boards)
        await conn.executemany(
            "INSERT INTO roster (board, board_id, first_name, last_name, dob, last_name_key)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (board, board_id) DO UPDATE SET"
            " first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, dob = EXCLUDED.dob,"
            " last_name_key = EXCLUDED.last_name_key",
            roster,
        )
        await conn.executemany(
            "INSERT INTO credits (credit_key, board, board_id, activity_id, completion_date, points)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (credit_key) DO UPDATE SET points = EXCLUDED.points",
            prior,
        )
