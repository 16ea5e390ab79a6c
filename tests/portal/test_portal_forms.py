"""The portal's forms in Debian's chromium: Add Learner (live matching, the dry run's errors beside their fields, the
submission), Upload Learner Batch File (progress, tallies, the rejection file) and Register Activity."""

import random
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, FilePayload, Page, expect

from intake.batch_files.model import FileFormat
from pars_cli.demo_files import batch_file
from tests.browser_support import screenshot
from tests.e2e.conftest import Stack
from tests.portal.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
PROVIDER = "0008001"
ACTIVITY = "210016865"
TEMPLATE_B = ["Template", "Activity Registration", "ACCME Activity ID", "Learner ID Type", "Learner ID", "First Name",
              "Last Name", "Date of Birth", "Date of Completion", "Action", "Number of Credits",
              "Activity Certification (1st)"]


def record_count(stack: Stack, key: str, **filters: str) -> int:
    with stack.client(key) as api:
        answer = api.get("/v1/records", params=filters)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["total"])


def reload_until(page: Page, text: str, *, where: str = "main", tries: int = 60) -> None:
    """Pages the projection fills: read again until `text` shows (the projector answers within moments)."""
    for _ in range(tries):
        if text in (page.locator(where).inner_text() or ""):
            return
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator(where)).to_contain_text(text)


def test_add_harper_benton_matched_submitted_and_accepted(page: Page, portal_stack: Stack,
                                                          provider_keys: dict[str, str]) -> None:
    sign_in(page, portal_stack, provider_keys[PROVIDER], then="/portal/learners/new")
    page.get_by_label("Activity", exact=True).select_option(ACTIVITY)
    page.get_by_role("button", name="Use this activity").click()
    expect(page.get_by_role("group", name="MOC: ABOHNS")).to_be_visible()  # the activity's board and credit types

    page.get_by_label("First name").fill("Harper")
    page.get_by_label("Last name").fill("Benton")
    page.get_by_label("Date of birth").fill("11/11")
    expect(page.locator("#match")).to_have_text(re.compile(r"^Learner Matched: Harper Benton, NPI 1234567893"))
    page.get_by_label("Completion date").fill("2021-11-03")
    page.get_by_label("ABOHNS ID (diplomate ID)").fill("19927")
    page.get_by_label("Total points").fill("8")
    page.get_by_label("Self-Assessment points").fill("8")
    page.get_by_label("Patient Safety points").fill("1")
    screenshot(page, "portal-add-learner")

    page.get_by_role("button", name="Check and submit").click()
    expect(page.get_by_role("heading", name="Learner submitted")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("ABOHNS"))).to_contain_text(re.compile("Submitted|Accepted"))
    page.get_by_role("link", name="Open the ABOHNS record").click()
    reload_until(page, "Accepted", where="h1")
    expect(page.get_by_role("heading", name=re.compile("Harper Benton"))).to_contain_text("Accepted")
    screenshot(page, "portal-learner-added")


def test_a_stranger_is_not_matched_and_the_form_asks_for_npi_or_school(page: Page, portal_stack: Stack,
                                                                        provider_keys: dict[str, str]) -> None:
    sign_in(page, portal_stack, provider_keys[PROVIDER], then=f"/portal/learners/new?activity_id={ACTIVITY}")
    page.get_by_label("First name").fill("Harper")
    page.get_by_label("Last name").fill("Bentley")
    expect(page.locator("#match")).to_have_text(re.compile(r"^Learner Not Matched.* Adding the NPI"))


def test_a_record_with_errors_shows_them_beside_the_fields_and_keeps_nothing(page: Page, portal_stack: Stack,
                                                                            provider_keys: dict[str, str]) -> None:
    key = provider_keys[PROVIDER]
    sign_in(page, portal_stack, key, then=f"/portal/learners/new?activity_id={ACTIVITY}")
    page.get_by_label("First name").fill("Quill")  # no last name, no board ID, points off the quarter steps
    page.get_by_label("Date of birth").fill("04/05")
    page.get_by_label("Completion date").fill("2021-11-03")
    page.get_by_label("Total points").fill("2.1")
    page.get_by_role("button", name="Check and submit").click()

    alert = page.get_by_role("alert")
    expect(alert).to_be_focused()  # the error summary is read first
    expect(alert).to_contain_text("nothing was kept")
    beside = (("Last name", "err-last_name", "623"), ("ABOHNS ID", "err-moc_ABOHNS_board_id", "621"),
              ("Total points", "err-moc_ABOHNS_credits", "675"))
    for label, error_id, code in beside:
        field = page.get_by_label(label)
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_attribute("aria-describedby", re.compile(error_id))
        expect(page.locator(f"#{error_id}")).to_contain_text(code)
    expect(page.get_by_label("First name")).to_have_value("Quill")  # what was typed stays
    screenshot(page, "portal-add-learner-errors")
    assert record_count(portal_stack, key, name="Quill") == 0


def test_upload_shows_progress_tallies_and_the_rejection_file(page: Page, portal_stack: Stack,
                                                              provider_keys: dict[str, str]) -> None:
    def row(first: str, day: int, activity: str = ACTIVITY) -> list[str]:
        return ["Learner Template B", "ABOHNS", activity, "ABOHNS", "19927", first, "Benton", "11/11",
                f"11/{day}/2021", "Add", "1", "Self-Assessment"]

    rows = [row("Harper", 4), row("Harper", 5), row("Harper", 6, activity="999999999"), row("", 7)]
    content = batch_file(rows, FileFormat.TXT, TEMPLATE_B)
    sign_in(page, portal_stack, provider_keys[PROVIDER], then="/portal/uploads")
    page.get_by_label("Batch file").set_input_files(
        files=FilePayload(name="portal-batch.txt", mimeType="text/plain", buffer=content))
    page.get_by_role("button", name="Upload").click()

    expect(page).to_have_url(re.compile(r"/portal/uploads\?batch_id="), timeout=30_000)
    expect(page.locator("#batch-tallies")).to_have_text("Complete: 4 records, 2 added, 2 rejected.", timeout=60_000)
    bar = page.get_by_label("Records validated")
    expect(bar).to_have_attribute("value", "4")
    expect(bar).to_have_attribute("max", "4")
    expect(page.get_by_role("row", name=re.compile("portal-batch.txt")).first).to_contain_text("complete")
    screenshot(page, "portal-upload")

    with page.expect_download() as downloading:
        page.locator("#batch-files").get_by_role("link", name="Rejection file").click()
    rejected = downloading.value
    text = Path(rejected.path()).read_text(encoding="utf-8")
    assert rejected.suggested_filename.endswith(".txt")
    assert "999999999" in text and "690" in text and "622" in text, text
    assert "11/4/2021" not in text  # the good rows are not in it


def test_register_activity_shows_errors_then_the_activity_in_the_summary(page: Page, portal_stack: Stack,
                                                                         provider_keys: dict[str, str]) -> None:
    activity_id = f"2200{random.randrange(10**5):05d}"
    sign_in(page, portal_stack, provider_keys[PROVIDER], then="/portal/activities/new")
    page.get_by_label("ACCME activity ID").fill(activity_id)
    page.get_by_label("Title").fill(f"Portal airway course {activity_id}")
    page.get_by_label("Start date").fill("2024-03-10")
    page.get_by_label("End date").fill("2024-03-01")  # before the start: refused beside the field
    page.get_by_label("CME credits").fill("4")
    page.get_by_label("MOC points").fill("4")
    page.get_by_role("group", name="ABOHNS").get_by_label("Self-Assessment").check()
    page.get_by_role("button", name="Register activity").click()

    expect(page.get_by_role("alert")).to_be_focused()
    expect(page.get_by_label("End date")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#err-end_date")).to_contain_text("before start_date")
    screenshot(page, "portal-register-activity-errors")

    page.get_by_label("End date").fill("2024-03-12")
    page.get_by_role("button", name="Register activity").click()
    expect(page.get_by_role("status")).to_contain_text(f"Activity {activity_id}")
    page.get_by_role("link", name="Learner Summary by Activity").last.click()
    reload_until(page, f"Portal airway course {activity_id}")
    expect(page.get_by_role("row", name=re.compile(activity_id))).to_contain_text("Live Course")
    screenshot(page, "portal-activity-registered")


def test_without_script_the_upload_form_still_works_and_a_refused_file_is_named(
        browser: Browser, portal_stack: Stack, provider_keys: dict[str, str]) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, portal_stack, provider_keys[PROVIDER], then="/portal/uploads")
        page.get_by_label("Batch file").set_input_files(
            files=FilePayload(name="notes.csv", mimeType="text/csv", buffer=b"a,b\n1,2\n"))
        page.get_by_role("button", name="Upload").click()
        expect(page.get_by_role("alert")).to_contain_text(".csv")  # the reason, in the batch API's words
        expect(page.get_by_label("Batch file")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_role("row", name=re.compile("notes.csv")).first).to_contain_text("failed")
    finally:
        context.close()
