"""`python -m bench [pipeline|queries|batches|ceiling] [options]`: benchmarks, run on demand, printing figures."""

import sys

from bench import batches, ceiling, pipeline, queries

if __name__ == "__main__":
    which, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else (
        "pipeline", sys.argv[1:])
    {"pipeline": pipeline.main, "queries": queries.main, "batches": batches.main,
     "ceiling": ceiling.main}[which](rest)
