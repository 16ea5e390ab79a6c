"""`python -m bench [suite|pipeline|queries|batches|ceiling|profile|idle|notifier|boards|growth|memory|relay|
replicas|wakeups|wal|...] [options]`:
benchmarks, run on demand, printing figures. With no name, the suite: every figure in one table (bench/suite.py)."""

import sys

from bench import (
    batches,
    boards_apply,
    ceiling,
    growth,
    idle,
    intake_http,
    memory,
    notifier_apply,
    pipeline,
    profile,
    projector_apply,
    queries,
    relay,
    replicas,
    suite,
    validation_apply,
    wakeups,
    wal,
)
from pars_cli.stack import interrupt_on_ctrl_c_and_sigterm

if __name__ == "__main__":
    # A bench stopped from outside stops the stack it started (bench/stack.py's clean-up runs on the way out): its
    # services would otherwise go on running, idle, and share the cores with whatever runs next.
    interrupt_on_ctrl_c_and_sigterm()
    which, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else (
        "suite", sys.argv[1:])
    {"suite": suite.main, "pipeline": pipeline.main, "queries": queries.main, "batches": batches.main,
     "ceiling": ceiling.main, "profile": profile.main, "validation": validation_apply.main,
     "intake": intake_http.main, "projector": projector_apply.main, "idle": idle.main,
     "notifier": notifier_apply.main, "boards": boards_apply.main,
     "growth": growth.main, "memory": memory.main, "relay": relay.main, "replicas": replicas.main,
     "wakeups": wakeups.main, "wal": wal.main}[which](rest)
