"""An upload's parse runs off the event loop with the cyclic collector held (intake.batches.service)."""

import gc
import uuid
from typing import Any

import pytest

from intake.batches import service


@pytest.mark.parametrize("parse", ["parse", "parse_to_queue"])
async def test_a_file_parses_with_the_collector_held_and_it_is_back_on_after(
        parse: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []

    def reader(*args: Any) -> str:
        seen.append(gc.isenabled())
        return "parsed"

    monkeypatch.setattr(service, parse, reader)
    turns, batch_id = service.ParseTurns(), uuid.uuid4()
    assert gc.isenabled()
    if parse == "parse":
        assert await service.parse_off_loop(turns, "b.xlsx", b"x", "P1", batch_id) == "parsed"
    else:
        assert await service.parse_to_queue_off_loop(turns, None, "b.xlsx", b"x", "P1", batch_id) == "parsed"  # type: ignore[arg-type]
    assert seen == [False]
    assert gc.isenabled()
