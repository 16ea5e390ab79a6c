"""What the operators' routes answer (`/v1/ops/...`): the JSON the console, `pars` and operators' scripts read.

The routes build plain dicts (kafka_admin, messages, browse, dead_letter_actions, overview); these models document
them key for key, and FastAPI answers through them. Times are the ISO strings the builders write (`str`, not
`datetime`), so the bytes stay as they were. Keys a builder writes only sometimes (a message's `value_text`) have a
default, and the routes that answer them leave unset keys out (`response_model_exclude_unset`).
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field


class PartitionOffsets(BaseModel):
    partition: int
    beginning_offset: int
    end_offset: int
    messages: int = Field(description="end_offset - beginning_offset")


class Stream(BaseModel):
    name: str = Field(description="The topic's logical name (pars.record.events).")
    topic: str = Field(description="Its full name, with the namespace's prefix.")
    exists: bool
    partition_count: int
    messages: int
    partitions: list[PartitionOffsets]


class Streams(BaseModel):
    namespace: str
    streams: list[Stream]


class PartitionLag(BaseModel):
    topic: str
    partition: int
    committed: int | None = Field(description="null: nothing committed yet (the group starts from the earliest)")
    end_offset: int
    lag: int
    trend: list[int] = Field(description="This partition's lag in this process's last samples, oldest first.")


class Assignment(BaseModel):
    topic: str
    partitions: list[int]


class GroupMember(BaseModel):
    member_id: str
    client_id: str
    host: str
    assignment: list[Assignment]


class GroupLag(BaseModel):
    group: str = Field(description="The group's logical name.")
    group_id: str
    exists: bool
    topics: list[str]
    lag: int
    partitions: list[PartitionLag]
    state: str = Field(description="Kafka's group state (Stable, Empty...), `absent`, or `error <code>`.")
    members: list[GroupMember]
    trend: list[tuple[str, int]] = Field(description="[sampled at, lag] in this process's last samples, oldest first.")


class Lag(BaseModel):
    groups: list[GroupLag]
    total_lag: int
    sampled: int = Field(description="Samples the trends hold.")


class Message(BaseModel):
    """A message as operators see it, personal fields redacted."""

    topic: str
    partition: int
    offset: int
    timestamp: str
    key: str | None
    event_type: str | None
    headers: dict[str, str]
    value: dict[str, Any] | list[Any] | None = Field(description="The decoded JSON value, redacted; null when the "
                                                                  "value is not a JSON object or array.")
    value_text: str | None = Field(None, description="Only when the value is not JSON: a preview, digits masked.")
    value_bytes: int | None = Field(None, description="Only when the value is not JSON: its size.")


class TopicMessages(BaseModel):
    topic: str
    messages: list[Message]


class Browsed(BaseModel):
    topic: str
    partitions: list[int]
    messages: list[Message]
    matched: int
    scanned: int
    complete: bool = Field(description="Every partition was read to its end within the scan and time budget.")


class RecordStory(BaseModel):
    record_id: str
    topics: list[str]
    messages: list[Message]
    scanned: int
    complete: bool


class DeadLetterAction(BaseModel):
    dlq_topic: str
    dlq_partition: int
    dlq_offset: int
    action: Literal["redrive", "skip"]
    operator: str
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    redriven_to: str | None = Field(description="partition/offset of the re-driven copy")
    acted_at: str


class DeadLetterSource(BaseModel):
    topic: str | None
    partition: int | None
    offset: int | None


class DeadLetter(BaseModel):
    """A dead letter: what its DLQ headers say, the message as operators see it, and what was done with it."""

    service: str
    error: str | None
    failed_at: str | None
    source: DeadLetterSource
    topic: str
    partition: int
    offset: int
    timestamp: str
    key: str | None
    event_type: str | None
    headers: dict[str, str]
    value: dict[str, Any] | list[Any] | None
    value_text: str | None = None
    value_bytes: int | None = None
    action: DeadLetterAction | None = Field(description="null while the letter is pending")


class DeadLetters(BaseModel):
    dead_letters: list[DeadLetter]


class DeadLetterActions(BaseModel):
    actions: list[DeadLetterAction]


class ActionOutcome(BaseModel):
    done: bool = Field(description="false: an earlier action (shown) had handled the letter already")
    # Tried as the model first; an action row that vanished meanwhile is answered as the empty object it is.
    action: Annotated[DeadLetterAction | dict[str, Any], Field(union_mode="left_to_right")]


class ActionCounts(BaseModel):
    done: int
    already: int
    refused: int


class ServiceHealth(BaseModel):
    service: str
    ready: bool
    status: int | None = Field(description="/readyz's HTTP status; null when the service did not answer")
    error: str | None


class Health(BaseModel):
    services: list[ServiceHealth]


class Batch(BaseModel):
    batch_id: str
    provider_id: str
    file_name: str
    format: str
    status: str
    records: int
    decided: int
    added: int
    rejected: int
    uploaded_at: str
    completed_at: str | None


class Batches(BaseModel):
    batches: list[Batch]


class LiveTicket(BaseModel):
    ticket: str
    expires_in: int = Field(description="seconds")


class Replayed(BaseModel):
    replayed: int
    since: str
