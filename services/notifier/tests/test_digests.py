"""The digest e-mail and its windows, without SMTP or a database."""

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import MIMEPart
from uuid import uuid4

import pytest

from notifier.digests import Digest, Rejection, backoff, compose, digest_id, message_id, window_start
from shared.codes import catalogue
from shared.fix_hints import HINTS

MSG_661 = "Diplomate ID not found in Board records."
MSG_665 = "Diplomate name does not batch Board record."


def digest(rejections: list[Rejection]) -> Digest:
    start = datetime(2021, 12, 1, tzinfo=UTC)
    return Digest(digest_id("0008001", start), "Western Regional Medical Center", "cme@wrmc.example", start,
                  start + timedelta(days=1), rejections)


def rejection(activity: str, last: str, codes: list[tuple[str, str]], title: str | None = "Airway") -> Rejection:
    return Rejection(uuid4(), activity, title, "Harper", last, "ABOHNS", "19927", "2021-11-02",
                     [{"code": c, "message": m} for c, m in codes])


def part_text(message: MIMEPart, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None, f"no {kind} part"
    return str(part.get_content())


def test_the_digest_lists_each_rejection_by_activity_in_text_and_html() -> None:
    first = rejection("210016865", "Benton", [("661", MSG_661)])
    second = rejection("210016865", "Adams", [("661", MSG_661), ("665", MSG_665)])
    other = rejection("310000001", "Clark", [("665", MSG_665)], title="Sutures")
    message = compose(digest([first, second, other]), "PARS <pars@accme.example>",
                      "http://pars.example/portal/records/{record_id}")
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    text, page = part_text(parsed, "plain"), part_text(parsed, "html")
    assert parsed["To"] == "cme@wrmc.example" and parsed["Subject"] == "PARS: 3 learner record(s) rejected"
    for body in (text, page):
        assert "Activity 210016865 Airway" in body and "Activity 310000001 Sutures" in body
        assert body.count(MSG_661) == 2 and body.count(MSG_665) == 2
        assert all(f"http://pars.example/portal/records/{r.record_id}" in body for r in (first, second, other))
        assert HINTS["661"] in body
    assert text.index("Adams") < text.index("Benton") < text.index("310000001")  # per activity, by name


def test_the_message_id_is_the_same_on_every_resend() -> None:
    one = digest([rejection("210016865", "Benton", [("661", MSG_661)])])
    assert compose(one, "a@b", "{record_id}")["Message-ID"] == compose(one, "a@b", "{record_id}")["Message-ID"]
    assert compose(one, "a@b", "{record_id}")["Message-ID"] == message_id(one.digest_id)
    assert digest_id("0008001", one.window_start) != digest_id("0008002", one.window_start)
    assert digest_id("0008001", one.window_start) != digest_id("0008001", one.window_end)


def test_names_are_escaped_in_the_html() -> None:
    page = compose(digest([rejection("210016865", "<script>", [("661", MSG_661)])]), "a@b", "{record_id}")
    html = part_text(page, "html")
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize(("at", "seconds", "start"), [
    (datetime(2021, 12, 1, 10, 30, tzinfo=UTC), 86400, datetime(2021, 12, 1, tzinfo=UTC)),
    (datetime(2021, 12, 1, 10, 30, 7, tzinfo=UTC), 5, datetime(2021, 12, 1, 10, 30, 5, tzinfo=UTC)),
    (datetime(2021, 12, 1, 10, 30, 5, tzinfo=UTC), 5, datetime(2021, 12, 1, 10, 30, 5, tzinfo=UTC)),
])
def test_windows_are_back_to_back(at: datetime, seconds: float, start: datetime) -> None:
    assert window_start(at, seconds) == start


def test_retries_back_off_up_to_five_minutes() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 10)] == [2, 4, 8, 300]


def test_every_code_a_provider_can_receive_has_a_hint() -> None:
    assert set(catalogue()) <= set(HINTS)
