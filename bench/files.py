"""Files at scale: several providers' 5,000-row Template B workbooks uploaded at once, followed until every kept
record is settled by its board in the projection; and one workbook alone, timed to its rejection file and to its
last board verdict."""

import asyncio
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from bench.idle import wait_quiet
from bench.pipeline import settled_count
from bench.stack import BenchStack
from bench.table import AT_MOST, Figure
from intake.batch_files.model import FileFormat
from pars_cli import admin
from pars_cli.demo_files import batch_file, template_b_rows
from pars_cli.generate import generate_world
from shared.world import World

ROWS = 5000
TIMEOUT = 600.0


def suite_world(providers: int) -> World:
    """The world `make bench` files in. Its 8,000 physicians leave each provider fresh rows for files at scale, one
    xlsx and the stack's second files: with 4,000, a provider's rows past ~10,000 came back to the same learners and
    activities on other dates, and the second files kept 11,782 of their 20,000 rows."""
    return generate_world(providers=providers, activities=60, physicians=8000, seed=3)


def provider_file(world: World, index: int, rows: int = ROWS, skip: int = 0,
                  file_format: FileFormat = FileFormat.XLSX) -> tuple[str, bytes]:
    """The `index`th provider's workbook of `rows` rows (after `skip` rows, so two files do not repeat)."""
    turned = world.model_copy(update={"providers": world.providers[index:] + world.providers[:index]})
    provider, found = template_b_rows(turned, rows, datetime.now(UTC).date(), start=skip)
    return provider, batch_file(found, file_format)


async def _upload(client: httpx.AsyncClient, key: str, content: bytes, name: str = "bench.xlsx") -> str:
    answer = await client.post("/v1/batches", files={"file": (name, content)},
                               headers={"Authorization": f"Bearer {key}"})
    answer.raise_for_status()
    return f"/v1/batches/{answer.json()['batch_id']}"


async def _complete(client: httpx.AsyncClient, key: str, batch_url: str, began: float) -> dict:
    """The batch once every record is validated; polled often, as the rejection file's time depends on it."""
    while (batch := (await client.get(batch_url, headers={"Authorization": f"Bearer {key}"})).json())[
            "status"] == "processing":
        if time.perf_counter() - began > TIMEOUT:
            raise SystemExit(f"batch not complete within {TIMEOUT:.0f} s: {batch}")
        await asyncio.sleep(0.05)
    return batch


def _wait_settled(api: str, wanted: dict[str, int], keys: dict[str, str], began: float) -> None:
    """Until each provider's board-settled records (Accepted + Rejected in the projection) reach `wanted`."""
    waiting = dict(wanted)
    while waiting:
        waiting = {p: n for p, n in waiting.items() if settled_count(api, keys[p]) < n}
        if time.perf_counter() - began > TIMEOUT:
            raise SystemExit(f"records not settled within {TIMEOUT:.0f} s: {waiting}")
        if waiting:
            time.sleep(0.1)


@dataclass(frozen=True)
class Sent:
    """What `send_files` saw: the files' rows and kept records, and seconds from the uploads until every batch was
    validated and until every kept record was settled by its board."""
    rows: int
    kept: int
    validated: float
    settled: float


def provider_keys(stack: BenchStack, providers: list[str]) -> dict[str, str]:
    """An API key of each provider's (the stack's own for its provider)."""
    return {p: stack.key if p == stack.provider else asyncio.run(admin.issue_key(stack.settings, "provider", p))
            for p in providers}


def send_files(stack: BenchStack, files: list[tuple[str, bytes]], keys: dict[str, str],
               name: str = "bench.xlsx") -> Sent:
    """`files` (provider, content) uploaded at once, followed until every kept record is settled."""
    before = {p: settled_count(stack.api, keys[p]) for p, _ in files}

    async def upload_all() -> list[dict]:
        async with httpx.AsyncClient(base_url=stack.api, timeout=TIMEOUT) as client:
            urls = await asyncio.gather(*(_upload(client, keys[p], content, name) for p, content in files))
            return await asyncio.gather(*(_complete(client, keys[p], url, began)
                                          for (p, _), url in zip(files, urls, strict=True)))

    began = time.perf_counter()
    batches = asyncio.run(upload_all())
    validated = time.perf_counter() - began
    kept: dict[str, int] = {}
    for (provider, _), batch in zip(files, batches, strict=True):
        kept[provider] = kept.get(provider, 0) + batch["added"]
    _wait_settled(stack.api, {p: before[p] + kept[p] for p in kept}, keys, began)
    return Sent(rows=sum(batch["records"] for batch in batches), kept=sum(kept.values()), validated=validated,
                settled=time.perf_counter() - began)


def files_at_scale(stack: BenchStack, world: World, providers: int, ceiling: float,
                   name: str = "files: settled records/s", skip: int = 0) -> Figure:
    """`providers` files of `ROWS` rows uploaded at once (each provider's rows after `skip` of its own)."""
    files = [provider_file(world, i, skip=skip) for i in range(providers)]
    sent = send_files(stack, files, provider_keys(stack, [p for p, _ in files]))
    return Figure(name, sent.kept / sent.settled, "records/s", 0.5 * ceiling,
                  per_ceiling=True,
                  note=f"{providers} providers × {ROWS:,}-row xlsx at once: {sent.kept:,} of {sent.rows:,} "
                       f"kept, all validated in {sent.validated:.1f} s, settled in {sent.settled:.1f} s")


ONE_FILE_ROUNDS = 3


def one_file(stack: BenchStack, world: World, rounds: int = ONE_FILE_ROUNDS) -> tuple[Figure, Figure]:
    """One workbook alone, `rounds` times (each provider's own fresh rows, the stack quiet before each): the median
    of each time, and every round's in the note. One round alone moved 0.3-0.5 s with the machine's hour, across the
    targets (docs/PERFORMANCE.md)."""
    assert rounds <= len(world.providers), "one round a provider: a second round of one would repeat its rows"
    times = [_one_file_round(stack, world, index) for index in range(rounds)]
    rejections, settled = [t[0] for t in times], [t[1] for t in times]
    batch = times[0][2]
    note = (f"median of {rounds} rounds, each {batch['records']:,} rows ({batch['added']:,} kept, "
            f"{batch['rejected']:,} rejected in the first)")
    return (Figure("one xlsx: rejection file ready", statistics.median(rejections), "s", 1.5, AT_MOST,
                   note=f"{note}; rounds {_seconds(rejections)}"),
            Figure("one xlsx: every board verdict projected", statistics.median(settled), "s", 2.5, AT_MOST,
                   note=f"rounds {_seconds(settled)}"))


def _seconds(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times) + " s"


def _one_file_round(stack: BenchStack, world: World, index: int) -> tuple[float, float, dict]:
    """Seconds from the upload of the `index`th provider's workbook to its rejection file and to its last verdict
    projected, and the batch. Its rows are not those files at scale or the second files send."""
    wait_quiet(stack)
    provider, content = provider_file(world, index, skip=ROWS)
    key = provider_keys(stack, [provider])[provider]
    before = settled_count(stack.api, key)

    async def until_rejections() -> dict:
        async with httpx.AsyncClient(base_url=stack.api, timeout=TIMEOUT) as client:
            url = await _upload(client, key, content)
            batch = await _complete(client, key, url, began)
            for _ in range(int(TIMEOUT / 0.05)):  # the file is written once the batch is complete
                if (await client.get(f"{url}/rejections", headers={"Authorization": f"Bearer {key}"})
                        ).status_code == 200:
                    return batch
                await asyncio.sleep(0.05)
            raise SystemExit(f"no rejection file within {TIMEOUT:.0f} s of the batch's completion")

    began = time.perf_counter()
    batch = asyncio.run(until_rejections())
    rejections = time.perf_counter() - began
    _wait_settled(stack.api, {provider: before + batch["added"]}, {provider: key}, began)
    return rejections, time.perf_counter() - began, batch
