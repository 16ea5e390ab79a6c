"""The suite's figures and the one table that prints them, with each figure's ratio to the ceiling and floor."""

import operator
from collections.abc import Callable
from dataclasses import dataclass

AT_LEAST, AT_MOST = (operator.ge, "≥"), (operator.le, "≤")


@dataclass(frozen=True)
class Figure:
    """One measured figure. `value` None: not measured (yet); `note` says why, or what else was seen."""

    name: str
    value: float | None
    unit: str
    target: float | None = None
    direction: tuple[Callable[[float, float], bool], str] = AT_LEAST
    per_ceiling: bool = False  # a records/s figure: compare it with the Kafka ceiling
    per_floor: bool = False  # an API rate: compare it with wrk's GET /healthz rate
    note: str = ""

    @property
    def met(self) -> str:
        if self.value is None or self.target is None:
            return ""
        return "yes" if self.direction[0](self.value, self.target) else "NO"

    def target_text(self) -> str:
        return "" if self.target is None else f"{self.direction[1]} {_number(self.target)} {self.unit}"


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}" if abs(value) >= 1 else f"{value:.2g}"


def _ratio(value: float | None, base: float | None, wanted: bool) -> str:
    return f"{value / base:.2f}×" if wanted and value is not None and base else ""


def render(figures: list[Figure], ceiling: float | None, floor: float | None) -> str:
    """The table as text: figure, value, target, met, ratios to ceiling and floor, note."""
    head = ("figure", "value", "target", "met", "×ceiling", "×floor", "note")
    rows = [head] + [(
        f.name, "not measured yet" if f.value is None else f"{_number(f.value)} {f.unit}", f.target_text(), f.met,
        _ratio(f.value, ceiling, f.per_ceiling), _ratio(f.value, floor, f.per_floor), f.note) for f in figures]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(line.rstrip() for line in lines)
