"""Messages on the pipeline's topics: one envelope, then a model per command and event.

Commands are imperative (`SubmitRecord`, `ProcessBoardRequest`), events past tense (`RecordSubmitted`).
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field, TypeAdapter

from shared.codes import ParsError
from shared.ids import new_id
from shared.world import Activity

SCHEMA_VERSION = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


class Target(BaseModel):
    """Where a learner record is reported: a certifying board (MOC), a state board (CME), a REMS program."""

    kind: Literal["moc", "state", "rems"]
    code: str


class Envelope(BaseModel):
    event_id: UUID = Field(default_factory=new_id)
    event_type: str
    occurred_at: datetime = Field(default_factory=utcnow)
    schema_version: int = SCHEMA_VERSION
    correlation_id: str
    provider_id: str
    record_id: UUID | None = None
    submission_id: UUID | None = None

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class CreditTypeClaim(BaseModel):
    """One credit type of a record (an XML CreditCertificate, a template certification column), as reported."""

    name: str
    points: str | None = None  # None: the record's total applies


class RemsFields(BaseModel):
    """What a REMS record carries besides the completion (boards.md); it leaves PARS de-identified."""

    profession: str | None = None
    time_in_practice: str | None = None
    practice_state: str | None = None
    practice_area: str | None = None
    dea_registration: str | None = None
    surgical_procedures: bool | None = None


class ReportedRecord(BaseModel):
    """One learner record for one target, as the provider reported it: text kept raw for validation to judge."""

    record_id: UUID
    submission_id: UUID
    provider_id: str
    channel: Literal["api", "batch", "ws"] = "api"
    # XML and web-service records must carry their credit ID (650); the API and templates may omit it.
    credit_id_required: bool = False
    action: str | None = "Add"
    credit_id: str | None = None
    activity_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    dob: str | None = None
    npi: str | None = None
    medical_school: str | None = None
    completion_date: str | None = None
    target: Target
    learner_id: str | None = None  # the board ID for MOC, the licence ID (or NPI) for CME, local ID for REMS
    learner_id_type: str | None = None  # Template B's Learner ID Type, when the file has it
    registration: str | None = None  # Template B's Activity Registration (board or collaboration code)
    credits: str | None = None
    credit_types: list[CreditTypeClaim] = Field(default_factory=list)
    rems: RemsFields | None = None
    batch_id: UUID | None = None
    row_number: int | None = None


class LearnerRecord(BaseModel):
    """A record PARS kept, with its fields parsed."""

    record_id: UUID
    submission_id: UUID
    provider_id: str
    channel: Literal["api", "batch", "ws"] = "api"
    credit_id: str
    activity_id: str
    first_name: str
    last_name: str
    dob: str | None = None
    npi: str | None = None
    completion_date: date
    target: Target
    learner_id: str | None = None
    # True when the provider gave no board ID and PARS found it in its directory (ABS): the board matches the
    # learner again on its own roster, by name and date of birth, and answers 718 when several match.
    learner_id_matched: bool = False
    credits: Decimal
    credit_types: dict[str, Decimal] = Field(default_factory=dict)
    activity_max_credits: Decimal | None = None
    batch_id: UUID | None = None
    row_number: int | None = None


# pars.submissions -------------------------------------------------------------------------------


class SubmitRecord(Envelope):
    event_type: Literal["SubmitRecord"] = "SubmitRecord"
    record: ReportedRecord


# pars.record-events -----------------------------------------------------------------------------


class RecordRejectedByPars(Envelope):
    event_type: Literal["RecordRejectedByPars"] = "RecordRejectedByPars"
    record: ReportedRecord
    errors: list[ParsError]


class RecordSubmitted(Envelope):
    event_type: Literal["RecordSubmitted"] = "RecordSubmitted"
    record: LearnerRecord
    needs_board: bool = True


class RecordAccepted(Envelope):
    event_type: Literal["RecordAccepted"] = "RecordAccepted"
    target: Target
    response_id: UUID | None = None  # the board verdict this applies; None when PARS accepts alone


class RejectedRecord(BaseModel):
    """What a board's rejection says of the record it rejects: what a provider's digest line shows of it."""

    activity_id: str
    first_name: str
    last_name: str
    completion_date: date
    learner_id: str | None = None


class RecordRejected(Envelope):
    event_type: Literal["RecordRejected"] = "RecordRejected"
    target: Target
    response_id: UUID
    errors: list[ParsError]
    # The record as the digest shows it, so the notifier need not keep every record it might hear rejected. None
    # in the events of routers before 2026-12-03 (the notifier looks such a record up in what it kept then).
    record: RejectedRecord | None = None


class DeleteSubmitted(Envelope):
    event_type: Literal["DeleteSubmitted"] = "DeleteSubmitted"
    target: Target
    reported_as: UUID | None = None  # the record ID the Delete itself was reported under (its caller waits on it)


class RecordDeleted(Envelope):
    event_type: Literal["RecordDeleted"] = "RecordDeleted"
    target: Target
    response_id: UUID | None = None
    reported_as: UUID | None = None  # for a Delete PARS applied at once: the record ID it was reported under


RecordEvent = Annotated[
    RecordRejectedByPars | RecordSubmitted | RecordAccepted | RecordRejected | DeleteSubmitted | RecordDeleted,
    Field(discriminator="event_type"),
]
record_event_adapter: TypeAdapter[RecordEvent] = TypeAdapter(RecordEvent)


# pars.activities ---------------------------------------------------------------------------------


class ActivityRegistered(Envelope):
    """An activity registered (or updated) through the API; world files load each service directly."""

    event_type: Literal["ActivityRegistered"] = "ActivityRegistered"
    activity: Activity


# pars.board.<BOARD>.requests and pars.board-responses ------------------------------------------


class ProcessBoardRequest(Envelope):
    """Asks a board to add or delete one learner record; `request_id` stays the same on every retry."""

    event_type: Literal["ProcessBoardRequest"] = "ProcessBoardRequest"
    request_id: UUID
    action: Literal["add", "delete"]
    record: LearnerRecord


class BoardVerdict(Envelope):
    """A board's answer; its `event_id` is the verdict's own id, so a replay is recognised."""

    event_type: Literal["BoardVerdict"] = "BoardVerdict"
    request_id: UUID
    board: str
    action: Literal["add", "delete"]
    accepted: bool
    errors: list[ParsError] = Field(default_factory=list)
