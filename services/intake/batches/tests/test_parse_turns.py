"""Large uploads parse one at a time, in the order they came; a small one does not wait behind them."""

import asyncio

import pytest

from intake.batches.service import ParseTurns


async def test_large_files_take_turns_in_order_and_a_small_one_goes_at_once() -> None:
    turns = ParseTurns(large_bytes=10)
    large, small = b"x" * 10, b"x" * 9
    said: list[str] = []
    first_may_end = asyncio.Event()

    async def parse(name: str, data: bytes, hold: asyncio.Event | None = None) -> None:
        async with turns.turn(data):
            said.append(f"{name} parses")
            if hold is not None:
                await hold.wait()
            await asyncio.sleep(0)  # another parse that could start meanwhile would
            said.append(f"{name} done")

    first = asyncio.create_task(parse("A", large, first_may_end))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(parse(name, large)) for name in ("B", "C")]
    await asyncio.sleep(0.01)
    await asyncio.wait_for(parse("small", small), 1)  # while A still parses
    assert said == ["A parses", "small parses", "small done"]
    first_may_end.set()
    await asyncio.gather(first, *waiting)
    assert said[3:] == ["A done", "B parses", "B done", "C parses", "C done"]


async def test_a_failed_parse_gives_up_its_turn() -> None:
    turns = ParseTurns(large_bytes=1)
    with pytest.raises(ValueError):
        async with turns.turn(b"xx"):
            raise ValueError("unreadable")
    await asyncio.wait_for(_enter(turns), 1)


async def _enter(turns: ParseTurns) -> None:
    async with turns.turn(b"xx"):
        pass
