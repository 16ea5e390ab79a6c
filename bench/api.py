"""The API at scale: wrk's GET /healthz (the floor), POST /v1/completions?wait=true from 64 connections (wrk, a
Lua script giving every request its own credit ID), one caller at a fixed 100 requests/s, and web services
posting 100-record Activity Reports."""

import asyncio
import json
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx

from bench.idle import stolen
from bench.pipeline import completions
from bench.stack import BenchStack
from bench.table import AT_MOST, Figure
from bench.wrk import WrkResult, run_wrk
from intake.batch_files.tests.activity_reports import activity_report_xml
from pars_cli import admin
from shared.world import World

CONNECTIONS = 64
CREDIT = "@CREDIT@"  # where the script writes each request's own credit ID
# Each wrk thread reads the bodies (one JSON completion a line) and posts them in turn, each with a credit ID of its
# own so every completion is kept; it counts the answers that are not 2xx and the records PARS rejected.
LUA = """
local bodies = {}
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(key)s"}
for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
local threads, counter = {}, 0
failed, rejected = 0, 0  -- globals: done() reads them from each thread
function setup(thread) thread:set("id", #threads) table.insert(threads, thread) end
function request()
  counter = counter + 1
  local body = bodies[(counter - 1) %% #bodies + 1]:gsub("%(credit)s", "ccid:%(name)s:" .. id .. ":" .. counter, 1)
  return wrk.format("POST", "/v1/completions?wait=true", headers, body)
end
function response(status, headers, body)
  if status < 200 or status > 299 then failed = failed + 1
  elseif body:find("Rejected by PARS", 1, true) then rejected = rejected + 1 end
end
function done(summary, latency, requests)
  local f, r = 0, 0
  for _, t in ipairs(threads) do f = f + t:get("failed"); r = r + t:get("rejected") end
  io.write(string.format("BENCH failed=%%d rejected=%%d\\n", f, r))
end
"""


def healthz_floor(stack: BenchStack, seconds: int) -> WrkResult:
    return run_wrk(f"{stack.api}/healthz", connections=CONNECTIONS, seconds=seconds)


def _post_with_wrk(stack: BenchStack, world: World, *, name: str, connections: int, seconds: int,
                   delay_ms: int = 0) -> tuple[WrkResult, str]:
    """wrk posting completions with wait=true; `delay_ms`: each connection waits so long before each request.
    Answers wrk's result and a note of what was answered."""
    _, bodies = completions(world, 5000)
    folder = Path(tempfile.mkdtemp(prefix="pars-bench-wrk-"))
    (folder / "bodies.jsonl").write_text("".join(json.dumps({**b, "credit_id": CREDIT}) + "\n" for b in bodies))
    # The key goes in the script, not on wrk's command line, where `ps` and error messages would show it.
    script = LUA % {"bodies": folder / "bodies.jsonl", "credit": CREDIT, "key": stack.key, "name": name}
    if delay_ms:
        script += f"function delay() return {delay_ms} end\n"
    (folder / "completions.lua").write_text(script)
    try:
        result = run_wrk(stack.api, connections=connections, seconds=seconds, script=folder / "completions.lua",
                         threads=min(2, connections))
    finally:
        shutil.rmtree(folder)
    failed, rejected = result.script_count("failed"), result.script_count("rejected")
    plural = "s" if connections > 1 else ""
    return result, (f"wrk, {connections} connection{plural}, {seconds} s: {result.requests} answered, "
                    f"p50 {result.p50_ms:.0f} ms" + (f", {failed} not 2xx" if failed else "")
                    + (f", {rejected} rejected by PARS" if rejected else ""))


def completions_with_wrk(stack: BenchStack, world: World, seconds: int) -> tuple[Figure, Figure]:
    result, note = _post_with_wrk(stack, world, name="wrk", connections=CONNECTIONS, seconds=seconds)
    return (Figure("API: completions, wait=true", result.requests_per_second, "/s", 2000, per_ceiling=True,
                   per_floor=True, note=note),
            Figure("API: completions p99 at full load", result.p99_ms, "ms", direction=AT_MOST,
                   note=f"wrk --latency, {CONNECTIONS} connections (no target: the target is for 100/s)"))


def one_caller(stack: BenchStack, world: World, seconds: int) -> Figure:
    """One connection, 10 ms between an answer and the next request (closed loop: at most 100/s)."""
    result, note = _post_with_wrk(stack, world, name="one", connections=1, seconds=seconds, delay_ms=10)
    return Figure("API: completions p99, one caller", result.p99_ms, "ms", 50, AT_MOST,
                  note=f"{note}, {result.requests_per_second:.0f}/s, 10 ms between answer and next request")


async def _fixed_rate(stack: BenchStack, bodies: list[dict], rate: float) -> tuple[list[float], int]:
    """Open loop: request i leaves at i / rate whatever came before, and its latency counts from then, so a slow
    answer is not hidden by the requests it delayed (what wrk2 does; wrk2 is not packaged in Debian).

    On aiohttp, not httpx: httpx took 10.5-11.9 ms of CPU a request at 100/s here, two thirds of a core of the two
    the stack runs on, and sent late, which made most of the p99 it reported (8.5-14.7 s); aiohttp takes ≈ 1.2 ms
    (docs/PERFORMANCE.md, "The caller at 100/s was the client's")."""
    latencies: list[float] = []
    failed = 0
    async with aiohttp.ClientSession(base_url=stack.api, headers={"Authorization": f"Bearer {stack.key}"},
                                     timeout=aiohttp.ClientTimeout(total=30),
                                     connector=aiohttp.TCPConnector(limit=CONNECTIONS)) as client:
        async def one(i: int, body: dict, due: float) -> None:
            nonlocal failed
            try:
                async with client.post("/v1/completions", params={"wait": "true"},
                                       json={**body, "credit_id": f"ccid:rate:{i}"}) as answer:
                    await answer.read()
                    failed += not 200 <= answer.status < 300
            except (aiohttp.ClientError, TimeoutError):  # a connection closed under load: counted, not fatal
                failed += 1
            latencies.append((time.perf_counter() - due) * 1000)

        began, tasks = time.perf_counter(), []
        for i, body in enumerate(bodies):
            due = began + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(i, body, due)))
        await asyncio.gather(*tasks)
    return latencies, failed


def fixed_rate_caller(stack: BenchStack, world: World, seconds: int, rate: float = 100) -> Figure:
    _, bodies = completions(world, int(seconds * rate))
    before = resource.getrusage(resource.RUSAGE_SELF)
    with stolen() as steal:
        latencies, failed = asyncio.run(_fixed_rate(stack, bodies, rate))
    after = resource.getrusage(resource.RUSAGE_SELF)
    client_ms = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / len(bodies) * 1000
    p99 = statistics.quantiles(latencies, n=100)[98]
    return Figure(f"API: completions p99 at {rate:.0f}/s", p99, "ms", 50, AT_MOST,
                  note=f"asyncio+aiohttp open loop, {len(latencies)} requests, "
                  f"p50 {statistics.median(latencies):.0f} ms, the caller's CPU {client_ms:.2f} ms a request, "
                  f"stolen by the hypervisor {steal():.0%}"
                  + (f", {failed} not 2xx or no answer" if failed else ""))


async def _post_reports(api: str, key: str, documents: list[bytes], concurrency: int) -> tuple[float, int, int]:
    queue, failed, rejected = list(documents), 0, 0
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {key}",
                                                        "Content-Type": "application/xml"}, timeout=60) as client:
        async def worker() -> None:
            nonlocal failed, rejected
            while queue:
                answer = await client.post("/v1/ws/activity-reports", content=queue.pop())
                failed += not answer.is_success
                rejected += answer.text.count("Rejected by PARS")
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - began, failed, rejected


def web_services(stack: BenchStack, world: World, reports: int = 60, per_report: int = 100,
                 concurrency: int = 8) -> Figure:
    """Records/s through POST /v1/ws/activity-reports, `reports` documents of `per_report` completions each."""
    provider, bodies = completions(world, reports * per_report)
    bodies = [{**b, "credit_id": f"ccid:ws:{i}"} for i, b in enumerate(bodies)]
    documents = [activity_report_xml(bodies[i:i + per_report]) for i in range(0, len(bodies), per_report)]
    key = asyncio.run(admin.issue_key(stack.settings, "webservice", provider))
    seconds, failed, rejected = asyncio.run(_post_reports(stack.api, key, documents, concurrency))
    return Figure("API: web services, 100-record reports", len(bodies) / seconds, "records/s", 3000,
                  per_ceiling=True, per_floor=True,
                  note=f"httpx, {concurrency} callers, {reports} reports in {seconds:.1f} s"
                  + (f", {failed} not 2xx" if failed else "") + (f", {rejected} rejected by PARS" if rejected else ""))
