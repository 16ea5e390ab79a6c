"""A CSV download of 100,000 records streams: intake's memory does not grow with the file."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pars_cli.stack import ServiceProcess, wait_ready
from projector.sample_data import fill_records
from shared.db import create_pool, migrate
from shared.service_registry import PROJECTOR
from shared.settings import Settings
from tests.e2e.conftest import PARS
from tests.support import free_port, unique_namespace

pytestmark = pytest.mark.e2e
ROWS = 100_000


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024


async def fill(settings: Settings) -> int:
    schema = settings.schema(PROJECTOR.schema)
    pool = await create_pool(settings.database_url, schema)
    try:
        await migrate(pool, schema, PROJECTOR.package)
        await fill_records(pool, ROWS)
        return await pool.fetchval("SELECT count(*) FROM records WHERE NOT deleted")
    finally:
        await pool.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads peak memory from /proc")
def test_a_100000_record_csv_streams_in_flat_memory(servers: dict[str, str], tmp_path: Path) -> None:
    env = {**os.environ, **servers, "PARS_NAMESPACE": unique_namespace("dl"), "PARS_API_PORT": str(free_port())}
    settings = Settings(kafka_bootstrap_servers=servers["PARS_KAFKA_BOOTSTRAP_SERVERS"],
                        database_url=servers["PARS_DATABASE_URL"], namespace=env["PARS_NAMESPACE"],
                        api_port=int(env["PARS_API_PORT"]))
    live = asyncio.run(fill(settings))
    operator = subprocess.run([PARS, "operator", "key"], env=env, capture_output=True, text=True,
                              check=True).stdout.strip()
    intake = ServiceProcess("intake", env, tmp_path)
    intake.start()
    try:
        wait_ready(settings, [intake])
        assert intake.process is not None
        before = peak_rss_mb(intake.process.pid)
        rows, size = 0, 0
        with httpx.stream("GET", f"http://127.0.0.1:{settings.api_port}/v1/records", params={"format": "csv"},
                          headers={"Authorization": f"Bearer {operator}"}, timeout=120) as answer:
            assert answer.status_code == 200
            for line in answer.iter_lines():
                rows += 1
                size += len(line)
        growth = peak_rss_mb(intake.process.pid) - before
        print(f"peak memory grew by {growth:.1f} MB for {size / 1e6:.1f} MB of CSV")
    finally:
        intake.stop()
    assert rows == live + 1  # the header, then every live record
    # Held in memory, 100,000 rows (asyncpg records, then text) would take well over 100 MB.
    assert size > 10_000_000
    assert growth < 25, f"intake's peak memory grew by {growth:.0f} MB for a {size / 1e6:.0f} MB download"
