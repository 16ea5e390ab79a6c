"""The operations console in a real browser (Debian's chromium): sign in with an operator key, watch events arrive
live, follow a record's story, re-drive a dead letter, replay board responses. Each test saves a screenshot."""

import asyncio
import re
import threading
from collections.abc import Coroutine
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser_support import screenshot
from tests.e2e.conftest import Stack
from tests.e2e.test_ops_console import completion, keys, publish_malformed_event  # noqa: F401 - keys: a fixture

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
expect.set_options(timeout=20_000)  # each view asks Kafka afresh: seconds on a busy machine


def in_a_thread(coroutine: Coroutine[Any, Any, None]) -> None:
    # Playwright's sync API keeps an event loop running in this thread: asyncio.run needs one of its own.
    worker = threading.Thread(target=asyncio.run, args=(coroutine,))
    worker.start()
    worker.join()


def sign_in(page: Page, stack: Stack, key: str) -> None:
    page.goto(f"{stack.api}/console")
    page.fill("#key", key)
    page.click("#key-form button[type=submit]")
    expect(page.locator("#status")).to_have_text("Connected as operator.")


def test_an_operator_signs_in_and_sees_every_service_and_stream(page: Page, stack: Stack,
                                                                keys: dict[str, str]) -> None:  # noqa: F811
    sign_in(page, stack, keys["operator"])
    expect(page.locator("#health .pill")).to_have_count(6)

    def all_ready() -> bool:
        page.click("[data-refresh=health]")
        page.wait_for_timeout(1000)
        return page.locator("#health .pill.up").count() == 6
    stack.wait_for(all_ready, timeout=30, every=1)
    expect(page.locator("#streams tbody tr", has_text="pars.record-events")).to_have_count(1)
    expect(page.locator("#lag tbody tr", has_text="pars.projector").first).to_be_visible()
    page.locator("#lag tbody tr", has_text="pars.projector").first.get_by_role("button", name="partitions").click()
    expect(page.locator("#lag tr.detail")).to_contain_text("Members:")
    assert page.evaluate("sessionStorage.getItem('pars.operatorKey')") == keys["operator"]
    screenshot(page, "console-signed-in")


def test_events_arrive_live_and_a_record_id_opens_its_story(page: Page, stack: Stack,
                                                            keys: dict[str, str]) -> None:  # noqa: F811
    sign_in(page, stack, keys["operator"])
    # Following starts once its consumers are at the topics' ends (a few seconds on a busy machine).
    expect(page.locator("#live-note")).to_have_text(re.compile("following pars.record-events"), timeout=30_000)
    with stack.client(keys["provider"]) as api:  # submitted after the page opened: it must come without a reload
        answer = api.post("/v1/completions", json=completion())
    assert answer.status_code in (200, 201, 202), answer.text
    record_id = answer.json()["records"][0]["record_id"]
    arrived = page.locator(f"#live tbody tr[data-record='{record_id}']")
    expect(arrived.first).to_be_visible(timeout=30_000)
    expect(arrived.first).to_contain_text("RecordSubmitted")
    assert "11/11" not in page.locator("#live").inner_text()  # the birthday is redacted
    rates = page.locator("#streams tbody tr", has_text="pars.record-events").locator("svg.spark polyline")
    expect(rates).to_have_attribute("points", re.compile(r"\S+ \S+"))  # two samples or more: a line is drawn

    arrived.first.get_by_role("button", name=record_id).click()
    expect(page.locator("#story tbody tr", has_text="pars.submissions")).to_have_count(1)
    expect(page.locator("#story tbody tr", has_text="pars.record-events").first).to_be_visible()
    screenshot(page, "console-live-and-story")


def test_a_dead_letter_is_redriven_from_the_page_once(page: Page, stack: Stack,
                                                      keys: dict[str, str]) -> None:  # noqa: F811
    in_a_thread(publish_malformed_event(stack))
    sign_in(page, stack, keys["operator"])
    page.select_option("#dlq-service", "notifier")

    def letter_shown() -> bool:
        page.click("[data-refresh=deadLetters]")
        page.wait_for_timeout(500)
        return page.locator("#dead-letters .dead button[data-action=redrive]").count() > 0
    stack.wait_for(letter_shown, timeout=30, every=1)
    name = page.locator("#dead-letters .dead", has=page.locator("button[data-action=redrive]")).first.get_attribute(
        "data-letter")
    letter = page.locator(f"#dead-letters .dead[data-letter='{name}']")
    letter.locator("button[data-action=redrive]").dblclick()  # a double click re-drives it once
    expect(letter.locator(".done")).to_contain_text("Re-driven by key " + keys["operator"].split("_")[1])
    topic, partition, offset = (name or "").split("/")
    expect(page.locator("#actions tbody tr", has_text=f"{topic}[{partition}]@{offset}")).to_have_count(1)
    screenshot(page, "console-dead-letter-redriven")


def test_board_responses_are_replayed_from_the_page(page: Page, stack: Stack,
                                                    keys: dict[str, str]) -> None:  # noqa: F811
    sign_in(page, stack, keys["operator"])
    page.fill("#replay-since", "2000-01-01T00:00:00")
    page.click("#replay-form button[type=submit]")
    expect(page.locator("#replay-result")).to_have_text(re.compile(r"Replayed \d+ board responses since 2000-01-01"),
                                                        timeout=90_000)  # it re-reads the whole topic
    screenshot(page, "console-replayed")
