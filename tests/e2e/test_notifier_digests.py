"""Rejection digests over real SMTP: one e-mail per provider per window, each rejection in exactly one.

The SMTP server is aiosmtpd, run by the test. Mail clients show one message per Message-ID, so a digest
resent after a crash (same Message-ID) counts once, as it would for the provider.
"""

import asyncio
import random
import re
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.e2e.conftest import Stack, start_stack, stop_services
from tests.e2e.test_validation_codes import publish_and_await, submit_command
from tests.support import free_port

pytestmark = pytest.mark.e2e
MSG_661 = "Diplomate ID not found in Board records."
WINDOW = 8  # seconds of a digest window in the first test
RECORD_LINK = re.compile(r"/portal/records/([0-9a-f-]{36})")  # a record's page in the portal


class Mailbox:
    """An SMTP server's handler that keeps every message and can refuse some recipients."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refused: set[str] = set()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return "550 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"

    def by_message_id(self) -> dict[str, EmailMessage]:
        with self.lock:
            return {m["Message-ID"]: m for m in self.messages}


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def world(providers: list[str]) -> dict:
    return {
        # 0008002 also asked for the rejections PARS itself gives its batch and web-service records.
        "providers": [{"id": p, "name": f"Provider {p}", "email": f"cme@{p}.example",
                       "digest_pars_rejections": p == "0008002"} for p in providers],
        "activities": [{"id": f"21{p}", "provider_id": p, "title": f"Course of {p}", "start_date": "2021-10-15",
                        "end_date": "2021-11-15", "moc_credits": 8, "moc": {"ABOHNS": ["Self-Assessment"]}}
                       for p in providers],
        "physicians": [{"first_name": "Harper", "last_name": "Benton", "dob": "11/11",
                        "certifications": [{"board": "ABOHNS", "id": "19927"}]}],
    }


def completion(provider: str, board_id: str) -> dict:
    return {"activity_id": f"21{provider}", "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
            "completion_date": "2021-11-02",
            "moc": [{"board": "ABOHNS", "board_id": board_id, "credits": 8, "credit_types": {"Self-Assessment": 8}}]}


def load(stack: Stack, providers: list[str]) -> dict[str, str]:
    stack.load_world(world(providers))
    return {p: stack.pars("provider", "key", p).stdout.strip() for p in providers}


def submit(stack: Stack, key: str, provider: str, board_id: str) -> str:
    with stack.client(key) as api:
        answer = api.post("/v1/completions", json=completion(provider, board_id))
    assert answer.status_code == 202, answer.text
    return answer.json()["records"][0]["record_id"]


async def batch_record_rejected_by_pars(stack: Stack, provider: str) -> str:
    command, record = submit_command(stack, channel="batch", provider_id=provider, activity_id="999999999")
    command = command.model_copy(update={"provider_id": provider})
    event = await publish_and_await(stack, command.to_bytes(), record.record_id, provider.encode())
    assert [e["code"] for e in event["errors"]] == ["690"]
    return str(record.record_id)


def linked_records(message: EmailMessage) -> list[str]:
    plain = message.get_body(("plain",))
    assert plain is not None, "a digest without its text part"
    return RECORD_LINK.findall(plain.get_content())


def test_each_provider_gets_one_digest_with_exactly_its_rejections(servers: dict[str, str], tmp_path: Path,
                                                                   mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    box.refused.add("cme@0008003.example")  # this provider's mail server refuses, for now
    stack = start_stack(servers, tmp_path / "logs", PARS_SMTP_HOST="127.0.0.1", PARS_SMTP_PORT=str(port),
                        PARS_PUBLIC_URL="https://pars.example.org",
                        PARS_DIGEST_SECONDS=str(WINDOW))
    try:
        keys = load(stack, ["0008001", "0008002", "0008003"])
        # Report everything early in one window, so each provider's rejections share one digest.
        time.sleep(WINDOW - time.time() % WINDOW + 0.2)
        rejected = {"0008001": [submit(stack, keys["0008001"], "0008001", f"9{i}") for i in range(3)],
                    "0008002": [submit(stack, keys["0008002"], "0008002", f"8{i}") for i in range(2)],
                    "0008003": [submit(stack, keys["0008003"], "0008003", "77")]}
        accepted = submit(stack, keys["0008001"], "0008001", "19927")
        for provider in ("0008001", "0008002"):  # a batch record PARS rejects (690)
            rejected_by_pars = asyncio.run(batch_record_rejected_by_pars(stack, provider))
            if provider == "0008002":
                rejected[provider].append(rejected_by_pars)

        def delivered() -> dict[str, EmailMessage] | None:
            mails = {m["To"]: m for m in box.by_message_id().values()}
            return mails if {"cme@0008001.example", "cme@0008002.example"} <= set(mails) else None

        mails = stack.wait_for(delivered, timeout=30)
        time.sleep(WINDOW + 1)  # a further window passes: no second digest comes
        assert len(box.messages) == 2
        for provider in ("0008001", "0008002"):
            mail = mails[f"cme@{provider}.example"]
            assert sorted(linked_records(mail)) == sorted(rejected[provider])
            text = mail.get_body(("plain",)).get_content()
            assert text.count(f"661 {MSG_661}") == (2 if provider == "0008002" else 3)
            assert ("690 ACCME activity ID does not exist" in text) is (provider == "0008002")
            assert f"Activity 21{provider} Course of {provider}" in text
            # Each link opens the record's page where providers reach the portal (PARS_PUBLIC_URL).
            assert text.count("https://pars.example.org/portal/records/") == len(rejected[provider])
        assert accepted not in linked_records(mails["cme@0008001.example"])

        listed = stack.pars("mail", "list")
        assert listed.returncode == 0 and "0008003" in listed.stdout and "pending" in listed.stdout

        box.refused.clear()  # the refusing server comes back: its digest follows, once
        late = stack.wait_for(lambda: next((m for m in box.by_message_id().values()
                                            if m["To"] == "cme@0008003.example"), None), timeout=30)
        assert linked_records(late) == rejected["0008003"]
    finally:
        stop_services(list(stack.processes.values()))


def test_a_notifier_killed_at_random_loses_and_repeats_no_rejection(servers: dict[str, str], tmp_path: Path,
                                                                     mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    stack = start_stack(servers, tmp_path / "logs", PARS_SMTP_HOST="127.0.0.1", PARS_SMTP_PORT=str(port),
                        PARS_PUBLIC_URL="https://pars.example.org",
                        PARS_DIGEST_SECONDS="2")
    try:
        keys = load(stack, ["0008001", "0008002"])
        rejected: list[str] = []
        feeding = threading.Event()
        feeding.set()

        def feed() -> None:
            i = 0
            while feeding.is_set():
                provider = ("0008001", "0008002")[i % 2]
                rejected.append(submit(stack, keys[provider], provider, f"5{i}"))
                i += 1
                time.sleep(0.3)

        feeder = threading.Thread(target=feed)
        feeder.start()
        rng, notifier, kills, starts = random.Random(20), stack.processes["notifier"], 0, 1

        def runs() -> list[str]:
            return stack.log("notifier").split('"event": "service started"')[1:]

        def runs_that_sent() -> int:
            return sum('"digest sent"' in run for run in runs())

        # At least twenty two-second windows and five kills, and until several runs sent digests before being
        # killed: how long a start takes depends on the machine's load (a loaded run of the suite managed four kills
        # in the first 40 s), so a kill is timed from the run's start when it is to land while the notifier works,
        # and from the process's start when it is to land while it is starting up.
        soon, deadline = time.monotonic() + 40, time.monotonic() + 240
        while time.monotonic() < deadline and (time.monotonic() < soon or runs_that_sent() < 3 or kills < 5):
            if rng.random() < 0.25:
                time.sleep(rng.uniform(0.2, 2.0))  # still starting up
            else:  # while it closes a window, sends or consumes
                stack.wait_for(lambda n=starts: len(runs()) >= n, timeout=30)
                time.sleep(rng.uniform(0.5, 6.0))
            assert notifier.process is not None
            notifier.process.kill()  # SIGKILL: no clean-up at all
            notifier.wait(10)
            kills += 1
            starts = len(runs()) + 1  # a run killed while starting up logged no start
            notifier.start()
        feeding.clear()
        feeder.join(30)
        if not notifier.alive:
            stack.restart("notifier")
        assert kills >= 5 and len(rejected) > 50

        def all_mailed() -> dict[str, list[str]] | None:
            seen: dict[str, list[str]] = {}
            for mid, mail in box.by_message_id().items():
                for record_id in linked_records(mail):
                    seen.setdefault(record_id, []).append(mid)
            return seen if set(rejected) <= set(seen) else None

        seen = stack.wait_for(all_mailed, timeout=90, every=1.0)
        # The notifier really worked between the kills: several runs sent digests.
        assert runs_that_sent() >= 3
        assert {r: mids for r, mids in seen.items() if len(mids) != 1} == {}  # each in exactly one e-mail
        assert set(seen) == set(rejected)
    finally:
        stop_services(list(stack.processes.values()))
