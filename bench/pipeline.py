"""`python -m bench pipeline [--records N]`: the pipeline's throughput, end to end, on real servers.

Starts Kafka and PostgreSQL unless PARS_* name them, runs the six services in a namespace of their own,
loads a generated world, posts N completions through the HTTP API (8 at a time) and prints how fast intake
took them and how long until every record was settled by its board.
"""

import argparse
import asyncio
import time
from collections import Counter
from datetime import UTC, date, datetime

import httpx

from bench.stack import bench_stack
from pars_cli.demo_files import template_b_rows
from pars_cli.generate import generate_world
from shared.world import World


def completions(world: World, count: int) -> tuple[str, list[dict]]:
    """`count` completions of the first provider's MOC activities: the demo files' rows, as API bodies."""
    provider, rows = template_b_rows(world, count, datetime.now(UTC).date())
    bodies = []
    for i, (_, board, activity_id, _, board_id, first, last, dob, done, _, points, credit_type) in enumerate(rows):
        month, day, year = (int(part) for part in done.split("/"))
        bodies.append({
            "activity_id": activity_id, "credit_id": f"ccid:bench:{i}", "first_name": first, "last_name": last,
            "dob": dob, "completion_date": date(year, month, day).isoformat(),
            "moc": [{"board": board, "board_id": board_id, "credits": points, "credit_types": {credit_type: points}}],
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

    world = generate_world(providers=2, activities=20, physicians=2000, seed=3)
    provider, bodies = completions(world, args.records)
    with bench_stack(world, provider) as stack:
        began = time.perf_counter()
        posting, codes = asyncio.run(post_all(stack.api, stack.key, bodies, args.clients))
        kept = codes.pop("kept")
        deadline = began + 300
        while (settled := settled_count(stack.api, stack.key)) < kept:
            if time.perf_counter() > deadline:
                raise SystemExit(f"only {settled} of {kept} kept records settled within 300 s")
            time.sleep(0.25)
        total = time.perf_counter() - began
        print(f"records:                  {len(bodies)} ({kept} kept; PARS codes of the rest: {dict(codes)})")
        rate = len(bodies) / posting
        print(f"validated (wait=true) in: {posting:.2f} s ({rate:.0f} records/s, {args.clients} clients)")
        print(f"all settled by boards in: {total:.2f} s ({len(bodies) / total:.0f} records/s end to end)")
