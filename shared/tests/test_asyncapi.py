"""The AsyncAPI document holds to its own structure and to the topic registry: every topic a channel, every type a
topic carries a message with its schema, every writer and consumer group an operation, every reference resolved.
(services/intake/tests/test_asyncapi_route.py: intake answers it at /asyncapi.)"""

import json
import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from shared.asyncapi import BOARD, board_codes, document, schema_refs
from shared.settings import Settings
from shared.topics import GROUPS, all_topics, board_requests

SETTINGS = Settings(_env_file=None, namespace="stack7")
# The specification's own JSON Schema (asyncapi/spec-json-schemas, schemas/3.0.0-without-$id.json, Apache-2.0).
SPECIFICATION = Path(__file__).resolve().parents[2] / "tests" / "data" / "asyncapi-3.0.0.schema.json"
ID = re.compile(r"^[A-Za-z0-9_\-]+$")  # AsyncAPI 3.0's pattern for channel, operation and component keys


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return document(SETTINGS)


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def addresses(channel: dict[str, Any]) -> list[str]:
    """The topics a channel stands for: its address, or one per value of its parameter."""
    address: str = channel["address"]
    if "{" not in address:
        return [address]
    [(name, parameter)] = channel["parameters"].items()
    return [address.replace("{" + name + "}", value) for value in parameter["enum"]]


def test_it_is_asyncapi_3_and_every_reference_resolves(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0" and doc["info"]["title"] and doc["info"]["version"]
    for section in ("channels", "operations"):
        assert all(ID.match(key) for key in doc[section]), doc[section].keys()
    for section in ("messages", "schemas"):
        assert all(ID.match(key) for key in doc["components"][section])
    refs = schema_refs(doc)
    assert refs and all(resolve(doc, ref) is not None for ref in refs)


def test_it_validates_against_the_asyncapi_3_json_schema(doc: dict[str, Any]) -> None:
    validator = jsonschema_rs.validator_for(json.loads(SPECIFICATION.read_text(encoding="utf-8")))
    assert [str(e)[:300] for e in validator.iter_errors(doc)] == []
    doc_with_a_2x_verb = json.loads(json.dumps(doc))
    next(iter(doc_with_a_2x_verb["operations"].values()))["action"] = "publish"
    assert not validator.is_valid(doc_with_a_2x_verb)  # the schema is strict where it matters


def test_every_topic_of_the_registry_is_a_channel_with_its_partitions(doc: dict[str, Any]) -> None:
    by_topic = {address: channel for channel in doc["channels"].values() for address in addresses(channel)}
    for spec in all_topics(board_codes()):
        channel = by_topic[SETTINGS.topic(spec.name)]
        assert channel["bindings"]["kafka"]["partitions"] == spec.partitions
        assert spec.key in channel["description"]
        # Every type the topic carries is one of its messages, whose payload is that type's schema.
        payloads = {resolve(doc, m["$ref"])["payload"]["$ref"] for m in channel["messages"].values()}
        assert {f"#/components/schemas/{model.__name__}" for model in spec.values} <= payloads, spec.name
    assert set(by_topic) == {SETTINGS.topic(spec.name) for spec in all_topics(board_codes())}


def test_every_message_type_has_its_json_schema(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for spec in all_topics(board_codes()):
        for model in spec.values:
            schema = schemas[model.__name__]
            assert set(model.model_fields) == set(schema["properties"]), model.__name__
    record_accepted = doc["components"]["messages"]["RecordAccepted"]
    assert record_accepted["headers"]["properties"]["event_type"]["const"] == "RecordAccepted"
    assert record_accepted["bindings"]["kafka"]["key"]["description"] == "record_id"


def test_operations_are_the_registrys_writers_and_groups(doc: dict[str, Any]) -> None:
    operations = doc["operations"].values()
    for op in operations:
        channel_ref = op["channel"]["$ref"]
        # AsyncAPI 3.0: an operation's messages are those of its channel.
        assert op["messages"] and all(m["$ref"].startswith(channel_ref + "/messages/") for m in op["messages"])
    sends = {(op["x-pars-service"], resolve(doc, op["channel"]["$ref"])["title"])
             for op in operations if op["action"] == "send"}
    assert sends == {(writer, spec.name) for spec in all_topics([BOARD]) for writer in spec.writers}
    receives = {(op["bindings"]["kafka"]["groupId"]["enum"][0], resolve(doc, op["channel"]["$ref"])["title"])
                for op in operations if op["action"] == "receive"}
    assert receives == {(SETTINGS.group(g.name), t.name) for g in GROUPS
                        for t in g.reads or (board_requests(BOARD),)}
