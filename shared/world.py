"""The world file: reference data that PARS and the boards hold (CONTRACT.md section 2)."""

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, PlainSerializer

from shared.boards import BoardOverride

# Credits are multiples of 0.25, exact in a float: written as JSON numbers, as the contract shows them.
Credits = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class Provider(BaseModel):
    id: str = Field(pattern=r"^\d{7}$")
    name: str
    email: str
    # Also e-mail the rejections PARS itself gave to batch and web-service records (board ones always are).
    digest_pars_rejections: bool = False


class Activity(BaseModel):
    id: str = Field(pattern=r"^\d{9}$")
    provider_id: str
    title: str
    format: str = "Live Course"
    internal_id: str | None = None
    start_date: date
    end_date: date
    credit_claim_date: date | None = None
    cme_credits: Credits | None = None
    moc_credits: Credits | None = None
    moc: dict[str, list[str]] = Field(default_factory=dict)  # board code -> credit types offered
    rems: list[str] = Field(default_factory=list)


class License(BaseModel):
    state: str
    id: str


class RosterName(BaseModel):
    first_name: str | None = None
    last_name: str | None = None
    dob: str | None = None


class PriorCredit(BaseModel):
    activity_id: str
    completion_date: date
    points: Credits


class Certification(BaseModel):
    board: str
    id: str
    roster: RosterName | None = None
    prior_credits: list[PriorCredit] = Field(default_factory=list)


class Physician(BaseModel):
    first_name: str
    last_name: str
    dob: str = Field(pattern=r"^\d{2}/\d{2}$")
    npi: str | None = None
    medical_school: str | None = None
    licenses: list[License] = Field(default_factory=list)
    certifications: list[Certification] = Field(default_factory=list)


class World(BaseModel):
    providers: list[Provider] = Field(default_factory=list)
    boards: list[BoardOverride] = Field(default_factory=list)
    activities: list[Activity] = Field(default_factory=list)
    physicians: list[Physician] = Field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> "World":
        return cls.model_validate_json(path.read_bytes())
