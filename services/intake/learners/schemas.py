"""What POST /v1/learners/match takes and answers (CONTRACT.md, Learner matching); the validation service, which
keeps the physician directory, reads the query with the same model (services/validation/matching.py)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class LearnerQuery(BaseModel):
    """Any of the fields that identify a learner; numbers are read as their text."""

    model_config = ConfigDict(coerce_numbers_to_str=True)

    first_name: str | None = None
    last_name: str | None = None
    dob: str | None = Field(default=None, description="MM/DD")
    state: str | None = Field(default=None, description="The licensing state: code or name.")
    license_id: str | None = Field(default=None, description="A state licence ID, or an NPI.")
    npi: str | None = None
    medical_school: str | None = None
    board: str | None = Field(default=None, description="A certifying board's code.")
    board_id: str | None = Field(default=None, description="The learner's ID at that board.")


class Learner(BaseModel):
    """The matched learner, with the licence and certification the query named when it has them."""

    first_name: str
    last_name: str
    dob: str | None
    npi: str | None
    medical_school: str | None
    state: str | None
    license_id: str | None
    board: str | None
    board_id: str | None


class LearnerMatch(BaseModel):
    """`matched` with the `learner`, or not matched with the fields that would help (`need`) and why (`reason`)."""

    matched: bool
    learner: Learner | None = Field(default=None, description="When matched.")
    need: list[Literal["first_name", "last_name", "dob", "state", "license_id", "npi", "medical_school", "board",
                       "board_id"]] | None = Field(default=None, description="When not matched: the fields that would "
                                                                             "help, most useful first.")
    reason: str | None = Field(default=None, description="When not matched: one short sentence.")
