"""Every line a service prints is one JSON object with its service name, the libraries' lines too: a process set up as
a service is (configure_logging, then uvicorn through shared.service.serve) is made to log through uvicorn, aiokafka,
FastStream, asyncio and structlog, and each line of its output is read back."""

import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent('''
    import asyncio, logging, os, signal, sys
    from contextlib import asynccontextmanager
    from aiokafka import AIOKafkaProducer
    from fastapi import FastAPI
    from shared.logging import bind_correlation, configure_logging, get_logger
    from shared.service import serve

    port, no_kafka = int(sys.argv[1]), int(sys.argv[2])
    configure_logging("probe")

    async def probe():
        await asyncio.sleep(0.2)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"NOT HTTP AT ALL\\r\\n\\r\\n")  # uvicorn: "Invalid HTTP request received."
        await writer.drain()
        await reader.read()
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /boom HTTP/1.1\\r\\nhost: x\\r\\n\\r\\n")  # uvicorn: "Exception in ASGI application"
        await writer.drain()
        await reader.read(100)
        writer.close()
        producer = AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{no_kafka}", request_timeout_ms=1000)
        try:
            await producer.start()  # aiokafka: "Unable connect to ..."
        except Exception:
            pass
        with bind_correlation(correlation_id="corr-17"):
            get_logger("probe").warning("own line", dob="11/11")
            logging.getLogger("faststream").warning("a FastStream line")
        os.kill(os.getpid(), signal.SIGTERM)

    @asynccontextmanager
    async def lifespan(app):
        task = asyncio.create_task(probe())
        yield
        task.cancel()

    app = FastAPI(lifespan=lifespan)

    @app.get("/boom")
    async def boom():
        raise RuntimeError("1 validation error [type=missing, input_value={'dob': '11/11'}, input_type=dict]")

    serve(app, "127.0.0.1", port)
''')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_probe() -> tuple[int, list[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, str(_free_port()), str(_free_port())], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    return done.returncode, (done.stdout + done.stderr).splitlines()


def test_every_line_of_a_service_process_is_json_with_its_service() -> None:
    returncode, lines = _run_probe()
    assert returncode == 0, "\n".join(lines)
    entries: list[dict[str, Any]] = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"a line that is not JSON: {line!r}") from None
    assert all(e.get("service") == "probe" and e.get("level") and e.get("timestamp") for e in entries), entries
    by_logger = {e.get("logger"): e for e in entries}
    assert by_logger["uvicorn.error"]["level"] in ("warning", "error")
    assert any(e["event"] == "Invalid HTTP request received." for e in entries)
    assert "Unable connect to" in by_logger["aiokafka"]["event"]
    assert by_logger["faststream"]["correlation_id"] == "corr-17"
    own = next(e for e in entries if e["event"] == "own line")
    assert own["correlation_id"] == "corr-17" and own["dob"] == "[redacted]"
    # uvicorn's traceback of the failing route, its pydantic-style input quoted nowhere
    failed = next(e for e in entries if e["event"].startswith("Exception in ASGI application"))
    assert "RuntimeError" in failed["exception"] and "input_value=[redacted]" in failed["exception"]
    assert "11/11" not in "\n".join(lines)
