"""Cells of the files PARS writes (CSV, xlsx): a value a spreadsheet would run as a formula is neutralised."""

from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Text starting like a formula gets a leading apostrophe, so Excel shows it instead of running it."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
