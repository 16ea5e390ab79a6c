"""The completion body of POST /v1/completions (CONTRACT.md section 3).

Fields are lenient on purpose: a missing or malformed value is a PARS code from validation (630, 673...),
not a 422. A body that is not a completion at all (not an object, no target) is the 422.
"""

from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from shared.events import RemsFields

Number = Decimal | str | None


class CmeClaim(BaseModel):
    credits: Number = None
    state: str | None = None
    license_id: str | None = None


class MocClaim(BaseModel):
    board: str = Field(min_length=1)
    board_id: str | None = None
    credits: Number = None
    credit_types: dict[str, Number] = Field(default_factory=dict)


class RemsClaim(RemsFields):
    program: str = Field(min_length=1)
    learner_id: str | None = None  # the provider's own learner ID


class Completion(BaseModel):
    activity_id: str | None = None
    credit_id: str | None = None
    action: str | None = "Add"
    first_name: str | None = None
    last_name: str | None = None
    dob: str | None = None
    completion_date: str | None = None
    npi: str | None = None
    medical_school: str | None = None
    cme: CmeClaim | None = None
    moc: list[MocClaim] = Field(default_factory=list)
    rems: list[RemsClaim] | None = None

    @model_validator(mode="after")
    def has_a_target(self) -> "Completion":
        if self.cme is None and not self.moc and not self.rems:
            raise ValueError("a completion reports at least one target: cme, moc or rems")
        return self


class RecordAnswer(BaseModel):
    record_id: UUID
    target: str
    status: str
    errors: list[dict[str, str]] = Field(default_factory=list)


class SubmissionAnswer(BaseModel):
    submission_id: UUID
    credit_id: str
    records: list[RecordAnswer]
    dry_run: bool = False  # True: validated only; nothing was kept
