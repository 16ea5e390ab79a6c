"""The requests a local Kafka broker answered, by kind (Produce, Fetch, OffsetCommit...): its own counters.

Kafka counts every request it handles (JMX, `kafka.network:type=RequestMetrics,name=RequestsPerSec`). The local
broker runs without a JMX port, so a small Java program attaches to its process (the JDK's Attach API: same user,
same machine), starts the JVM's local management agent and reads the counts. Java 11+ runs a one-file program from
its source, so nothing is built. A broker the benchmark cannot attach to (another user's, a remote one) gives no
counts: `counts` answers None and the figures say so.

Why: a request costs the broker a few hundred µs of CPU on these machines, whatever it carries (one message or a
thousand), so how many a completion needs is what Kafka's share of a completion's CPU follows.
"""

import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_PROGRAM = """
import javax.management.*;
import javax.management.remote.*;
import com.sun.tools.attach.VirtualMachine;
public class KafkaRequests {
  public static void main(String[] args) throws Exception {
    VirtualMachine vm = VirtualMachine.attach(args[0]);
    try (JMXConnector c = JMXConnectorFactory.connect(new JMXServiceURL(vm.startLocalManagementAgent()))) {
      MBeanServerConnection s = c.getMBeanServerConnection();
      for (ObjectName n : s.queryNames(new ObjectName("kafka.network:type=RequestMetrics,name=RequestsPerSec,*"), null))
        System.out.println(n.getKeyProperty("request") + " " + s.getAttribute(n, "Count"));
    } finally { vm.detach(); }
  }
}
"""


def counts(pid: int) -> Counter[str] | None:
    """Requests the broker (process `pid`) has answered since it started, by kind; None if it cannot be read."""
    with tempfile.TemporaryDirectory(prefix="pars-bench-jmx-") as folder:
        source = Path(folder) / "KafkaRequests.java"
        source.write_text(_PROGRAM)
        try:
            done = subprocess.run(["java", str(source), str(pid)], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return None
    if done.returncode != 0:
        return None
    total: Counter[str] = Counter()
    for line in done.stdout.splitlines():
        kind, _, count = line.rpartition(" ")
        if kind and count.isdigit() and kind != "FetchConsumer":  # a consumer's fetch is also counted as Fetch
            total[kind] += int(count)
    return total


@contextmanager
def answered(pid: int) -> Iterator[Counter[str]]:
    """The requests the broker answered while the block ran, by kind (in the Counter it yields, filled on exit; left
    empty when the broker's counters cannot be read)."""
    before = counts(pid)
    during: Counter[str] = Counter()
    yield during
    after = counts(pid)
    if before is not None and after is not None:
        during.update({kind: n - before[kind] for kind, n in after.items() if n > before[kind]})


def per_each(requests: Counter[str], done: int) -> str:
    """`Fetch 1.1, Produce 0.6, OffsetCommit 0.1 requests a completion`, the commonest first."""
    if not requests:
        return "Kafka's request counts: not readable (a broker of another user, or remote)"
    shown = [f"{kind} {n / max(1, done):.2f}" for kind, n in requests.most_common() if n / max(1, done) >= 0.01]
    return f"Kafka requests each: {', '.join(shown)}"
