"""`python -m bench queries [--rows N]`: the record list's queries at a million records, timed.

Uses (and fills once) the projection schema `planmillion_projection`, the one the query-plan test uses.
"""

import argparse
import asyncio
import statistics
import time
from datetime import date
from typing import Any

from intake.keys import Principal
from intake.records.queries import list_records, record_filters
from pars_cli.stack import start_servers, stop_servers
from projector.sample_data import fill_records
from shared.db import create_pool, migrate, quote_schema
from shared.service_registry import PROJECTOR
from shared.settings import Settings

CASES: dict[str, tuple[dict[str, object], str]] = {
    "newest first": ({}, "-submission"), "one activity, by name": ({"activity_id": "210000042"}, "name"),
    "rejected, newest first": ({"status": "Rejected"}, "-submission"), "one board": ({"board": "ABA"}, "board"),
    "one learner": ({"learner_id": "4242"}, "completion"), "name contains": ({"name": "last42"}, "name"),
    "two completion days": ({"completed_from": date(2021, 3, 1), "completed_to": date(2021, 3, 2)}, "completion"),
}


async def run(rows: int) -> None:
    settings = Settings(namespace="planmillion")
    schema = settings.schema(PROJECTOR.schema)
    pool = await create_pool(settings.database_url, schema)
    try:
        await migrate(pool, schema, PROJECTOR.package)
        began = time.perf_counter()
        if await fill_records(pool, rows):
            print(f"generated {rows} records in {time.perf_counter() - began:.1f} s")
        principal = Principal("provider", "0008042")
        for name, (filters, sort) in CASES.items():
            every: dict[str, Any] = {**dict.fromkeys(
                ("activity_id", "status", "board", "name", "learner_id", "completed_from", "completed_to")), **filters}
            where, args = record_filters(principal, **every)
            timings = []
            for _ in range(7):
                began = time.perf_counter()
                total, _ = await list_records(pool, quote_schema(schema), where, args, sort=sort, page=1, per_page=50)
                timings.append((time.perf_counter() - began) * 1000)
            print(f"{name:28} {statistics.median(timings):7.1f} ms median (page of 50 of {total})")
    finally:
        await pool.close()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench queries")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    started = start_servers()
    try:
        asyncio.run(run(args.rows))
    finally:
        stop_servers(started)
