"""`python -m bench batches [--rows N]`: a Template B .xlsx of N rows (default 5,000), uploaded and followed.

Starts Kafka and PostgreSQL unless PARS_* name them, runs the six services in a namespace of their own,
loads a generated world and prints: the parse time alone (in process), how long POST /v1/batches took to
answer 202 (parse, keep the rows, queue the records), and how long until every record was validated
(the batch `complete`, with exact added/rejected counts), and the CPU each process used meanwhile.
"""

import argparse
import io
import os
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import httpx
import openpyxl

from bench.stack import bench_stack, cpu_seconds, server_pids
from intake.batch_files.model import FileFormat
from intake.batch_files.readers.tabular import read_tabular
from pars_cli.demo_files import batch_file, template_b_rows
from pars_cli.generate import generate_world


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench batches", description=__doc__)
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args(argv)

    world = generate_world(providers=2, activities=20, physicians=2000, seed=3)
    provider, rows = template_b_rows(world, args.rows, datetime.now(UTC).date())
    content = batch_file(rows, FileFormat.XLSX)
    began = time.perf_counter()
    parsed = read_tabular("bench.xlsx", content, provider_id=provider, batch_id=uuid.uuid4())
    parse_seconds = time.perf_counter() - began
    with bench_stack(world, provider) as stack:
        with httpx.Client(base_url=stack.api, headers={"Authorization": f"Bearer {stack.key}"},
                          timeout=120) as client:
            pids = {p.service: [p.process.pid] for p in stack.processes if p.process} | server_pids()
            cpu_before = cpu_seconds(pids)
            began = time.perf_counter()
            answer = client.post("/v1/batches", files={"file": ("bench.xlsx", content)})
            answer.raise_for_status()
            accepted = time.perf_counter() - began
            batch_url = f"/v1/batches/{answer.json()['batch_id']}"
            while (batch := client.get(batch_url).json())["status"] == "processing":
                if time.perf_counter() - began > 300:
                    raise SystemExit(f"batch not complete within 300 s: {batch}")
                time.sleep(0.1)
            validated = time.perf_counter() - began
            cpu = {name: used - cpu_before[name] for name, used in cpu_seconds(pids).items()}
            rejections = client.get(f"{batch_url}/rejections").content
        sheet = openpyxl.load_workbook(io.BytesIO(rejections), read_only=True).active
        codes = Counter(str(row[-2]) for row in list(sheet.iter_rows(values_only=True))[1:])
        print(f"file:                     {args.rows} rows, {len(content) / 1e6:.1f} MB xlsx")
        print(f"parsed (in process) in:   {parse_seconds:.2f} s ({len(parsed.rows) / parse_seconds:.0f} rows/s)")
        print(f"upload answered 202 in:   {accepted:.2f} s")
        print(f"fully validated in:       {validated:.2f} s from upload ({batch['records']} records: "
              f"{batch['added']} added, {batch['rejected']} rejected: {dict(codes)})")
        # Where the time went: on a small machine every service, Kafka and PostgreSQL share the same cores.
        print(f"CPU used meanwhile:       {sum(cpu.values()):.1f} s of {(os.cpu_count() or 1) * validated:.1f} s "
              f"on {os.cpu_count()} cores: " + ", ".join(f"{name} {used:.1f}" for name, used in
                                                      sorted(cpu.items(), key=lambda item: -item[1])))
