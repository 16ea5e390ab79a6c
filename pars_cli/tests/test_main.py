"""The `pars` command's own surface: version, help flags, `--json` listings, and `upload --key` alone."""

import importlib.metadata
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from pars_cli import admin, main, upload
from shared.settings import Settings

runner = CliRunner()


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    # Typer carries its own copy of click, so its groups are told apart by what they hold, not by class.
    paths = [path]
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            paths += _command_paths(sub, (*path, name))
    return paths


def test_version_prints_the_installed_package_version() -> None:
    result = runner.invoke(main.app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == importlib.metadata.version("pars-pipeline")


def test_every_command_answers_h_as_it_answers_help() -> None:
    paths = _command_paths(typer.main.get_command(main.app))
    assert ("keys", "list") in paths and ("mail", "list") in paths and len(paths) > 10
    for path in paths:
        short = runner.invoke(main.app, [*path, "-h"])
        long = runner.invoke(main.app, [*path, "--help"])
        assert short.exit_code == 0, (path, short.output)
        assert "Usage:" in short.stdout and short.stdout == long.stdout, path


def test_upload_without_key_or_provider_says_what_to_give(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARS_API_KEY", raising=False)
    file = tmp_path / "learners.txt"
    file.write_text("x", encoding="utf-8")
    result = runner.invoke(main.app, ["upload", str(file)])
    assert result.exit_code == 2
    assert "--key" in result.stderr and "--provider" in result.stderr


def test_upload_with_a_key_needs_no_provider_and_issues_no_key(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "learners.txt"
    file.write_text("x", encoding="utf-8")
    sent: list[tuple[str, str, Path]] = []

    def fake_upload(base: str, key: str, path: Path, *_: Any) -> upload.UploadResult:
        sent.append((base, key, path))
        return upload.UploadResult({"batch_id": "b1", "records": 1, "added": 1, "rejected": 0}, None)

    async def no_keys(*_: Any, **__: Any) -> str:
        raise AssertionError("a key was issued or revoked although --key was given")

    monkeypatch.setattr(upload, "upload", fake_upload)
    monkeypatch.setattr(admin, "issue_key", no_keys)
    monkeypatch.setattr(admin, "revoke_key", no_keys)
    result = runner.invoke(main.app, ["upload", str(file), "--key", "pars_abc_secret", "--api", "http://api.test"])
    assert result.exit_code == 0, result.output
    assert sent == [("http://api.test", "pars_abc_secret", file)]
    assert "1 records, 1 added, 0 rejected (batch b1)" in result.stderr


def test_mail_list_json_prints_every_digest_with_iso_times(monkeypatch: pytest.MonkeyPatch) -> None:
    when = datetime(2026, 12, 1, 6, tzinfo=UTC)
    rows = [{"window_start": when, "window_end": when, "provider_id": "0008001", "email": "a@b.test",
             "status": "sent", "rejections": 3, "attempts": 1, "sent_at": when, "last_error": None,
             "digest_id": "d-1"}]

    async def sent_mail(_settings: Settings, limit: int) -> list[dict[str, Any]]:
        assert limit == 5
        return rows

    monkeypatch.setattr(admin, "sent_mail", sent_mail)
    result = runner.invoke(main.app, ["mail", "list", "--limit", "5", "--json"])
    assert result.exit_code == 0, result.output
    [digest] = json.loads(result.stdout)
    assert digest["provider_id"] == "0008001" and digest["rejections"] == 3 and digest["last_error"] is None
    assert digest["sent_at"] == "2026-12-01T06:00:00+00:00"
    assert digest["message_id"]
