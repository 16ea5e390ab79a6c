"""What a filed record writes: PostgreSQL's WAL for one 5,000-row xlsx, by schema, table or index, and kind of record.

`python -m bench wal [--rounds R] [--top N] [--wal-dir DIR]`: one stack (bench/stack.py), then R rounds of one
5,000-row xlsx followed until every kept record is settled by its board in the projection. For each round, the WAL
between its start and a second after its end is read with `pg_waldump` (PostgreSQL's own tool, of the server's
version), every record is put to the relation it names (the stack's schemas' tables and indexes, by their file
numbers in `pg_class`), and the figures are per kept record: WAL records and bytes, and the N commonest (relation,
kind) pairs. Each row written to a table is a heap record; each entry it puts in an index, one more ("Btree
INSERT_LEAF"); an UPDATE that changes an indexed column, or finds no room in its page, puts a new entry in every
index ("not HOT"); an INSERT ... ON CONFLICT adds a "HEAP_CONFIRM".

Why: PostgreSQL's CPU a filed record is spread over a dozen statements, none above a quarter (docs/PERFORMANCE.md),
and each statement's cost follows the rows and index entries it writes. This counts them, every service's at once.

The WAL is read from the local cluster's folder (`$PARS_LOCAL_DIR/pg/data/pg_wal`, or `--wal-dir`) by whoever runs
the bench: root, or the server's own OS user. Elsewhere (a remote server, no access) it says so and prints nothing
else. The stack's other work (a consumer's claim pruning, autovacuum) lands in the same WAL and is counted with the
round's: rounds apart by a quiet stack (bench/idle.py) keep it small.
"""

import argparse
import asyncio
import os
import re
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench import files, idle
from bench.stack import BenchStack, bench_stack
from pars_cli.generate import generate_world

# One pg_waldump line: "rmgr: Btree len (rec/tot): 64/ 64, tx: 123, lsn: 0/..., prev 0/..., desc: INSERT_LEAF ...,
# blkref #0: rel 1663/16384/16601 blk 3". A record may name no relation (a commit), or several (the first counts).
_LINE = re.compile(rb"rmgr: (\S+)\s+len \(rec/tot\):\s*\d+/\s*(\d+),.*?desc: (\S+)(?:.*?rel \d+/\d+/(\d+))?")


@dataclass(frozen=True)
class Round:
    kept: int
    settled: float
    records: Counter[tuple[str, str, str]]  # (schema, relation, "Rmgr KIND") -> WAL records
    size: Counter[tuple[str, str, str]]  # the same -> bytes


def waldump() -> Path | None:
    """The newest PostgreSQL's pg_waldump (Debian keeps each version's in /usr/lib/postgresql/N/bin), as
    deploy/local/postgres.sh picks the newest version for the server."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_waldump"), key=lambda p: int(p.parts[-3]))
    return found[-1] if found else None


def read_wal(tool: Path, wal_dir: Path, start: str, end: str) -> Counter[tuple[str, str, str]] | None:
    """(relation file number, "Rmgr KIND", "records" | "bytes") -> count, for the WAL between two positions."""
    done = subprocess.run([str(tool), "-p", str(wal_dir), "-s", start, "-e", end], capture_output=True, timeout=300)
    if done.returncode != 0 and not done.stdout:
        return None
    counts: Counter[tuple[str, str, str]] = Counter()
    for line in done.stdout.splitlines():
        if (m := _LINE.search(line)) is None:
            continue
        rmgr, size, kind, rel = m.groups()
        key = (rel.decode() if rel else "", f"{rmgr.decode()} {kind.decode().rstrip(',;')}")
        counts[(*key, "records")] += 1
        counts[(*key, "bytes")] += int(size)
    return counts


async def _position_and_relations(stack: BenchStack) -> tuple[str, dict[str, tuple[str, str]]]:
    conn = await asyncpg.connect(stack.settings.database_url)
    try:
        position = await conn.fetchval("SELECT pg_current_wal_lsn()::text")
        rows = await conn.fetch("SELECT relfilenode::text, relnamespace::regnamespace::text, relname FROM pg_class"
                                " WHERE relfilenode <> 0 AND relnamespace::regnamespace::text LIKE $1 || '%'",
                                stack.settings.namespace)
    finally:
        await conn.close()
    prefix = len(stack.settings.namespace) + 1  # "<namespace>_intake" -> "intake"
    return position, {r[0]: (r[1][prefix:], r[2]) for r in rows}


def one_round(stack: BenchStack, tool: Path, wal_dir: Path, file: tuple[str, bytes]) -> Round | None:
    start, _ = asyncio.run(_position_and_relations(stack))
    sent = files.send_files(stack, [file], files.provider_keys(stack, [file[0]]))
    time.sleep(1.0)  # what the last batches' consumers commit and the writers' deletes
    end, relations = asyncio.run(_position_and_relations(stack))
    counts = read_wal(tool, wal_dir, start, end)
    if counts is None:
        return None
    records: Counter[tuple[str, str, str]] = Counter()
    size: Counter[tuple[str, str, str]] = Counter()
    for (rel, kind, what), n in counts.items():
        schema, name = relations.get(rel, ("(other)", "(none)" if not rel else "(not the stack's)"))
        (records if what == "records" else size)[(schema, name, kind)] += n
    return Round(sent.kept, sent.settled, records, size)


def report(r: Round, top: int) -> str:
    per = max(1, r.kept)
    by_schema: Counter[str] = Counter()
    bytes_by_schema: Counter[str] = Counter()
    for (schema, _, _), n in r.records.items():
        by_schema[schema] += n
    for (schema, _, _), n in r.size.items():
        bytes_by_schema[schema] += n
    lines = [f"{r.kept:,} records kept, settled in {r.settled:.1f} s: {sum(r.records.values()) / per:.1f} WAL records"
             f" and {sum(r.size.values()) / per:,.0f} bytes a kept record"]
    lines += [f"  {schema:<14} {n / per:6.2f} records {bytes_by_schema[schema] / per:7,.0f} bytes"
              for schema, n in by_schema.most_common()]
    lines.append(f"  the {top} commonest, a kept record:")
    lines += [f"    {n / per:5.2f} {r.size[key] / per:6,.0f} B  {key[0]:<12} {key[1]:<32} {key[2]}"
              for key, n in r.records.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench wal", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--top", type=int, default=30)
    local = Path(os.environ.get("PARS_LOCAL_DIR") or Path(__file__).resolve().parent.parent / ".local")
    parser.add_argument("--wal-dir", type=Path, default=local / "pg" / "data" / "pg_wal")
    args = parser.parse_args(argv)
    tool = waldump()
    if tool is None or not os.access(args.wal_dir, os.R_OK | os.X_OK):
        raise SystemExit(f"WAL not readable here (pg_waldump: {tool}; {args.wal_dir}): a remote server, or the bench"
                         " runs as neither root nor the server's user")
    world = generate_world(providers=1, activities=60, physicians=4000, seed=3)
    with bench_stack(world, world.providers[0].id) as stack:
        for n in range(args.rounds):
            idle.wait_quiet(stack)
            found = one_round(stack, tool, args.wal_dir, files.provider_file(world, 0, skip=(n + 1) * files.ROWS))
            if found is None:
                raise SystemExit("pg_waldump read nothing: the WAL of the round was recycled, or is not readable")
            print(f"round {n + 1}: {report(found, args.top)}", flush=True)
