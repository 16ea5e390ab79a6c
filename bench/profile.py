"""py-spy profiles of services while a figure runs (`python -m bench suite --profile DIR`), and their summary.

py-spy is not a dependency of the project: `.venv/bin/pip install py-spy`. It samples each process 100 times a
second without stopping it (--nonblocking) and writes collapsed stacks (`--format raw`), one file per service
and phase, which `python -m bench profile FILE...` summarises: the functions where the CPU was spent (self) and
the project's functions that account for it (inclusive), as shares of the samples.
"""

import argparse
import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

OWN_CODE = ("/services/", "/shared/")  # the project's frames, for the inclusive view


@contextmanager
def profiled(folder: Path | None, phase: str, pids: dict[str, int]) -> Iterator[None]:
    """py-spy records each of `pids` while the block runs; nothing when `folder` is None."""
    if folder is None:
        yield
        return
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    folder.mkdir(parents=True, exist_ok=True)
    recorders = [subprocess.Popen([py_spy, "record", "--pid", str(pid), "--nonblocking", "--format", "raw",
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
    path = where.rsplit(":", 1)[0]
    for marker in ("/site-packages/", "/services/", "/shared/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


def summarise(path: Path, top: int = 12) -> str:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        samples = int(count)
        total += samples
        own[_function(frames[-1])] += samples
        for function in {_function(f) for f in frames if any(m in f for m in OWN_CODE)}:
            inclusive[function] += samples
    if not total:
        return f"{path.name}: no samples"
    lines = [f"{path.name}: {total} samples ({total / 100:.1f} CPU-seconds at 100 Hz)", "  self:"]
    lines += [f"    {n / total:6.1%}  {name}" for name, n in own.most_common(top)]
    lines += ["  inclusive, project code:"]
    lines += [f"    {n / total:6.1%}  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench profile", description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)
    print("\n\n".join(summarise(path, args.top) for path in args.files))
