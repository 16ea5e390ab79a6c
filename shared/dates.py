"""Reading the dates providers write: completion dates (ISO, M/D/YYYY, MM/DD/YY) and month/day birthdays."""

import re
from datetime import date, datetime
from functools import lru_cache

_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y")
_MONTH_DAY = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{1,2})\s*$")
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                       "dec"), start=1)}
# What Excel shows after turning a typed MM/DD into a date: "Jun-70" (June 1970: the day is lost, the 1st is
# kept) and "1-Oct" (October 1 of some year).
_EXCEL_MONTH_YEAR = re.compile(r"^\s*([A-Za-z]{3})[A-Za-z]*-(\d{2}|\d{4})\s*$")
_EXCEL_DAY_MONTH = re.compile(r"^\s*(\d{1,2})-([A-Za-z]{3})[A-Za-z]*\s*$")
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 02/29 is a real birthday


@lru_cache(maxsize=8192)  # a batch repeats a few dates thousands of times, and strptime is slow
def parse_completion_date(text: str) -> date | None:
    text = text.strip()
    for fmt in _FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


@lru_cache(maxsize=8192)
def parse_month_day(text: str | None) -> tuple[int, int] | None:
    """A date of birth as PARS keeps it, month and day: '11/11', '1/5', and Excel's 'Jun-70' and '1-Oct'."""
    text = text or ""
    if match := _MONTH_DAY.match(text):
        month, day = int(match[1]), int(match[2])
    elif (match := _EXCEL_MONTH_YEAR.match(text)) and match[1].lower() in _MONTHS:
        month, day = _MONTHS[match[1].lower()], 1
    elif (match := _EXCEL_DAY_MONTH.match(text)) and match[2].lower() in _MONTHS:
        month, day = _MONTHS[match[2].lower()], int(match[1])
    else:
        return None
    if not 1 <= month <= 12 or not 1 <= day <= _DAYS_IN_MONTH[month - 1]:
        return None
    return month, day


def normalize_month_day(text: str | None) -> str | None:
    """'1/5' -> '01/05'; text that is not a month/day is kept as it came."""
    parsed = parse_month_day(text)
    return f"{parsed[0]:02d}/{parsed[1]:02d}" if parsed else text
