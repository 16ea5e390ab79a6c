"""The services' uvicorn server: its main loop ticks once a second (a worker's every few), yet stops at once when
asked to."""

import asyncio
import signal
import time

import pytest
import uvicorn
from fastapi import FastAPI

from shared.service import TICK_SECONDS, WORKER_TICK_SECONDS, _Server
from tests.support import free_port


@pytest.mark.parametrize("tick", [TICK_SECONDS, WORKER_TICK_SECONDS])
async def test_a_stop_asked_for_ends_the_server_at_once_not_at_its_next_tick(tick: float) -> None:
    server = _Server(uvicorn.Config(FastAPI(), host="127.0.0.1", port=free_port(), log_level="warning",
                                    lifespan="off"), tick)
    serving = asyncio.create_task(server.serve())
    for _ in range(100):
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started
    await asyncio.sleep(0.2)  # inside a tick's wait
    asked = time.monotonic()
    server.handle_exit(signal.SIGTERM, None)
    await asyncio.wait_for(serving, 5)
    assert time.monotonic() - asked < TICK_SECONDS / 2  # whatever the tick
