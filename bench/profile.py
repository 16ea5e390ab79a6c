"""`python -m bench suite --profile DIR`: py-spy profiles of services while a figure runs; and their summary.

py-spy is not a dependency of the project: `.venv/bin/pip install py-spy`. It samples each process 100 times a
second (pausing it for each sample, which costs it a few per cent) and writes collapsed stacks (`--format raw`),
one file per service and phase, which `python -m bench profile FILE...` summarises: the functions where the CPU
was spent (self) and the project's functions that account for it (inclusive), as shares of the busy samples.
"""

import argparse
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.service_registry import SERVICES

# The project's packages, as py-spy names their files, for the inclusive view.
OWN_CODE = ("shared/", *(f"{s.package}/" for s in SERVICES))
# Where a thread waits for work (py-spy does not always tell waiting from running): counted apart, as idle.
WAITING = ("EpollSelector.select (selectors.py)", "Condition.wait (threading.py)", "select (selectors.py)",
           "_worker (concurrent/futures/thread.py)")  # an idle thread pool worker, blocked in its queue


def find_py_spy() -> str:
    """py-spy beside this Python (the venv's bin) or on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.exists():
        return str(beside)
    if found := shutil.which("py-spy"):
        return found
    raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")


@contextmanager
def profiled(folder: Path | None, phase: str, pids: dict[str, int]) -> Iterator[None]:
    """py-spy records each of `pids` while the block runs; nothing when `folder` is None."""
    if folder is None:
        yield
        return
    py_spy = find_py_spy()
    folder.mkdir(parents=True, exist_ok=True)
    recorders = [subprocess.Popen([py_spy, "record", "--pid", str(pid), "--format", "raw",
                                   "--duration", "3600", "-o", str(folder / f"{phase}.{service}.txt")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for service, pid in pids.items()]
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)  # py-spy writes what it has on Ctrl-C
        for recorder in recorders:
            recorder.wait(60)


def _function(frame: str) -> str:
    """`name (path/to/file.py:12)` -> `name (file.py)`; lines apart, one function is one entry."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})"


def _own(function: str) -> bool:
    return function.partition(" (")[2].startswith(OWN_CODE)


def summarise(path: Path, top: int = 12) -> str:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = waiting = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        functions = [_function(frame) for frame in stack.split(";")]
        samples = int(count)
        if functions[-1] in WAITING:
            waiting += samples
            continue
        total += samples
        own[functions[-1]] += samples
        for function in {f for f in functions if _own(f)}:
            inclusive[function] += samples
    if not total:
        return f"{path.name}: no samples"
    lines = [f"{path.name}: {total} samples busy ({total / 100:.1f} s at 100 Hz), {waiting} waiting; shares of "
             "the busy ones", "  self:"]
    lines += [f"    {n / total:6.1%}  {name}" for name, n in own.most_common(top)]
    packages: Counter[str] = Counter()
    for function, n in own.items():
        where = function.partition(" (")[2]
        packages[where.split("/", 1)[0] if "/" in where else where.rstrip(")")] += n
    lines += ["  self, by package: " + ", ".join(f"{name} {n / total:.0%}" for name, n in packages.most_common(8))]
    lines += ["  inclusive, project code:"]
    lines += [f"    {n / total:6.1%}  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench profile", description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)
    print("\n\n".join(summarise(path, args.top) for path in args.files))
