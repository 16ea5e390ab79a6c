"""The PARS error-code catalogue, with each message exactly as PARS words it (typos included)."""

import csv
from functools import lru_cache
from importlib.resources import files

from pydantic import BaseModel


class ParsError(BaseModel):
    code: str
    message: str


class CodeInfo(BaseModel):
    code: str
    message: str
    where: str  # pars | board | both
    condition: str


@lru_cache
def catalogue() -> dict[str, CodeInfo]:
    text = files("shared").joinpath("pars/error-codes.tsv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    return {row["code"]: CodeInfo(**row) for row in rows}


def pars_error(code: str, certificate: str | None = None) -> ParsError:
    """The error for `code`; 678's message names the repeated activity certificate."""
    message = catalogue()[code].message
    if certificate is not None:
        message = message.replace("[Activity Certificate Name]", certificate)
    return ParsError(code=code, message=message)
