"""`python -m bench intake [--seconds S] [--repeat R] [--profile DIR]`: intake's own CPU per API completion.

One stack of the six services (bench/stack.py); wrk posts `POST /v1/completions?wait=true` from 64 connections
for S seconds (bench/api.py's script: every request its own credit ID), R times, and the CPU time intake's
process used meanwhile (/proc) is divided by the completions answered: milliseconds of intake's CPU per
completion (and every other process's, and the requests Kafka answered per completion: bench/kafka_requests.py).
A ratio of CPU time to work done holds on a machine other sessions load, where a rate does not; the best of R is
printed. Then one caller (wrk, 1 connection) for the latency with idle cores, and web services
(100-record Activity Reports from 8 httpx callers) for intake's CPU per record on that path. `--profile DIR`:
py-spy records intake during one more 64-connection run (not counted).

`--in-process N`: no servers; intake's app (every middleware, the route, the submission path) called directly N
times with a plain `wait=false` completion, its pool and Kafka stand-ins that answer at once (the keep statement's
rows, the publish); prints µs of CPU per request, best of R. What the HTTP path costs, apart from the stack.
"""

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import time
from collections.abc import AsyncIterator, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from bench import api, idle, kafka_requests
from bench.pipeline import completions
from bench.profile import profiled
from bench.stack import BenchStack, bench_stack
from bench.wrk import ensure_wrk
from intake.batch_files.tests.activity_reports import activity_report_xml
from pars_cli import admin
from pars_cli.generate import generate_world
from shared.world import World


def _completions_run(stack: BenchStack, world: World, name: str, connections: int, seconds: int,
                     delay_ms: int = 0) -> tuple[float, float, str]:
    """intake's CPU ms per completion, the whole stack's, and wrk's note."""
    with kafka_requests.answered(idle.stack_pids(stack)["kafka"][0]) as requests, idle.cpu_used(stack) as used:
        result, note = api._post_with_wrk(stack, world, name=name, connections=connections, seconds=seconds,
                                          delay_ms=delay_ms)
    answered = max(1, result.requests - result.failed)
    each = ", ".join(f"{name} {cpu * 1e3 / answered:.2f}" for name, cpu in sorted(used.items(), key=lambda u: -u[1]))
    return used["intake"] * 1e3 / answered, sum(used.values()) * 1e3 / answered, (
        f"{result.requests_per_second:,.0f}/s, {note}, p99 {result.p99_ms:.1f} ms; ms of CPU each: {each}; "
        f"{kafka_requests.per_each(requests, answered)}")


def _web_services_run(stack: BenchStack, world: World, key: str, reports: int, per_report: int,
                      tag: str) -> tuple[float, str]:
    """intake's CPU µs per record of 100-record Activity Reports, and a note."""
    _, bodies = completions(world, reports * per_report)
    bodies = [{**b, "credit_id": f"ccid:ws{tag}:{i}"} for i, b in enumerate(bodies)]
    documents = [activity_report_xml(bodies[i:i + per_report]) for i in range(0, len(bodies), per_report)]
    with idle.cpu_used(stack) as used:
        seconds, failed, rejected = asyncio.run(api._post_reports(stack.api, key, documents, 8))
    return used["intake"] * 1e6 / len(bodies), (
        f"{len(bodies) / seconds:,.0f} records/s, {reports} reports in {seconds:.1f} s, {failed} not 2xx, "
        f"{rejected} rejected by PARS")


class _Connection:
    """What the submission path and the key check ask of a pooled connection, answered at once."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    async def fetchrow(self, _query: str, *_args: Any) -> dict[str, Any]:  # the API key's row
        return {"key_hash": hashlib.sha256(_IN_PROCESS_KEY.encode()).digest(), "role": "provider",
                "provider_id": "0008001", "sandbox": False}

    async def fetch(self, _query: str, *args: Any) -> list[dict[str, Any]]:  # the outbox's keep statement
        return [{"id": next(self._ids), "free": True} for _ in args[0]]

    async def execute(self, _query: str, *_args: Any) -> str:
        return "DELETE 1"


class _Pool(_Connection):
    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[_Connection]:
        yield self


_IN_PROCESS_KEY = "pars_bench_secret"


def _in_process(requests: int, repeat: int) -> None:
    from intake.app import build
    from intake.keys import KeyCache
    from intake.submitting.writer import Submissions
    from shared.kafka import KafkaHealth
    from shared.outbox import Outbox, OutboxRow
    from shared.settings import Settings

    async def published(_rows: Sequence[OutboxRow]) -> None:
        return None

    settings = Settings(_env_file=None)
    app = build(settings)
    pool: Any = _Pool()
    app.state.pool, app.state.keys, app.state.validation_client = pool, KeyCache(), None  # no dry run here
    app.state.submissions = Submissions(pool, Outbox("bench"), published, KafkaHealth(), settings, app.state.waiters)
    body = json.dumps({"activity_id": "210016865", "action": "Add", "first_name": "Harper", "last_name": "Benton",
                       "dob": "11/11", "completion_date": "2026-12-01",
                       "moc": [{"board": "ABOHNS", "board_id": "19927", "credits": 8,
                                "credit_types": {"Self-Assessment": 8, "Patient Safety": 1}}]}).encode()
    headers = [(b"host", b"127.0.0.1:8000"), (b"authorization", f"Bearer {_IN_PROCESS_KEY}".encode()),
               (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

    async def post() -> int:
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
                 "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000), "scheme": "http", "method": "POST",
                 "root_path": "", "path": "/v1/completions", "raw_path": b"/v1/completions", "query_string": b"",
                 "headers": headers, "state": {}}
        status = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    async def run() -> list[float]:
        assert await post() == 202
        best = []
        for _ in range(repeat):
            started = time.process_time()
            for _ in range(requests):
                await post()
            best.append((time.process_time() - started) / requests * 1e6)
            await asyncio.sleep(0.05)  # the settler's DELETEs
        return best

    import uvloop
    runs = uvloop.run(run())
    print(f"in process, {requests} plain completions (wait=false) a run: {min(runs):.0f} µs CPU/request, best of "
          f"{repeat} (runs: {', '.join(f'{r:.0f}' for r in runs)})")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench intake", description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=api.CONNECTIONS)
    parser.add_argument("--reports", type=int, default=30, help="web services: 100-record reports per run")
    parser.add_argument("--profile", type=Path, help="a folder for py-spy's profile of intake")
    parser.add_argument("--in-process", type=int, metavar="N", help="N requests a run in process, no servers")
    args = parser.parse_args(argv)
    if args.in_process:
        _in_process(args.in_process, args.repeat)
        return
    ensure_wrk()
    world = generate_world(providers=2, activities=20, physicians=2000, seed=3)
    load_before = os.getloadavg()
    with bench_stack(world, world.providers[0].id) as stack:
        idle.wait_quiet(stack)
        _completions_run(stack, world, "warm", args.connections, 3)  # imports, pools, first metadata: not counted
        idle.wait_quiet(stack)
        runs = []
        for rep in range(args.repeat):
            runs.append(_completions_run(stack, world, f"r{rep}", args.connections, args.seconds))
            print(f"  {args.connections} connections: intake {runs[-1][0]:.2f} ms CPU/completion, stack "
                  f"{runs[-1][1]:.2f} ms; {runs[-1][2]}", flush=True)
            idle.wait_quiet(stack)
        one = _completions_run(stack, world, "one", 1, args.seconds, delay_ms=10)
        idle.wait_quiet(stack)
        key = asyncio.run(admin.issue_key(stack.settings, "webservice", world.providers[0].id))
        ws = [_web_services_run(stack, world, key, args.reports, 100, str(rep)) for rep in range(args.repeat)]
        if args.profile:
            idle.wait_quiet(stack)
            with profiled(args.profile, "intake-wrk", {"intake": idle.stack_pids(stack)["intake"][0]}):
                _completions_run(stack, world, "prof", args.connections, args.seconds)
        idle.check_alive(stack)
    best = min(runs)
    print(f"\nload average before: {', '.join(f'{v:.2f}' for v in load_before)}, after: "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"completions, {args.connections} connections, best of {args.repeat}: intake {best[0]:.2f} ms CPU/"
          f"completion (runs: {', '.join(f'{r[0]:.2f}' for r in runs)}), whole stack {best[1]:.2f} ms; {best[2]}")
    print(f"one caller: intake {one[0]:.2f} ms CPU/completion; {one[2]}")
    ws_best = min(ws)
    print(f"web services, best of {args.repeat}: intake {ws_best[0]:.0f} µs CPU/record (runs: "
          f"{', '.join(f'{w[0]:.0f}' for w in ws)}); {ws_best[1]}")
