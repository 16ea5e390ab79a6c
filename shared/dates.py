"""Reading the dates providers write: completion dates (ISO, M/D/YYYY, MM/DD/YY) and month/day birthdays."""

import re
from datetime import date, datetime

_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y")
_MONTH_DAY = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{1,2})\s*$")
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 02/29 is a real birthday


def parse_completion_date(text: str) -> date | None:
    text = text.strip()
    for fmt in _FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def parse_month_day(text: str | None) -> tuple[int, int] | None:
    """A date of birth as PARS keeps it, month and day: '11/11', '1/5'; anything else is None."""
    match = _MONTH_DAY.match(text or "")
    if match is None:
        return None
    month, day = int(match[1]), int(match[2])
    if not 1 <= month <= 12 or not 1 <= day <= _DAYS_IN_MONTH[month - 1]:
        return None
    return month, day


def normalize_month_day(text: str | None) -> str | None:
    """'1/5' -> '01/05'; text that is not a month/day is kept as it came."""
    parsed = parse_month_day(text)
    return f"{parsed[0]:02d}/{parsed[1]:02d}" if parsed else text
