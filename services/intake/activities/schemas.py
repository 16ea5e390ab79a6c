"""What the activity routes take and answer (CONTRACT.md, Activities).

A registration is taken as leniently as the validation service reads it (services/validation/activity_registration.py):
a missing or wrong value is a problem validation names on its field (422 `invalid_activity`), not a type error
here; intake forwards the body as it came.
"""

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, Field

DateInput = str | date | None
# bool is listed as validation lists it: true/false reach its rules as booleans (refused) instead of as 1 and 0.
CreditsInput = bool | Decimal | float | int | str | None


class ActivityRegistration(BaseModel):
    """An activity as the world file has it; `provider_id` defaults to the caller's."""

    id: str | int | None = Field(default=None, description="The ACCME activity ID: 9 digits.")
    provider_id: str | int | None = Field(default=None, description="The caller's own, when given.")
    title: str | None = None
    format: str | None = Field(default=None, description="Live Course when absent.")
    internal_id: str | int | None = None
    start_date: DateInput = Field(default=None, description="YYYY-MM-DD")
    end_date: DateInput = Field(default=None, description="YYYY-MM-DD")
    credit_claim_date: DateInput = Field(default=None, description="YYYY-MM-DD, not before end_date")
    cme_credits: CreditsInput = Field(default=None, description="In steps of 0.25, at most 1000.")
    moc_credits: CreditsInput = Field(default=None, description="Required when moc names boards.")
    moc: dict[str, list[str]] | None = Field(default_factory=dict,
                                             description="MOC board code -> the credit types the activity offers.")
    rems: list[str] | None = Field(default_factory=list, description="REMS program codes.")


class Activity(BaseModel):
    """A registered activity (shared.world.Activity, as validation answers it)."""

    id: str
    provider_id: str
    title: str
    format: str
    internal_id: str | None
    start_date: date
    end_date: date
    credit_claim_date: date | None
    cme_credits: float | None
    moc_credits: float | None
    moc: dict[str, list[str]]
    rems: list[str]


ActivitySort = Literal["id", "-id", "title", "-title", "format", "-format", "start", "-start", "submitted",
                       "-submitted", "accepted", "-accepted", "rejected", "-rejected"]
SortParameter = Annotated[ActivitySort, Query(description="The order; `-` for descending.")]


class ActivitySummary(BaseModel):
    id: str
    provider_id: str
    title: str
    format: str
    start_date: date | None
    end_date: date | None
    submitted: int = Field(description="Records Submitted, under the record filters given.")
    accepted: int
    rejected: int
    delete_submitted: int


class ActivitySummaryPage(BaseModel):
    total: int = Field(description="Activities under the activity filters (format, q), on every page.")
    page: int
    per_page: int
    items: list[ActivitySummary]
