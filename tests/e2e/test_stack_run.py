"""`pars stack run` (what `make run` calls): starts everything, prints a working key, Ctrl-C stops it all."""

import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import PARS
from tests.support import free_port, free_port_block, unique_namespace

pytestmark = pytest.mark.e2e


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_stack_run_serves_the_demo_and_ctrl_c_leaves_nothing_running(servers: dict[str, str],
                                                                     tmp_path: Path) -> None:
    api_port, health_base, smtp_port = free_port(), free_port_block(6), free_port()
    env = {**os.environ, **servers, "PARS_NAMESPACE": unique_namespace("run"), "PARS_API_PORT": str(api_port),
           "PARS_HEALTH_PORT_BASE": str(health_base), "PARS_SMTP_PORT": str(smtp_port),
           "PARS_LOCAL_DIR": str(tmp_path), "PARS_BOARD_LATENCY_SCALE": "0", "PARS_DIGEST_SECONDS": "2"}
    env.pop("PARS_SMTP_HOST", None)  # so it starts its own SMTP sink
    # Started with SIGINT ignored, as a shell starts a command it runs in the background: Ctrl-C must still stop it.
    run = subprocess.Popen([PARS, "stack", "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, start_new_session=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    output: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = run.stdout.readline() if run.stdout else ""
            if not line and run.poll() is not None:
                break
            output.append(line)
            if "Press Ctrl-C" in line:
                break
        text = "".join(output)
        assert "Press Ctrl-C" in text, text
        # Keep reading, as a terminal would: a supervisor writing into a full pipe would block.
        threading.Thread(target=lambda: output.extend(run.stdout or []), daemon=True).start()
        key = next(line.split("key:")[1].strip() for line in output if line.strip().startswith("provider"))
        api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}/v1", headers={"Authorization": f"Bearer {key}"})
        answer = api.get("/records")
        assert answer.status_code == 200 and answer.json()["total"] == 0
        assert (tmp_path / "demo-world.json").exists()
        # The README's tour with an unknown board ID: the board rejects it and the digest lands in the sink.
        demo = json.loads((tmp_path / "demo-world.json").read_text())["activities"][0]
        rejected = api.post("/completions", json={
            "activity_id": demo["id"], "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
            "completion_date": demo["start_date"],
            "moc": [{"board": "ABOHNS", "board_id": "4242", "credits": 1, "credit_types": {"Self-Assessment": 1}}]})
        record_id = rejected.json()["records"][0]["record_id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
                record_id in p.read_text(errors="replace") for p in (tmp_path / "mail" / "new").glob("*")):
            time.sleep(0.5)
        assert any(record_id in p.read_text(errors="replace") for p in (tmp_path / "mail" / "new").glob("*"))
        assert listening(smtp_port) and all(listening(health_base + i) for i in range(1, 6))
        # The demo files upload as they are: 100 rows each, every tenth wrong.
        uploaded = subprocess.run([PARS, "upload", str(tmp_path / "demo" / "learners.xlsx"), "--provider",
                                   demo["provider_id"]], env=env, capture_output=True, text=True, timeout=120)
        assert uploaded.returncode == 0, uploaded.stderr
        assert "100 records, 90 added, 10 rejected" in uploaded.stderr
    finally:
        run.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            code = run.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            code = None
    assert code == 0, "".join(output)
    ports = [api_port, smtp_port, *(health_base + i for i in range(1, 6))]
    assert [p for p in ports if listening(p)] == []
