"""The cyclic collector held off while a batch is worked through (shared.collector)."""

import gc
from collections.abc import Iterator

import pytest

from shared.collector import collector_held


@pytest.fixture(autouse=True)
def collecting() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_in_the_block_and_on_after_it_even_when_it_raises() -> None:
    with collector_held():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError, match="bad batch"), collector_held():
        raise ValueError("bad batch")
    assert gc.isenabled()


def test_overlapping_holds_are_one_the_first_holder_lets_it_go() -> None:
    # Two consumers' batches overlap on one event loop: the hold that turned it off turns it on, so the collector
    # is never off for longer than one batch runs.
    first, second = collector_held(), collector_held()
    first.__enter__()
    second.__enter__()
    assert not gc.isenabled()
    first.__exit__(None, None, None)
    assert gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_collector_turned_off_elsewhere_stays_off() -> None:
    gc.disable()
    with collector_held():
        assert not gc.isenabled()
    assert not gc.isenabled()
