"""The AsyncAPI 3.0 document of the pipeline's topics, built from the topic registry (shared.topics) and the event
models: a channel per topic (its key and partitions), a message per type a topic carries (its JSON Schema from the
pydantic model, its headers), and an operation per service that writes a topic or a consumer group that reads it.

AsyncAPI 3.0 rather than 2.6: operations are objects of their own there, one per service and direction, which is
what the registry knows (a topic's writers, a group's reads); 2.6 folds them into each channel. FastStream could
write a document of one broker's subscribers, but each service registers its own at start-up, and only the
registry sees them all.
"""

from collections.abc import Sequence
from typing import Any

from pydantic.json_schema import models_json_schema

from shared.boards import shipped_boards
from shared.events import SCHEMA_VERSION, Envelope
from shared.service_registry import SERVICE_NAMES
from shared.settings import Settings
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

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING = "0.5.0"
BOARD = "{BOARD}"  # the board request topics (pars.board.<BOARD>.requests): one channel, the board its parameter
DEAD_LETTER = "DeadLetter"
_SCHEMAS = "#/components/schemas/"
_MESSAGES = "#/components/messages/"


def channel_id(spec: TopicSpec) -> str:
    """A channel's id (AsyncAPI allows letters, digits, - and _): the topic's name without `pars.`, dots as -."""
    return spec.name.removeprefix("pars.").replace(".", "-").replace(f"{BOARD}-", "")


def board_codes() -> list[str]:
    """The boards with a request topic (those a record is sent to), as `pars topics` creates them."""
    return sorted(code for code, board in shipped_boards().items() if board.needs_board)


def topic_specs() -> list[TopicSpec]:
    """Every topic of the registry, the board request topics as one spec with the board as parameter."""
    return [SUBMISSIONS, RECORD_EVENTS, BOARD_RESPONSES, ACTIVITIES, board_requests(BOARD),
            *(dead_letters(service) for service in SERVICE_NAMES)]


def reads(group: GroupSpec) -> tuple[TopicSpec, ...]:
    # A group that names no topic is board-sim's: a request topic per board it serves (shared.topics).
    return group.reads or (board_requests(BOARD),)


def _event_type(model: type[Envelope]) -> str | None:
    default = model.model_fields["event_type"].default
    return default if isinstance(default, str) else None


def _headers(model: type[Envelope] | None) -> dict[str, Any]:
    trace = {"traceparent": {"type": "string", "description": "W3C trace context, when tracing is on"},
             "tracestate": {"type": "string", "description": "W3C trace state, when tracing is on"}}
    if model is None:  # a dead letter: the failed message as it came, with why and where from
        dlq = {name: {"type": "string", "description": what} for name, what in (
            ("dlq.error", "the error's type and text, personal data removed"),
            ("dlq.service", "the service that could not apply it"), ("dlq.source.topic", "where it came from"),
            ("dlq.source.partition", "its partition there"), ("dlq.source.offset", "its offset there"),
            ("dlq.failed_at", "when it was given up, ISO 8601"))}
        return {"type": "object", "required": list(dlq), "properties": dlq | trace}
    event_type = {"type": "string", "description": "the message type, to pass over a message unread"}
    if (name := _event_type(model)) is not None:
        event_type["const"] = name
    return {"type": "object", "required": ["event_type", "correlation_id"], "properties": {
        "event_type": event_type,
        "correlation_id": {"type": "string", "description": "the submission's id, carried through every hop"},
        "event_id": {"type": "string", "format": "uuid", "description": "the event's id (not on SubmitRecord)"},
    } | trace}


def _message_name(spec: TopicSpec, model: type[Envelope]) -> str:
    return DEAD_LETTER if spec.name.startswith("pars.dlq.") else model.__name__


def document(settings: Settings) -> dict[str, Any]:
    """The AsyncAPI document, with this stack's topic and group names (its namespace)."""
    specs = topic_specs()
    models = sorted({m for spec in specs for m in spec.values}, key=lambda m: m.__name__)
    refs, defs = models_json_schema([(m, "serialization") for m in models], ref_template=_SCHEMAS + "{model}")
    schemas = defs.get("$defs", {})

    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    for spec in specs:
        names = []
        for model in spec.values:
            name = _message_name(spec, model)
            names.append(name)
            messages.setdefault(name, {
                "name": name, "title": name, "contentType": "application/json",
                "summary": (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ") or None,
                "payload": refs[(model, "serialization")],
                "headers": _headers(None if name == DEAD_LETTER else model),
                "bindings": {"kafka": {"key": {"type": "string", "description": spec.key},
                                       "bindingVersion": KAFKA_BINDING}},
            })
        channel: dict[str, Any] = {
            "address": settings.topic(spec.name), "title": spec.name,
            "description": f"Key: {spec.key}. Partitions: {spec.partitions}.",
            "messages": {name: {"$ref": _MESSAGES + name} for name in names},
            "bindings": {"kafka": {"partitions": spec.partitions, "bindingVersion": KAFKA_BINDING}},
        }
        if BOARD in spec.name:
            channel["parameters"] = {BOARD.strip("{}"): {"description": "the board's code", "enum": board_codes()}}
        else:
            channel["bindings"]["kafka"]["topic"] = settings.topic(spec.name)
        channels[channel_id(spec)] = channel

    operations: dict[str, Any] = {}

    def operation(action: str, spec: TopicSpec, service: str, group: str | None) -> dict[str, Any]:
        cid = channel_id(spec)
        op: dict[str, Any] = {
            "action": action, "channel": {"$ref": f"#/channels/{cid}"},
            "summary": f"{service} {action}s {spec.name}" + (f" as group {group}" if group else ""),
            "messages": [{"$ref": f"#/channels/{cid}/messages/{name}"} for name in channels[cid]["messages"]],
            "x-pars-service": service,
        }
        if group is not None:
            op["bindings"] = {"kafka": {"groupId": {"type": "string", "enum": [settings.group(group)]},
                                        "bindingVersion": KAFKA_BINDING}}
        return op

    for spec in specs:
        for writer in spec.writers:
            operations[f"{writer}-sends-{channel_id(spec)}"] = operation("send", spec, writer, None)
    for group in GROUPS:
        for spec in reads(group):
            group_id = group.name.removeprefix("pars.").replace(".", "-")
            operations[f"{group_id}-receives-{channel_id(spec)}"] = operation("receive", spec, group.service,
                                                                             group.name)

    for message in messages.values():
        if message["summary"] is None:
            del message["summary"]
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {"title": "PARS pipeline messages", "version": str(SCHEMA_VERSION),
                 "description": "Every Kafka topic of the PARS learner reporting pipeline, the messages it carries "
                                "(JSON, the schema_version field names their version) and which service sends or "
                                "receives them, generated from the topic registry."},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def schema_refs(node: Any) -> Sequence[str]:
    """Every `$ref` in a part of the document."""
    if isinstance(node, dict):
        return [ref for key, value in node.items()
                for ref in ([value] if key == "$ref" and isinstance(value, str) else schema_refs(value))]
    if isinstance(node, list):
        return [ref for value in node for ref in schema_refs(value)]
    return []
