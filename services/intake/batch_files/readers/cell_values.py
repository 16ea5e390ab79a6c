"""Spreadsheet cell values as the text the provider meant: numbers as typed, booleans as Yes/No, Excel date
serials and dates as days (a birthday as MM/DD), and the quote that neutralised a formula-like cell undone."""

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

_EXCEL_EPOCH = date(1899, 12, 30)  # serial 61 and later; Excel counts a 29 Feb 1900 that never was (serial 60)
_MAX_SERIAL = 2_958_465  # 9999-12-31
_SERIAL = re.compile(r"^\s*(\d{1,7})(?:\.\d+)?\s*$")
_FORMULA_QUOTED = re.compile(r"^'[=+\-@\t\r]")  # what intake.cells.safe_cell wrote: undone on the way back in


def _serial_to_iso(serial: int) -> str:
    """An Excel (1900 date system) day number as an ISO date. Excel believes 1900 was a leap year, so its serial
    60 is 29 February 1900, a day that never was: kept as Excel shows it, so validation refuses it."""
    if serial == 60:
        return "1900-02-29"
    base = _EXCEL_EPOCH if serial > 60 else date(1899, 12, 31)
    return (base + timedelta(days=serial)).isoformat()


def _number_text(value: int | float) -> str:
    """12.0 -> '12', 8.5 -> '8.5': a number as the provider typed it, not as a float prints."""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        if value.is_integer():
            return str(int(value))
        text = f"{value:.15g}"  # Excel keeps 15 significant digits; more would be float noise
        return format(Decimal(text), "f") if "e" in text else text
    return str(value)


def _date_text(value: date, role: str) -> str:
    if role == "dob":  # PARS keeps month and day only; the year is whatever Excel or LibreOffice added
        return f"{value.month:02d}/{value.day:02d}"
    if isinstance(value, datetime) and (role == "completion" or value.time() == time()):
        return value.date().isoformat()
    return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()


def _serial_text(text: str) -> str:
    """A completion date typed or stored as an Excel serial ('44501') becomes the day it stands for."""
    match = _SERIAL.match(text)
    if match and 1 <= int(match[1]) <= _MAX_SERIAL:
        return _serial_to_iso(int(match[1]))
    return text


def cell_text(value: Any, role: str = "") -> str:
    """A spreadsheet value as the text the provider meant; `role` is 'dob', 'completion' or ''."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value[1:] if value[:1] == "'" and _FORMULA_QUOTED.match(value) else value
        return _serial_text(text) if role == "completion" else text
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int | float):
        text = _number_text(value)
        return _serial_text(text) if role == "completion" else text
    if isinstance(value, date):  # datetime too
        return _date_text(value, role)
    if isinstance(value, time):
        return value.isoformat()
    return str(value)
