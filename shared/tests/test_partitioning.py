"""shared.partitioning: the same partitions as Kafka's default partitioner, so a key's messages stay in order
whichever producer sends them."""

import random

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafkas_murmur2

from shared.partitioning import KeyPartitioner, murmur2, partition_of


@pytest.mark.parametrize(("key", "signed"), [
    # The Java client's own cases (org.apache.kafka.common.utils.UtilsTest.testMurmur2)
    (b"21", -973932308), (b"foobar", -790332482), (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829), (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (b"abc", 479470107),
])
def test_the_hash_is_the_java_clients(key: bytes, signed: int) -> None:
    assert murmur2(key) == signed % (1 << 32)


def test_the_hash_is_aiokafkas_for_keys_of_every_length() -> None:
    rng = random.Random(7)
    for length in range(90):  # every remainder of the 4-byte words, and keys longer than a record id's 36 bytes
        for _ in range(50):
            key = rng.randbytes(length)
            assert murmur2(key) == aiokafkas_murmur2(key), key


def test_a_key_goes_where_aiokafkas_default_partitioner_sends_it() -> None:
    rng = random.Random(11)
    theirs, ours = DefaultPartitioner(), KeyPartitioner()
    for count in (1, 2, 3, 6, 7, 12):
        partitions = list(range(count))
        for _ in range(300):
            key = f"0008001:{rng.getrandbits(64):x}".encode()
            expected = theirs(key, partitions, partitions)
            assert ours(key, partitions, partitions) == partition_of(key, partitions) == expected


def test_a_message_without_a_key_goes_to_a_partition_with_a_leader_if_there_is_one() -> None:
    assert {partition_of(None, [0, 1, 2], [2]) for _ in range(50)} == {2}
    assert {partition_of(None, [0, 1, 2]) for _ in range(200)} == {0, 1, 2}
