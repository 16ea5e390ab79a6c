"""`python -m bench pipeline [--records N]`: the pipeline's throughput, end to end, on real servers.

Starts Kafka and PostgreSQL unless PARS_* name them, runs the six services in a namespace of their own,
loads a generated world, posts N completions through the HTTP API (8 at a time) and prints how fast intake
took them and how long until every record was settled by its board.
"""

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.stack import bench_env
from pars_cli import admin
from pars_cli.generate import generate_world
from pars_cli.stack import start_servers, start_services, stop_servers, stop_services
from tests.support import drop_namespaces_now


def completions(world, count: int) -> tuple[str, list[dict]]:
    provider = world.providers[0].id
    today = datetime.now(UTC).date()
    activities = [a for a in world.activities if a.provider_id == provider and a.moc and a.start_date <= today]
    learners = [(p, c) for p in world.physicians for c in p.certifications]
    bodies = []
    for i in range(count):
        activity = activities[i % len(activities)]
        board = next(iter(activity.moc))
        physician, cert = learners[i % len(learners)]
        bodies.append({
            "activity_id": activity.id, "credit_id": f"ccid:bench:{i}", "first_name": physician.first_name,
            "last_name": physician.last_name, "dob": physician.dob, "completion_date": activity.start_date.isoformat(),
            "moc": [{"board": board, "board_id": cert.id if cert.board == board else f"9{i:07d}",
                     "credits": float(min(activity.moc_credits or 1, 1)), "credit_types": {}}],
        })
    return provider, bodies


async def post_all(api: str, key: str, bodies: list[dict], concurrency: int = 8) -> tuple[float, Counter[str]]:
    """Post every completion with ?wait=true; answer the time taken and the PARS codes of the rejected."""
    started, codes = time.perf_counter(), Counter[str]()
    queue = list(reversed(bodies))
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        async def worker() -> None:
            while queue:
                answer = await client.post("/v1/completions", params={"wait": "true"}, json=queue.pop())
                answer.raise_for_status()
                for record in answer.json()["records"]:
                    codes.update(e["code"] for e in record["errors"])
                    codes["kept"] += record["status"] != "Rejected by PARS"
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, codes


def settled_count(api: str, key: str) -> int:
    with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        return sum(client.get("/v1/records", params={"status": s, "per_page": 1}).json()["total"]
                   for s in ("Accepted", "Rejected"))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench pipeline", description=__doc__)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    args = parser.parse_args(argv)

    started_servers = start_servers()
    env, settings = bench_env()
    processes = []
    try:
        world = generate_world(providers=2, activities=20, physicians=2000, seed=3)
        asyncio.run(admin.create_topics(settings))
        asyncio.run(admin.load_world(settings, world))
        provider, bodies = completions(world, args.records)
        key = asyncio.run(admin.issue_key(settings, "provider", provider))
        processes = start_services(settings, env, Path(tempfile.mkdtemp(prefix="pars-bench-")))
        api = f"http://{settings.api_host}:{settings.api_port}"

        began = time.perf_counter()
        posting, codes = asyncio.run(post_all(api, key, bodies, args.clients))
        kept = codes.pop("kept")
        deadline = began + 300
        while (settled := settled_count(api, key)) < kept:
            if time.perf_counter() > deadline:
                raise SystemExit(f"only {settled} of {kept} kept records settled within 300 s")
            time.sleep(0.25)
        total = time.perf_counter() - began
        print(f"records:                  {len(bodies)} ({kept} kept; PARS codes of the rest: {dict(codes)})")
        rate = len(bodies) / posting
        print(f"validated (wait=true) in: {posting:.2f} s ({rate:.0f} records/s, {args.clients} clients)")
        print(f"all settled by boards in: {total:.2f} s ({len(bodies) / total:.0f} records/s end to end)")
    finally:
        stop_services(processes)
        drop_namespaces_now(settings.kafka_bootstrap_servers, settings.database_url)
        stop_servers(started_servers)

