"""`pars stack run` (what `make run` calls): starts everything, prints a working key, Ctrl-C stops it all."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import PARS
from tests.support import free_port, free_port_block, unique_namespace

pytestmark = pytest.mark.e2e


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def stack_env(servers: dict[str, str], local_dir: Path) -> dict[str, str]:
    """`pars stack run`'s environment: the session's servers, ports and a namespace of its own."""
    env = {**os.environ, **servers, "PARS_NAMESPACE": unique_namespace("run"), "PARS_API_PORT": str(free_port()),
           "PARS_HEALTH_PORT_BASE": str(free_port_block(6)), "PARS_SMTP_PORT": str(free_port()),
           "PARS_LOCAL_DIR": str(local_dir), "PARS_BOARD_LATENCY_SCALE": "0", "PARS_DIGEST_SECONDS": "2"}
    env.pop("PARS_SMTP_HOST", None)  # so it starts its own SMTP sink
    return env


def ports_of(env: dict[str, str]) -> list[int]:
    base = int(env["PARS_HEALTH_PORT_BASE"])
    return [int(env["PARS_API_PORT"]), int(env["PARS_SMTP_PORT"]), *(base + i for i in range(1, 6))]


@contextlib.contextmanager
def stack_run(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`pars stack run` until it says it is ready; its output so far and from then on; Ctrl-C at the end, which
    must stop it cleanly and leave no port listening."""
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
        yield run, output
    finally:
        run.send_signal(signal.SIGINT)  # what Ctrl-C sends
        code: int | None
        try:
            code = run.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            code = None
    assert code == 0, "".join(output)
    assert [p for p in ports_of(env) if listening(p)] == []


def provider_key(output: list[str]) -> str:
    return next(line.split("key:")[1].strip() for line in output if line.strip().startswith("provider"))


def test_stack_run_serves_the_demo_and_ctrl_c_leaves_nothing_running(servers: dict[str, str],
                                                                     tmp_path: Path) -> None:
    env = stack_env(servers, tmp_path)
    api_port, health_base, smtp_port = (int(env[k]) for k in ("PARS_API_PORT", "PARS_HEALTH_PORT_BASE",
                                                              "PARS_SMTP_PORT"))
    with stack_run(env) as (_, output):
        key = provider_key(output)
        api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}/v1", headers={"Authorization": f"Bearer {key}"})
        answer = api.get("/records")
        assert answer.status_code == 200 and answer.json()["total"] == 0
        assert (tmp_path / "demo-world.json").exists()
        # The README's tour with an unknown board ID: the board rejects it and the digest lands in the sink.
        demo = json.loads((tmp_path / "demo-world.json").read_text())["activities"][0]
        rejected = api.post("/completions", json=demo_completion(demo))
        record_id = rejected.json()["records"][0]["record_id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list((tmp_path / "mail" / "new").glob("*")):
            time.sleep(0.5)
        # The portal's address is printed, and the digest's link opens the record's page once signed in.
        portal = next(line.split()[1] for line in output if line.strip().startswith("portal:"))
        assert portal == f"http://127.0.0.1:{api_port}/portal/"
        mails = [message_from_bytes(p.read_bytes(), policy=policy.default)
                 for p in (tmp_path / "mail" / "new").glob("*")]
        texts = [m.get_body(("plain",)).get_content() for m in mails]  # type: ignore[union-attr]
        assert any(f"{portal}records/{record_id}" in text for text in texts)
        with httpx.Client(follow_redirects=True) as browser:
            signed_in = browser.post(f"{portal}sign-in", data={"key": key, "next": f"/portal/records/{record_id}"})
            assert signed_in.status_code == 200 and record_id in signed_in.text, signed_in.text[:500]
        assert listening(smtp_port) and all(listening(health_base + i) for i in range(1, 6))
        # The demo files upload as they are: 100 rows each, every tenth wrong.
        uploaded = subprocess.run([PARS, "upload", str(tmp_path / "demo" / "learners.xlsx"), "--provider",
                                   demo["provider_id"]], env=env, capture_output=True, text=True, timeout=120)
        assert uploaded.returncode == 0, uploaded.stderr
        assert "100 records, 90 added, 10 rejected" in uploaded.stderr


def demo_completion(activity: dict[str, Any]) -> dict[str, Any]:
    """The README's tour's completion, with a board ID the board does not know (so it is rejected later)."""
    return {"activity_id": activity["id"], "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
            "completion_date": activity["start_date"],
            "moc": [{"board": "ABOHNS", "board_id": "4242", "credits": 1, "credit_types": {"Self-Assessment": 1}}]}


def child_pid(parent: int, module: str) -> int:
    """The pid of `parent`'s child running `python -m module`."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"-m" in argv and module.encode() in argv:
            return int(proc.name)
    raise AssertionError(f"no child of {parent} runs {module}")


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(check: Callable[..., bool], timeout: float = 90.0) -> None:  # `...`: see Stack.wait_for
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not check():
        time.sleep(0.3)
    assert check()


def test_stack_run_starts_a_killed_service_again_and_keeps_running(servers: dict[str, str], tmp_path: Path) -> None:
    env = stack_env(servers, tmp_path)
    api = f"http://127.0.0.1:{env['PARS_API_PORT']}"
    validation = f"http://127.0.0.1:{int(env['PARS_HEALTH_PORT_BASE']) + 1}"
    with stack_run(env) as (run, output):
        key = provider_key(output)
        demo = json.loads((tmp_path / "demo-world.json").read_text())["activities"][0]
        for service, module, url in (("validation", "validation", validation), ("intake", "intake", api)):
            killed = child_pid(run.pid, module)
            os.kill(killed, signal.SIGKILL)
            wait_until(lambda s=service: any(f"pars stack: {s} started again" in line for line in output))
            wait_until(lambda u=url: ready(u))
            said = "".join(output)
            assert f"pars stack: {service} exited (killed by SIGKILL)" in said and "restart 1 in 1 s" in said, said
            assert child_pid(run.pid, module) != killed
        assert run.poll() is None  # the stack stayed up: every service still answers
        assert all(listening(p) for p in ports_of(env))
        with httpx.Client(base_url=f"{api}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
            # Through the new intake to the new validation, over Kafka and over its internal routes.
            answer = client.post("/completions", params={"wait": "true"}, json=demo_completion(demo))
            assert answer.status_code == 202, answer.text
            assert answer.json()["records"][0]["status"] == "Submitted", answer.text
            assert client.get(f"/activities/{demo['id']}").status_code == 200
