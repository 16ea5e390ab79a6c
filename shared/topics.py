"""The topic registry: every topic's name, key, value type, partition count and writers.

Names here are logical; `Settings.topic()` adds the namespace of a stack or a test run.
"""

from dataclasses import dataclass

from pydantic import BaseModel

from shared.events import (
    ActivityRegistered,
    BoardVerdict,
    Envelope,
    ProcessBoardRequest,
    RecordRejectedByPars,
    SubmitRecord,
)

RECORD_PARTITIONS = 6


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str  # what the message key is, in words
    value: type[BaseModel]
    writers: tuple[str, ...]
    partitions: int = RECORD_PARTITIONS


SUBMISSIONS = TopicSpec("pars.submissions", "provider_id:credit_id", SubmitRecord, ("intake",))
RECORD_EVENTS = TopicSpec(
    "pars.record-events", "record_id", RecordRejectedByPars, ("validation", "board-router")
)  # value: any RecordEvent (shared.events.record_event_adapter)
BOARD_RESPONSES = TopicSpec("pars.board-responses", "record_id", BoardVerdict, ("board-sim",))
ACTIVITIES = TopicSpec("pars.activities", "activity_id", ActivityRegistered, ("validation",), partitions=3)

SERVICES = ("intake", "validation", "board-router", "board-sim", "projector", "notifier")


def board_requests(board: str) -> TopicSpec:
    return TopicSpec(f"pars.board.{board.upper()}.requests", "learner board ID", ProcessBoardRequest,
                     ("board-router",))


def dead_letters(service: str) -> TopicSpec:
    return TopicSpec(f"pars.dlq.{service}", "the failed message's own key", Envelope, (service,), partitions=1)


def all_topics(boards: list[str]) -> list[TopicSpec]:
    return [SUBMISSIONS, RECORD_EVENTS, BOARD_RESPONSES, ACTIVITIES, *(board_requests(b) for b in boards),
            *(dead_letters(s) for s in SERVICES)]
