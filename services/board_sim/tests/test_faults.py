"""Fault injection decides each answer's fate from the seed and the request message, so runs repeat."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from board_sim.faults import BoardCrash, CrashDice, deliveries
from shared.boards import BoardFaults

AT = datetime(2021, 11, 2, 12, tzinfo=UTC)
REQUESTS = [uuid4() for _ in range(50)]


def fates(faults: BoardFaults, n: int = 4000) -> list[list[datetime]]:
    return [deliveries(faults, uuid4(), AT) for _ in range(n)]


def test_no_faults_sends_each_answer_once_on_time() -> None:
    assert deliveries(None, uuid4(), AT) == [AT]
    assert all(f == [AT] for f in fates(BoardFaults()))


def test_rates_drop_and_duplicate_about_as_asked() -> None:
    seen = fates(BoardFaults(drop=0.1, duplicate=0.1, seed=3))
    dropped = sum(not f for f in seen) / len(seen)
    doubled = sum(len(f) == 2 for f in seen) / len(seen)
    assert 0.08 < dropped < 0.12 and 0.07 < doubled < 0.11  # duplicates only of answers not dropped


def test_reordering_and_delay_only_ever_postpone() -> None:
    seen = fates(BoardFaults(reorder_seconds=2, delay=0.5, max_delay_seconds=5, seed=1))
    waits = [(at - AT).total_seconds() for f in seen for at in f]
    assert min(waits) >= 0 and max(waits) <= 7 and len(set(waits)) > 100


def test_the_same_seed_and_request_give_the_same_fate() -> None:
    faults, request = BoardFaults(drop=0.3, duplicate=0.3, reorder_seconds=2, seed=9), uuid4()
    assert deliveries(faults, request, AT) == deliveries(faults, request, AT)
    other_seed = faults.model_copy(update={"seed": 10})
    assert [deliveries(faults, r, AT) for r in REQUESTS] != [deliveries(other_seed, r, AT) for r in REQUESTS]


def test_crashes_come_at_the_rate_asked_and_a_retry_gets_new_dice() -> None:
    dice = CrashDice(BoardFaults(crash=0.25, seed=2))
    crashed = 0
    for _ in range(2000):
        try:
            dice.roll()
        except BoardCrash:
            crashed += 1
    assert 400 < crashed < 600
    CrashDice(None).roll()  # no faults: never


@pytest.mark.parametrize("rate", [0.0, 1.0])
def test_extreme_rates(rate: float) -> None:
    assert all((f == []) is (rate == 1.0) for f in fates(BoardFaults(drop=rate), 50))
