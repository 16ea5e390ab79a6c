"""Consumer lag over time, for the console's trend lines: samples kept in this process's memory only.

Each lag answer is a sample; the newest KEEP of them are kept, so a restart (or another intake process) starts a
trend afresh. That is enough for "is this group catching up or falling behind", which is what operators ask.
"""

from collections import deque
from datetime import UTC, datetime
from typing import Any

KEEP = 120  # samples: ten minutes at the console's 5 s refresh


class LagHistory:
    def __init__(self, keep: int = KEEP) -> None:
        self._samples: deque[tuple[str, dict[str, int], dict[tuple[str, str, int], int]]] = deque(maxlen=keep)

    def add(self, answer: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
        """Keep `answer`'s lags as a sample; answer it with each group's and partition's trend (oldest first)."""
        when = (at or datetime.now(UTC)).isoformat()
        groups = {g["group"]: g["lag"] for g in answer["groups"]}
        parts = {(g["group"], p["topic"], p["partition"]): p["lag"] for g in answer["groups"] for p in g["partitions"]}
        self._samples.append((when, groups, parts))
        for g in answer["groups"]:
            g["trend"] = [[t, lags[g["group"]]] for t, lags, _ in self._samples if g["group"] in lags]
            for p in g["partitions"]:
                key = (g["group"], p["topic"], p["partition"])
                p["trend"] = [lags[key] for _, _, lags in self._samples if key in lags]
        answer["sampled"] = len(self._samples)
        return answer
