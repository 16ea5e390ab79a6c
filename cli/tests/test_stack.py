"""The supervisor's own promises, with real child processes."""

import os
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
