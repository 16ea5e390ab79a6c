"""Each HTTP request's log lines carry its correlation id (the caller's X-Correlation-ID when sane, else a fresh one),
the libraries' lines too; the answer echoes it, and intake passes it on to validation's internal routes."""

import asyncio
import io
import json
import logging
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request

from intake.validation_client import connect
from shared.logging import configure_logging, get_logger
from shared.service import Running, worker_app
from shared.settings import Settings, get_settings

REPO = Path(__file__).resolve().parents[2]


async def _nothing(_settings: Settings, _broker: object) -> Running:
    return Running()


def _app(service: str, router: APIRouter) -> FastAPI:
    return worker_app(service, _nothing, get_settings(), routers=[router])


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def _logging_router() -> APIRouter:
    router = APIRouter()

    @router.get("/said/{word}")
    async def said(word: str) -> dict[str, str]:
        get_logger("corr-test").info("route ran", word=word)
        logging.getLogger("some.library").warning("library line for %s", word)
        return {"word": word}

    return router


async def _ask(app: FastAPI, path: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.get(path, headers=headers)


async def test_a_request_logs_and_echoes_the_callers_correlation_id() -> None:
    app = _app("corr-test", _logging_router())
    out = io.StringIO()
    configure_logging("corr-test", stream=out)

    answer = await _ask(app, "/said/hello", **{"X-Correlation-ID": "caller-42:a.b_c"})

    assert answer.status_code == 200
    assert answer.headers["X-Correlation-ID"] == "caller-42:a.b_c"
    lines = _lines(out)
    ours = next(line for line in lines if line["event"] == "route ran")
    library = next(line for line in lines if line["event"] == "library line for hello")
    assert ours["correlation_id"] == library["correlation_id"] == "caller-42:a.b_c"
    assert ours["service"] == library["service"] == "corr-test"


async def test_a_bad_correlation_header_is_replaced_by_a_fresh_id() -> None:
    app = _app("corr-test", _logging_router())
    out = io.StringIO()
    configure_logging("corr-test", stream=out)

    too_long = await _ask(app, "/said/one", **{"X-Correlation-ID": "a" * 101})
    odd_text = await _ask(app, "/said/two", **{"X-Correlation-ID": 'x" injected=1'})
    none = await _ask(app, "/said/three")

    ids = [answer.headers["X-Correlation-ID"] for answer in (too_long, odd_text, none)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", given) for given in ids), ids
    assert len(set(ids)) == 3
    logged = {line["word"]: line["correlation_id"] for line in _lines(out) if line["event"] == "route ran"}
    assert logged == {"one": ids[0], "two": ids[1], "three": ids[2]}


async def test_concurrent_requests_keep_their_own_ids() -> None:
    both_in = asyncio.Event()
    arrived: list[str] = []
    router = APIRouter()

    @router.get("/wait/{word}")
    async def wait(word: str) -> dict[str, str]:
        arrived.append(word)
        if len(arrived) == 2:
            both_in.set()
        await both_in.wait()  # each logs only once the other request is in flight too
        get_logger("corr-test").info("after waiting", word=word)
        return {"word": word}

    app = _app("corr-test", router)
    out = io.StringIO()
    configure_logging("corr-test", stream=out)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        first, second = await asyncio.gather(client.get("/wait/first", headers={"X-Correlation-ID": "id-first"}),
                                             client.get("/wait/second", headers={"X-Correlation-ID": "id-second"}))

    assert (first.headers["X-Correlation-ID"], second.headers["X-Correlation-ID"]) == ("id-first", "id-second")
    logged = {line["word"]: line["correlation_id"] for line in _lines(out) if line["event"] == "after waiting"}
    assert logged == {"first": "id-first", "second": "id-second"}


async def test_intake_passes_the_request_id_on_to_validation() -> None:
    validation_routes = APIRouter()

    @validation_routes.get("/internal/echo")
    async def echo(request: Request) -> dict[str, str | None]:
        get_logger("validation").info("validation asked")
        return {"header": request.headers.get("X-Correlation-ID")}

    validation = _app("validation-probe", validation_routes)
    client = connect(get_settings(), transport=httpx.ASGITransport(app=validation))
    intake_routes = APIRouter()

    @intake_routes.get("/v1/ask")
    async def ask() -> dict[str, str | None]:
        answer = await client.get("/internal/echo")
        result: dict[str, str | None] = answer.json()
        return result

    intake = _app("intake-probe", intake_routes)
    out = io.StringIO()
    configure_logging("intake-probe", stream=out)
    try:
        answer = await _ask(intake, "/v1/ask", **{"X-Correlation-ID": "from-caller-7"})
    finally:
        await client.aclose()

    assert answer.json() == {"header": "from-caller-7"}
    asked = next(line for line in _lines(out) if line["event"] == "validation asked")
    assert asked["correlation_id"] == "from-caller-7"


UVICORN_PROBE = '''
import asyncio, os, signal, sys
from contextlib import asynccontextmanager
from fastapi import FastAPI
from shared.logging import RequestCorrelation, configure_logging
from shared.service import serve

port = int(sys.argv[1])
configure_logging("probe")

async def probe():
    await asyncio.sleep(0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /boom HTTP/1.1\\r\\nhost: x\\r\\nx-correlation-id: boom-1\\r\\n\\r\\n")
    await writer.drain()
    await reader.read(100)
    writer.close()
    os.kill(os.getpid(), signal.SIGINT)

@asynccontextmanager
async def life(app):
    task = asyncio.create_task(probe())
    yield
    task.cancel()

app = FastAPI(lifespan=life)
app.add_middleware(RequestCorrelation)

@app.get("/boom")
async def boom():
    raise RuntimeError("boom")

serve(app, "127.0.0.1", port)
'''


def test_uvicorns_error_line_for_a_request_carries_its_id() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    run = subprocess.run([sys.executable, "-c", UVICORN_PROBE, str(port)], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    failed = next(line for line in lines if line["event"].startswith("Exception in ASGI application"))
    assert failed["correlation_id"] == "boom-1" and failed["logger"].startswith("uvicorn")
