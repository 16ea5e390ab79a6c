"""The topic registry: every topic's name, key, value types, partition count and writers; and every consumer group
with the topics it reads.

Names here are logical; `Settings.topic()` and `Settings.group()` add the namespace of a stack or a test run.
`values` lists every message type a topic carries; tests/test_topic_contracts.py checks it against what each writer
builds, and that the services subscribe only the groups listed here.
"""

from dataclasses import dataclass
from typing import get_args

from shared.events import (
    ActivityRegistered,
    BoardVerdict,
    Envelope,
    ProcessBoardRequest,
    RecordEvent,
    SubmitRecord,
)
from shared.service_registry import (
    BOARD_ROUTER,
    BOARD_SIM,
    INTAKE,
    NOTIFIER,
    PROJECTOR,
    SERVICE_NAMES,
    VALIDATION,
)

RECORD_PARTITIONS = 6


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str  # what the message key is, in words
    values: tuple[type[Envelope], ...]  # every message type it carries
    writers: tuple[str, ...]  # the services (by registry name) that publish to it
    partitions: int = RECORD_PARTITIONS


# The record events are the members of shared.events.RecordEvent, the union their consumers decode.
RECORD_EVENT_TYPES: tuple[type[Envelope], ...] = get_args(get_args(RecordEvent)[0])

SUBMISSIONS = TopicSpec("pars.submissions", "provider_id:credit_id", (SubmitRecord,), (INTAKE.name,))
RECORD_EVENTS = TopicSpec("pars.record-events", "record_id", RECORD_EVENT_TYPES, (VALIDATION.name, BOARD_ROUTER.name))
BOARD_RESPONSES = TopicSpec("pars.board-responses", "record_id", (BoardVerdict,), (BOARD_SIM.name,))
ACTIVITIES = TopicSpec("pars.activities", "activity_id", (ActivityRegistered,), (VALIDATION.name,), partitions=3)


def board_requests(board: str) -> TopicSpec:
    return TopicSpec(f"pars.board.{board.upper()}.requests", "learner board ID", (ProcessBoardRequest,),
                     (BOARD_ROUTER.name,))


def dead_letters(service: str) -> TopicSpec:
    # A dead letter is the failed message as it came, of any type its service reads.
    return TopicSpec(f"pars.dlq.{service}", "the failed message's own key", (Envelope,), (service,), partitions=1)


def all_topics(boards: list[str]) -> list[TopicSpec]:
    return [SUBMISSIONS, RECORD_EVENTS, BOARD_RESPONSES, ACTIVITIES, *(board_requests(b) for b in boards),
            *(dead_letters(s) for s in SERVICE_NAMES)]


@dataclass(frozen=True)
class GroupSpec:
    name: str
    service: str  # the service (by registry name) whose consumers join it
    reads: tuple[TopicSpec, ...]  # empty for board-sim: its boards' request topics, known at its start


INTAKE_BATCHES = GroupSpec("pars.intake.batches", INTAKE.name, (RECORD_EVENTS,))  # upload tallies
VALIDATION_SUBMISSIONS = GroupSpec("pars.validation", VALIDATION.name, (SUBMISSIONS,))
VALIDATION_STATUSES = GroupSpec("pars.validation.statuses", VALIDATION.name, (RECORD_EVENTS,))
ROUTER_RECORDS = GroupSpec("pars.board-router.records", BOARD_ROUTER.name, (RECORD_EVENTS,))
ROUTER_VERDICTS = GroupSpec("pars.board-router.verdicts", BOARD_ROUTER.name, (BOARD_RESPONSES,))
# One group for every board it serves (it was pars.board-sim.<BOARD>: docs/DESIGN-NOTES.md, upgrading).
BOARD_SIM_REQUESTS = GroupSpec("pars.board-sim", BOARD_SIM.name, ())
PROJECTOR_RECORDS = GroupSpec("pars.projector", PROJECTOR.name, (RECORD_EVENTS,))
PROJECTOR_ACTIVITIES = GroupSpec("pars.projector.activities", PROJECTOR.name, (ACTIVITIES,))
NOTIFIER_RECORDS = GroupSpec("pars.notifier", NOTIFIER.name, (RECORD_EVENTS,))
NOTIFIER_ACTIVITIES = GroupSpec("pars.notifier.activities", NOTIFIER.name, (ACTIVITIES,))

GROUPS: tuple[GroupSpec, ...] = (
    INTAKE_BATCHES, VALIDATION_SUBMISSIONS, VALIDATION_STATUSES, ROUTER_RECORDS, ROUTER_VERDICTS, BOARD_SIM_REQUESTS,
    PROJECTOR_RECORDS, PROJECTOR_ACTIVITIES, NOTIFIER_RECORDS, NOTIFIER_ACTIVITIES,
)
