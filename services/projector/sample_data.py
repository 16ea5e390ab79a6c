"""Generated projection rows at any size, for the query-plan test and the query benchmark."""

import asyncpg

# Spread like real data: 199 providers, 5,000 activities, five boards, every status, a year of completions;
# the moduli are prime to each other, so no column follows another.
_GENERATE = """
INSERT INTO records (record_id, submission_id, provider_id, credit_id, activity_id, target_kind, board, first_name,
                     last_name, dob, learner_id, completion_date, submitted_at, credits, credit_types, status, errors,
                     deleted, updated_at)
SELECT gen_random_uuid(), gen_random_uuid(), lpad((8000 + i % 199)::text, 7, '0'), 'ccid:' || i,
       (210000000 + i % 5000)::text, 'moc', (ARRAY['ABOHNS','ABA','ABIM','ABS','ABO'])[1 + i % 5], 'F' || i % 977,
       'Last' || i % 5003, '01/01', (i % 100000)::text, date '2021-01-01' + (i % 365),
       timestamptz '2021-01-01' + i * interval '1 second', 1, '{}'::jsonb,
       (ARRAY['Submitted','Accepted','Rejected','Delete Submitted'])[1 + i % 4], '[]'::jsonb, i % 50 = 0, now()
FROM generate_series(1, $1) AS i
"""


async def fill_records(pool: asyncpg.Pool, rows: int) -> bool:
    """Make the pool's projection hold `rows` generated records (answer whether it had to generate them)."""
    if await pool.fetchval("SELECT count(*) FROM records") >= rows:
        return False
    table = f"records_g{await pool.fetchval('SELECT active FROM projection_state')}"
    async with pool.acquire() as conn, conn.transaction():
        # Building each index once over the filled table is several times faster than keeping ten of them up to date
        # row by row (a million rows: 112 s before). Constraints' indexes stay: the insert relies on none of them.
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint)", table)
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        await conn.execute(f"TRUNCATE {table}")
        await conn.execute(_GENERATE.replace("INSERT INTO records", f"INSERT INTO {table}"), rows)
        await conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for index in indexes:
            await conn.execute(index["indexdef"])
    await pool.execute(f"ANALYZE {table}")
    return True
