"""The supervisor's own promises, with real child processes."""

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from pars_cli import stack
from shared.settings import Settings


def test_services_that_never_got_ready_are_stopped_not_left_behind(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[stack.ServiceProcess] = []

    def not_ready(_settings: Settings, processes: list[stack.ServiceProcess], timeout: float = 60.0) -> None:
        started.extend(processes)
        assert all(p.alive for p in processes)  # running, as far as anyone can tell
        raise TimeoutError("not ready after 60 s: notifier, projector")

    monkeypatch.setattr(stack, "wait_ready", not_ready)
    with pytest.raises(TimeoutError):
        stack.start_services(Settings(_env_file=None), dict(os.environ), tmp_path, ["notifier", "projector"])
    assert [p.service for p in started] == ["notifier", "projector"]
    assert not any(p.alive for p in started)


def test_backoff_doubles_up_to_its_cap_and_starts_over_after_a_steady_run() -> None:
    policy = stack.Backoff(first=1.0, cap=30.0, steady=60.0)
    # Crashing again and again, each time within seconds of its start.
    assert [policy.next_delay(uptime=2.0) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert policy.attempt == 7
    # Up for a minute, then a crash: news, not the same fault again.
    assert policy.next_delay(uptime=61.0) == 1
    assert policy.next_delay(uptime=0.5) == 2


class Sleeper(stack.ServiceProcess):
    """A stand-in service: a child that just waits to be stopped."""

    def command(self) -> list[str]:
        return [sys.executable, "-c", "import time; time.sleep(120)"]


def test_a_killed_service_is_started_again_and_the_others_are_left_alone(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    processes = [Sleeper("validation", dict(os.environ), tmp_path), Sleeper("projector", dict(os.environ), tmp_path)]
    for p in processes:
        p.start()
    first = {p.service: p.process.pid for p in processes if p.process}
    stop = threading.Event()
    loop = threading.Thread(target=stack.supervise, args=(processes, stop.is_set),
                            kwargs={"backoff": lambda: stack.Backoff(first=0.2), "every": 0.05})
    loop.start()
    try:
        os.kill(first["validation"], signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (processes[0].alive and processes[0].process
                                                   and processes[0].process.pid != first["validation"]):
            time.sleep(0.05)
        assert processes[0].alive and processes[0].process and processes[0].process.pid != first["validation"]
        assert processes[1].alive and processes[1].process and processes[1].process.pid == first["projector"]
    finally:
        stop.set()
        loop.join(10)
        codes = stack.stop_services(processes)
    assert not loop.is_alive()
    assert codes == {"validation": -signal.SIGTERM, "projector": -signal.SIGTERM}  # stopped, not restarted
    said = capsys.readouterr().err
    assert f"validation exited (killed by SIGKILL) after 0 s; restart 1 in 0.2 s; log: {tmp_path / 'validation.log'}" \
        in said, said
    assert "validation started again" in said and "projector" not in said
