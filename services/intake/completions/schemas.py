"""The completion body of POST /v1/completions (CONTRACT.md section 3).

Fields are lenient on purpose: a missing or malformed value is a PARS code from validation (630, 673...),
not a 422. A body that is not a completion at all (not an object, no target) is the 422.

Only what no service could keep is a 422 here (shared/limits.py): text over its length, a NUL, a control
character or a lone surrogate, a number that is not finite, too many boards, programs or credit types. The limits
are in the models, so /openapi.json documents them.
"""

import math
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, model_validator

from shared.events import RemsFields
from shared.limits import (
    CREDIT_TYPE_CHARS,
    ID_CHARS,
    MAX_CREDIT_TYPES,
    MAX_MOC_ENTRIES,
    MAX_REMS_ENTRIES,
    NAME_CHARS,
    TEXT_CHARS,
    VALUE_CHARS,
    keepable,
    text_problem,
)


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):  # JSON's 1e309 reads as infinity
        raise ValueError("is not a finite number")
    return value


def _short(value: Decimal | str | None) -> Decimal | str | None:
    if value is not None and (problem := text_problem(str(value), VALUE_CHARS)):
        raise ValueError(problem)
    return value


Keepable = AfterValidator(keepable())
Name = Annotated[str, Field(max_length=NAME_CHARS), Keepable]
Id = Annotated[str, Field(max_length=ID_CHARS), Keepable]
Code = Annotated[str, Field(min_length=1, max_length=ID_CHARS), Keepable]  # a board or a REMS program
CreditType = Annotated[str, Field(max_length=CREDIT_TYPE_CHARS), Keepable]
Value = Annotated[str, Field(max_length=VALUE_CHARS), Keepable]
Text = Annotated[str, Field(max_length=TEXT_CHARS), Keepable]
# A number of credits, or text validation judges (673...); checked as a whole, so an error names the field alone.
Number = Annotated[Decimal | str | None, BeforeValidator(_finite), AfterValidator(_short),
                   Field(description=f"a finite number, or its text; at most {VALUE_CHARS} characters")]


class CmeClaim(BaseModel):
    credits: Number = None
    state: Value | None = None
    license_id: Id | None = None


class MocClaim(BaseModel):
    board: Code
    board_id: Id | None = None
    credits: Number = None
    credit_types: dict[CreditType, Number] = Field(default_factory=dict, max_length=MAX_CREDIT_TYPES)


class RemsClaim(RemsFields):
    program: Code
    learner_id: Id | None = None  # the provider's own learner ID
    profession: Text | None = None
    time_in_practice: Text | None = None
    practice_state: Text | None = None
    practice_area: Text | None = None
    dea_registration: Text | None = None


class Completion(BaseModel):
    activity_id: Id | None = None
    credit_id: Id | None = None
    action: Value | None = "Add"
    first_name: Name | None = None
    last_name: Name | None = None
    dob: Value | None = None
    completion_date: Value | None = None
    npi: Id | None = None
    medical_school: Text | None = None
    cme: CmeClaim | None = None
    moc: list[MocClaim] = Field(default_factory=list, max_length=MAX_MOC_ENTRIES)
    rems: list[RemsClaim] | None = Field(default=None, max_length=MAX_REMS_ENTRIES)

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
