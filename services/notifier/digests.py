"""Digest windows and the digest e-mail itself, free of SMTP and SQL."""

import html
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from importlib.resources import files
from itertools import groupby
from string import Template
from uuid import NAMESPACE_URL, UUID, uuid5

from shared.fix_hints import fix_hint


def window_start(at: datetime, seconds: float) -> datetime:
    """The start of the digest window holding `at`: windows are back-to-back from the epoch."""
    epoch = at.timestamp()
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def digest_id(provider_id: str, start: datetime) -> UUID:
    """One id per provider and window: the e-mail's Message-ID, the same on every resend."""
    return uuid5(NAMESPACE_URL, f"pars:digest:{provider_id}:{start.isoformat()}")


def message_id(did: UUID) -> str:
    return f"<{did}@pars.accme.example>"


@dataclass(frozen=True)
class Rejection:
    record_id: UUID
    activity_id: str | None
    activity_title: str | None
    first_name: str | None
    last_name: str | None
    board: str
    learner_id: str | None
    completion_date: str | None
    errors: list[dict[str, str]]


@dataclass(frozen=True)
class Digest:
    digest_id: UUID
    provider_name: str
    email: str
    window_start: datetime
    window_end: datetime
    rejections: list[Rejection]


def _template(name: str) -> Template:
    return Template(files("notifier").joinpath(f"templates/{name}").read_text(encoding="utf-8"))


def _by_activity(digest: Digest) -> list[tuple[str, list[Rejection]]]:
    ordered = sorted(digest.rejections, key=lambda r: (r.activity_id or "", r.last_name or "", r.first_name or ""))
    groups = groupby(ordered, key=lambda r: (r.activity_id or "(no activity ID)", r.activity_title))
    return [(f"{aid} {title}" if title else aid, list(items)) for (aid, title), items in groups]


def _text_lines(r: Rejection, link: str) -> str:
    who = f"{r.first_name or ''} {r.last_name or ''}".strip() or "(no name)"
    head = (f"  - {who}, {r.board} learner ID {r.learner_id or '(none)'}, completed {r.completion_date or '(none)'}\n")
    codes = "".join(f"      {e['code']} {e['message']}\n      Fix: {fix_hint(e['code'])}\n" for e in r.errors)
    return head + codes + f"      {link}\n"


def _html_rows(r: Rejection, link: str) -> str:
    who = html.escape(f"{r.first_name or ''} {r.last_name or ''}".strip() or "(no name)")
    codes = "".join(f"<li><strong>{html.escape(e['code'])}</strong> {html.escape(e['message'])}<br>"
                    f"<em>{html.escape(fix_hint(e['code']))}</em></li>" for e in r.errors)
    return (f"<tr><td>{who}</td><td>{html.escape(r.board)}</td><td>{html.escape(r.learner_id or '')}</td>"
            f"<td>{html.escape(r.completion_date or '')}</td><td><ul>{codes}</ul></td>"
            f"<td><a href=\"{html.escape(link)}\">record</a></td></tr>")


def compose(digest: Digest, sender: str, record_url: str) -> EmailMessage:
    """The digest as a multipart (plain text + HTML) message with a stable Message-ID."""
    groups = _by_activity(digest)
    text = "".join(f"\nActivity {name}\n" + "".join(_text_lines(r, record_url.format(record_id=r.record_id))
                                                     for r in items) for name, items in groups)
    table = "".join(
        f"<h3>Activity {html.escape(name)}</h3><table border=\"1\" cellpadding=\"4\" cellspacing=\"0\">"
        "<tr><th>Learner</th><th>Board</th><th>Learner ID</th><th>Completed</th><th>Rejected with</th><th></th></tr>"
        + "".join(_html_rows(r, record_url.format(record_id=r.record_id)) for r in items) + "</table>"
        for name, items in groups)
    fields = {"provider_name": digest.provider_name, "count": len(digest.rejections),
              "window_start": digest.window_start.strftime("%Y-%m-%d %H:%M:%S"),
              "window_end": digest.window_end.strftime("%Y-%m-%d %H:%M:%S"), "digest_id": digest.digest_id}
    message = EmailMessage()
    message["From"] = sender
    message["To"] = digest.email
    message["Subject"] = f"PARS: {len(digest.rejections)} learner record(s) rejected"
    message["Message-ID"] = message_id(digest.digest_id)
    message["Date"] = format_datetime(digest.window_end)
    message.set_content(_template("digest.txt").substitute(fields, activities=text))
    message.add_alternative(_template("digest.html").substitute(
        {**fields, "provider_name": html.escape(digest.provider_name)}, activities=table), subtype="html")
    return message


def backoff(attempts: int) -> timedelta:
    """How long to wait before the next try after `attempts` failed sends: doubling, at most five minutes."""
    return timedelta(seconds=min(2 ** attempts, 300))
