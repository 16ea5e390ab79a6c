"""The topic registry (shared/topics.py) as a checked contract: what each service builds and decodes is what the
registry says its topics carry.

The scan reads each service's own modules (tests aside): every shared.events message type it constructs must be
declared on a topic the service writes, so a new event type published without being declared fails here; every
declared type must be built by one of its topic's writers, so a declaration cannot go stale; every event type a
service's decoder names (msgspec `tag=`) must be one some topic carries. The board router, which writes record
events and board requests, has its message-building functions run as well, to check which topic each message goes
to. Each service must join exactly the consumer groups the registry lists for it.
"""

import ast
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from uuid import uuid4

import pytest

import shared.events
import shared.topics
from board_router.routing import board_request, verdict_event
from shared.events import BoardVerdict, Envelope, LearnerRecord, Target
from shared.service_registry import BOARD_ROUTER, SERVICES, Service
from shared.topics import (
    ACTIVITIES,
    BOARD_RESPONSES,
    GROUPS,
    RECORD_EVENTS,
    SUBMISSIONS,
    GroupSpec,
    TopicSpec,
    board_requests,
    dead_letters,
)

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"
TOPICS = [SUBMISSIONS, RECORD_EVENTS, BOARD_RESPONSES, ACTIVITIES, board_requests("ABA")]
MESSAGE_TYPES = {name: value for name, value in vars(shared.events).items()
                 if isinstance(value, type) and issubclass(value, Envelope) and value is not Envelope}
# Built but never published: validation's dry run judges SubmitRecord commands in process.
NOT_PUBLISHED = {("validation", "SubmitRecord")}


def own_modules(service: Service) -> Iterator[ast.Module]:
    for path in sorted((SERVICES_DIR / service.package).rglob("*.py")):
        if "tests" not in path.relative_to(SERVICES_DIR).parts:
            yield ast.parse(path.read_text(encoding="utf-8"), str(path))


def built_messages(service: Service) -> set[str]:
    """The shared.events message types the service constructs (called, or `model_construct`ed)."""
    built: set[str] = set()
    for module in own_modules(service):
        names = {a.asname or a.name: a.name for node in ast.walk(module)
                 if isinstance(node, ast.ImportFrom) and node.module == "shared.events" for a in node.names}
        modules = {a.asname or "shared" for node in ast.walk(module) if isinstance(node, ast.Import)
                   for a in node.names if a.name == "shared.events"}
        modules |= {a.asname or a.name for node in ast.walk(module)
                    if isinstance(node, ast.ImportFrom) and node.module == "shared" for a in node.names
                    if a.name == "events"}
        for node in ast.walk(module):
            if not isinstance(node, ast.Call):
                continue
            called = node.func
            if isinstance(called, ast.Attribute) and called.attr == "model_construct":
                called = called.value
            if isinstance(called, ast.Name) and names.get(called.id) in MESSAGE_TYPES:
                built.add(names[called.id])
            elif (isinstance(called, ast.Attribute) and called.attr in MESSAGE_TYPES
                  and ast.unparse(called.value) in modules | {f"{m}.events" for m in modules}):
                built.add(called.attr)
    return built - {name for writer, name in NOT_PUBLISHED if writer == service.name}


def decoded_tags(service: Service) -> set[str]:
    """The event types the service's own decoders name (msgspec structs' `tag=`)."""
    return {kw.value.value for module in own_modules(service) for node in ast.walk(module)
            if isinstance(node, ast.ClassDef) for kw in node.keywords
            if kw.arg == "tag" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)}


def written_by(service: Service) -> list[TopicSpec]:
    return [t for t in TOPICS if service.name in t.writers]


def declared(topics: list[TopicSpec]) -> set[str]:
    return {v.__name__ for t in topics for v in t.values}


def test_the_scan_sees_what_the_services_are_known_to_build() -> None:
    # Guards the scan itself: were it blind (a moved folder, a changed import), the checks below would pass empty.
    built = {s.name: built_messages(s) for s in SERVICES}
    assert built["intake"] == {"SubmitRecord"}
    assert {"RecordSubmitted", "RecordRejectedByPars", "ActivityRegistered"} <= built["validation"]
    assert {"ProcessBoardRequest", "RecordRejected"} <= built["board-router"]
    assert built["board-sim"] == {"BoardVerdict"}
    assert built["projector"] == built["notifier"] == set()
    assert decoded_tags(SERVICES[-1]) == {"RecordRejected", "RecordRejectedByPars"}  # the notifier: rejections


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_every_message_a_service_builds_is_declared_on_a_topic_it_writes(service: Service) -> None:
    undeclared = built_messages(service) - declared(written_by(service))
    assert not undeclared, f"{service.name} builds {sorted(undeclared)}, declared on none of its topics"


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_every_declared_type_is_built_by_a_writer_of_its_topic(topic: TopicSpec) -> None:
    writers = [s for s in SERVICES if s.name in topic.writers]
    assert writers, f"{topic.name} names writers the registry of services does not know: {topic.writers}"
    built = set().union(*(built_messages(s) for s in writers))
    assert not declared([topic]) - built, f"{topic.name} declares types none of {topic.writers} builds"


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_every_event_type_a_service_decodes_is_carried_by_some_topic(service: Service) -> None:
    unknown = decoded_tags(service) - declared(TOPICS)
    assert not unknown, f"{service.name} decodes {sorted(unknown)}, which no topic declares"


def test_the_groups_are_listed_once_each() -> None:
    defined = [v for v in vars(shared.topics).values() if isinstance(v, GroupSpec)]
    assert sorted(g.name for g in defined) == sorted(g.name for g in GROUPS)
    assert len({g.name for g in GROUPS}) == len(GROUPS)
    assert {g.service for g in GROUPS} <= {s.name for s in SERVICES}


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_a_service_joins_the_groups_the_registry_gives_it_and_no_other(service: Service) -> None:
    constants = {name: v for name, v in vars(shared.topics).items() if isinstance(v, GroupSpec)}
    used: set[str] = set()
    literal: set[str] = set()
    for module in own_modules(service):
        used |= {n.id for n in ast.walk(module) if isinstance(n, ast.Name) and n.id in constants}
        literal |= {a.value for n in ast.walk(module) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                    and n.func.attr == "group" and ast.unparse(n.func.value).endswith("settings")
                    for a in n.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
                    and not a.value.endswith(".")}  # "pars.": the ops view's prefix of every group, not one
    assert not literal, f"{service.name} names groups the registry does not list: {sorted(literal)}"
    assert {constants[n].name for n in used} == {g.name for g in GROUPS if g.service == service.name}
    assert all(constants[n].service == service.name for n in used)


def test_dead_letters_carry_whatever_their_service_reads() -> None:
    assert dead_letters("projector").values == (Envelope,)


def learner_record() -> LearnerRecord:
    return LearnerRecord(record_id=uuid4(), submission_id=uuid4(), provider_id="0008001", credit_id="c1",
                         activity_id="210016865", first_name="Harper", last_name="Benton", dob="11/11",
                         completion_date=date(2026, 1, 5), target=Target(kind="moc", code="ABA"), learner_id="1",
                         credits="1")


@pytest.mark.parametrize(("action", "accepted"), [("add", True), ("add", False), ("delete", True), ("delete", False)])
def test_the_router_sends_each_verdict_as_an_event_record_events_carries(action: str, accepted: bool) -> None:
    record = learner_record()
    verdict = BoardVerdict(request_id=uuid4(), board="ABA", action=action, accepted=accepted,
                           record_id=record.record_id, provider_id=record.provider_id, correlation_id="c")
    assert BOARD_ROUTER.name in RECORD_EVENTS.writers
    assert type(verdict_event(verdict, record, "c")) in RECORD_EVENTS.values


@pytest.mark.parametrize("action", ["add", "delete"])
def test_the_router_asks_boards_with_what_their_request_topics_carry(action: str) -> None:
    assert type(board_request(learner_record(), action, "c")) in board_requests("ABA").values
