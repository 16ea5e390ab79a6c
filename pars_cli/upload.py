"""`pars upload FILE --provider ID`: send a batch file, follow it to the end, save its rejection file."""

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

POLL_SECONDS = 0.5


class UploadFailed(Exception):
    pass


@dataclass
class UploadResult:
    batch: dict[str, Any]
    rejections_file: Path | None


def _check(answer: httpx.Response) -> dict[str, Any]:
    if answer.status_code >= 400:
        try:
            error = answer.json()["error"]
            message = f"{error['message']} ({error['code']})"
        except (ValueError, KeyError, TypeError):
            message = answer.text[:500]
        raise UploadFailed(f"HTTP {answer.status_code}: {message}")
    return answer.json()


def upload(base_url: str, key: str, file: Path, out_dir: Path, console: Console, timeout: float) -> UploadResult:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60.0) as client:
        with file.open("rb") as body:
            batch = _check(client.post("/v1/batches", files={"file": (file.name, body)}))
        batch_url = f"/v1/batches/{batch['batch_id']}"
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task(f"validating {file.name}", total=batch["records"])
            deadline = time.monotonic() + timeout
            while batch["status"] == "processing":
                if time.monotonic() > deadline:
                    raise UploadFailed(f"batch {batch['batch_id']} still processing after {timeout:.0f} s; "
                                       f"follow it with GET {batch_url}")
                time.sleep(POLL_SECONDS)
                batch = _check(client.get(batch_url))
                progress.update(task, completed=batch["added"] + batch["rejected"])
        saved = None
        if batch["rejected"]:
            answer = client.get(f"{batch_url}/rejections")
            if answer.status_code >= 400:
                _check(answer)
            name = answer.headers.get("content-disposition", "").partition('filename="')[2].rstrip('"') or (
                f"{file.stem}-rejections{file.suffix}")
            saved = out_dir / Path(name).name
            saved.write_bytes(answer.content)
        return UploadResult(batch, saved)
