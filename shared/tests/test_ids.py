"""The ids PARS mints begin with their time, so the tables keyed by them grow at one end (shared/ids.py)."""

import itertools
import time
from datetime import UTC, datetime
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from board_router.routing import request_id, verdict_event_id
from shared.events import Envelope
from shared.ids import derived_id, new_id, repeatable_ids, time_ordered_id


def _milliseconds(id_: UUID) -> int:
    return id_.int >> 80


def test_a_new_id_is_a_version_7_uuid_that_begins_with_the_time_it_was_made() -> None:
    before = time.time_ns() // 1_000_000
    made = [new_id() for _ in range(1000)]
    after = time.time_ns() // 1_000_000
    assert {m.version for m in made} == {7}
    assert all(before <= _milliseconds(m) <= after for m in made)
    assert len(set(made)) == 1000
    # Later ids sort after earlier ones (a millisecond apart at least; within one they may come in any order).
    time.sleep(0.002)
    assert new_id() > max(made)
    assert UUID(str(made[0])) == made[0]  # the same text form as any UUID


def test_an_event_gets_a_time_ordered_id_unless_it_is_given_one() -> None:
    assert Envelope(event_type="RecordSubmitted", correlation_id="c", provider_id="0008001").event_id.version == 7
    given = uuid4()
    assert Envelope(event_type="RecordSubmitted", correlation_id="c", provider_id="0008001",
                    event_id=given).event_id == given


def test_a_derived_id_is_the_same_for_the_same_name_and_takes_its_parents_time() -> None:
    parent = new_id()
    derived = derived_id(parent, f"pars:request:{parent}:Add")
    assert derived == derived_id(parent, f"pars:request:{parent}:Add")
    assert derived != derived_id(parent, f"pars:request:{parent}:Delete")
    assert derived.version == 8 and derived.variant == parent.variant
    assert _milliseconds(derived) == _milliseconds(parent)
    # A derived id's own children keep the time: a record's request, its verdict and the event the verdict becomes.
    grandchild = derived_id(derived, f"pars:board-verdict:{derived}")
    assert _milliseconds(grandchild) == _milliseconds(parent) and grandchild.version == 8


def test_an_id_minted_before_ids_were_time_ordered_derives_what_it_always_did() -> None:
    """Messages about records made before the change (random ids) must make the same ids as before: a retry of
    such a record's board request is recognised by its id."""
    record_id = uuid4()
    assert request_id(record_id, "Add") == uuid5(NAMESPACE_URL, f"pars:request:{record_id}:Add")
    verdict = uuid4()
    assert verdict_event_id(verdict) == uuid5(NAMESPACE_URL, f"pars:verdict:{verdict}")


def test_a_time_ordered_records_request_id_and_verdict_event_id_sort_with_it() -> None:
    first, second = new_id(), time_ordered_id(_milliseconds(new_id()) + 5, 0)
    assert request_id(first, "Add") < request_id(second, "Add")
    assert verdict_event_id(request_id(first, "Add")) < verdict_event_id(request_id(second, "Add"))


def test_time_ordered_id_lays_out_rfc_9562s_version_and_variant() -> None:
    made = time_ordered_id(0x0123456789AB, (1 << 74) - 1)
    assert str(made) == "01234567-89ab-7fff-bfff-ffffffffffff"
    assert time_ordered_id(1, 0, version=8) == UUID("00000000-0001-8000-8000-000000000000")


def test_repeatable_ids_are_the_same_for_a_seed_and_a_millisecond_apart() -> None:
    start = datetime(2026, 11, 2, 9, tzinfo=UTC)
    first, again, other = (list(itertools.islice(repeatable_ids(seed, start), 5)) for seed in (12, 12, 13))
    assert first == again and first != other
    assert [_milliseconds(i) for i in first] == [int(start.timestamp() * 1000) + n for n in range(5)]
    assert {i.version for i in first} == {7}
