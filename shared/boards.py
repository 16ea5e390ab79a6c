"""The board catalogue shipped with PARS, with world-file overrides on top.

Facts come from the PARS guide and ACCME's pages (../shared/pars/boards.md in the kit); where a fact is
unknown the catalogue chooses something plausible and says so in `catalogue/boards.json`.
"""

import json
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from importlib.resources import files
from typing import Literal

from pydantic import BaseModel, Field


class BoardFaults(BaseModel):
    """Faults a simulated board injects, for tests and demos; rates are per answer, seeded."""

    drop: float = 0.0  # the answer is lost (the router asks again; the board repeats its answer)
    duplicate: float = 0.0  # the answer is sent twice
    delay: float = 0.0  # the answer is held back up to max_delay_seconds
    max_delay_seconds: float = 10.0
    reorder_seconds: float = 0.0  # answers leave up to this much out of order
    crash: float = 0.0  # the batch dies before it commits (redelivered)
    seed: int = 0


class Board(BaseModel):
    code: str
    kind: Literal["moc", "state", "rems"]
    name: str
    credit_types: list[str] = Field(default_factory=list)
    # Names the templates use for a credit type ("ABPath MOC Part II" reports Lifelong Learning).
    credit_type_aliases: dict[str, str] = Field(default_factory=dict)
    requires_board_id: bool = True
    requires_dob: bool = True
    # realtime: roster checked while PARS validates; async: the board answers later; none: PARS accepts alone
    processing: Literal["realtime", "async", "none"] = "async"
    latency_seconds: float = 86400.0
    # Boards that work overnight answer everything received in one run at this UTC time ("02:00").
    overnight_at: str | None = None
    faults: BoardFaults | None = None
    one_completion_per_day: bool = False
    report_deadline: str = "03-31"
    delete_deadline: str = "12-31"
    # The board's own record of an activity's maximum points, where it differs from PARS's registration (the
    # board approved fewer points than the provider registered): the board answers 674 above it.
    activity_maximums: dict[str, Decimal] = Field(default_factory=dict)

    def answer_time(self, received: datetime, scale: float) -> datetime:
        """When the board answers a request received at `received`; `scale` shrinks the wait (0: at once)."""
        if self.overnight_at is None:
            wait = timedelta(seconds=self.latency_seconds)
        else:
            hour, minute = (int(part) for part in self.overnight_at.split(":"))
            run = received.replace(hour=hour, minute=minute, second=0, microsecond=0)
            wait = (run if run > received else run + timedelta(days=1)) - received
        return received + wait * scale

    @property
    def needs_board(self) -> bool:
        return self.processing != "none"

    def credit_type(self, name: str) -> str | None:
        """The board's own name for a reported credit type (case and spacing forgiven), or None."""
        wanted = " ".join(name.split()).casefold()
        for known in self.credit_types:
            if known.casefold() == wanted:
                return known
        for alias, known in self.credit_type_aliases.items():
            if alias.casefold() == wanted:
                return known
        return None


class BoardOverride(BaseModel):
    """A world file's board entry: a new board, or fields that replace the catalogue's."""

    code: str
    kind: Literal["moc", "state", "rems"] | None = None
    name: str | None = None
    credit_types: list[str] | None = None
    credit_type_aliases: dict[str, str] | None = None
    requires_board_id: bool | None = None
    requires_dob: bool | None = None
    processing: Literal["realtime", "async", "none"] | None = None
    latency_seconds: float | None = None
    overnight_at: str | None = None
    faults: BoardFaults | None = None
    one_completion_per_day: bool | None = None
    report_deadline: str | None = None
    delete_deadline: str | None = None
    activity_maximums: dict[str, Decimal] | None = None


@lru_cache
def shipped_boards() -> dict[str, Board]:
    data = json.loads(files("shared").joinpath("catalogue/boards.json").read_text(encoding="utf-8"))
    return {b["code"]: Board(**b) for b in data["boards"]}


def apply_overrides(overrides: list[BoardOverride]) -> dict[str, Board]:
    boards = dict(shipped_boards())
    for override in overrides:
        fields = override.model_dump(exclude_none=True)
        base = boards.get(override.code)
        if base is None:
            fields.setdefault("kind", "moc")
            fields.setdefault("name", override.code)
            boards[override.code] = Board(**fields)
        else:
            boards[override.code] = Board.model_validate(base.model_dump() | fields)  # validated, nested too
    return boards
