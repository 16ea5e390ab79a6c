"""wrk, the HTTP load generator the API figures use: a C client that is not itself the bottleneck (a Python
client tops out near 900 requests/s on two cores). Debian's package `wrk`; Lua scripts vary the bodies."""

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def ensure_wrk() -> str:
    """wrk's path; installed from Debian's package when missing and running as root, else a clear stop."""
    if found := shutil.which("wrk"):
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)
        if found := shutil.which("wrk"):
            return found
    raise SystemExit("the API figures need wrk: `sudo apt-get install -y wrk` (Debian/Ubuntu), then run again")


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    failed: int  # answers other than 2xx/3xx, and socket errors
    output: str  # wrk's own report, with what the script printed

    def script_count(self, name: str) -> int:
        """A count the Lua script printed as `BENCH name=N`."""
        found = re.search(rf"BENCH .*\b{name}=(\d+)", self.output)
        return int(found.group(1)) if found else 0


def run_wrk(url: str, *, connections: int, seconds: int, script: Path | None = None, threads: int = 2) -> WrkResult:
    """wrk against `url`; a script sets its own headers (keys stay off the command line)."""
    command = [ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "30s"]
    if script is not None:
        command += ["-s", str(script)]
    done = subprocess.run([*command, url], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return parse(done.stdout)


def _found(pattern: str, output: str, flags: int = 0) -> re.Match[str]:
    if (match := re.search(pattern, output, flags)) is None:
        raise ValueError(f"wrk's output has no {pattern!r}: {output}")
    return match


def parse(output: str) -> WrkResult:
    def latency(percent: str) -> float:
        value, unit = _found(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M).groups()
        return float(value) * _UNITS[unit]

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        requests_per_second=float(_found(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        p50_ms=latency("50"), p99_ms=latency("99"),
        requests=int(_found(r"(\d+) requests in", output).group(1)),
        failed=(int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, errors.groups())) if errors else 0),
        output=output)
