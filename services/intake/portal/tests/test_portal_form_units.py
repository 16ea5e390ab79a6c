"""The portal forms' pure parts: the Add Learner form read into a completion, each answer placed on its field, and the
Register Activity form's problems on theirs."""

from uuid import uuid4

import pytest
from pydantic import ValidationError

from intake.body_limit import body_limit
from intake.completions.schemas import Completion, RecordAnswer
from intake.portal.learner_form import body_errors, completion_body, dry_run_errors, place, read_form
from intake.portal.register_activity import field_of, registration_body
from intake.submitting.completions import split_into_records

ACTIVITY = {"id": "210016865", "moc": {"ABOHNS": ["Self-Assessment", "Patient Safety"]}, "rems": ["OPIOID"],
            "cme_credits": 8}


def test_the_form_is_the_api_completion_with_only_the_activitys_boards() -> None:
    form = read_form({"activity_id": "210016865", "first_name": " Harper ", "last_name": "Benton", "dob": "11/11",
                      "completion_date": "2021-11-02", "npi": "", "moc_ABOHNS_board_id": "19927",
                      "moc_ABOHNS_credits": "8", "moc_ABOHNS_ct_0": "8", "moc_ABOHNS_ct_1": "",
                      "moc_ABIM_board_id": "1", "cme": "on", "cme_credits": "8", "cme_state": "LA"},
                     {"moc": ["ABOHNS", "ABIM"], "rems": []})
    body = completion_body(form, ACTIVITY)
    assert body["first_name"] == "Harper" and body["npi"] is None and body["rems"] is None
    assert body["moc"] == [{"board": "ABOHNS", "board_id": "19927", "credits": "8",
                            "credit_types": {"Self-Assessment": "8"}}]  # ABIM is not the activity's: left out
    assert body["cme"] == {"credits": "8", "state": "LA", "license_id": None}
    Completion.model_validate(body)


def test_no_target_is_named_on_the_form_as_a_whole() -> None:
    body = completion_body(read_form({"activity_id": "210016865"}, {}), ACTIVITY)
    with pytest.raises(ValidationError) as refused:
        Completion.model_validate(body)
    assert body_errors(refused.value, body).by_field == {
        "form": ["Report the completion to at least one: CME, a board or a REMS program."]}


def test_each_pars_code_sits_on_the_field_it_is_about() -> None:
    form = read_form({"activity_id": "210016865", "cme": "on", "rems_OPIOID_profession": "x"},
                     {"moc": ["ABOHNS"], "rems": ["OPIOID"]})
    completion = Completion.model_validate(completion_body(form, ACTIVITY))
    cme, moc, rems = split_into_records(completion, "0008001", uuid4())
    assert [place(code, moc) for code in ("621", "623", "675", "680", "690", "603")] == [
        "moc_ABOHNS_board_id", "last_name", "moc_ABOHNS_credits", "moc_ABOHNS", "activity_id", "moc_ABOHNS"]
    assert [place(code, cme) for code in ("621", "673", "998")] == ["cme_license_id", "cme_credits", "cme"]
    assert place("998", rems) == "rems_OPIOID_profession"
    errors = dry_run_errors([moc], [RecordAnswer(record_id=moc.record_id, target="ABOHNS", status="Rejected by PARS",
                                                 errors=[{"code": "675", "message": "MOC points not in increment"}])])
    assert list(errors.by_field) == ["moc_ABOHNS_credits"]
    assert errors.by_field["moc_ABOHNS_credits"][0].startswith("ABOHNS: 675 MOC points not in increment How to fix:")


def test_a_registrations_problems_sit_on_their_fields() -> None:
    body = registration_body({"id": "210000001", "title": "", "cme_credits": "4"}, {"ABOHNS": ["Self-Assessment"]},
                             ["OPIOID"])
    assert body["title"] is None and body["cme_credits"] == "4" and body["moc"] == {"ABOHNS": ["Self-Assessment"]}
    assert [field_of(f) for f in ("end_date", "moc.ABOHNS.credit_types", "moc.ABO", "moc", "rems.OPIOID", "x")] == [
        "end_date", "moc_ABOHNS", "moc_ABO", "moc", "rems", "form"]


def test_the_portal_upload_takes_files_as_large_as_the_batch_api() -> None:
    assert body_limit("/portal/uploads") == body_limit("/v1/batches") > body_limit("/portal/learners/new")
