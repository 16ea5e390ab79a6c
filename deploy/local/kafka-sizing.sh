# Sourced by kafka.sh and kafka-cluster.sh: a local broker's threads and garbage collector, sized for the cores of
# the machine it shares with the services, PostgreSQL and the tests.
#
# Kafka's defaults suit a server of its own: 3 network threads a listener, 8 request handlers, 10 background threads,
# and G1, whose concurrent threads and write barriers buy short pauses on large heaps. On a 2-core machine every one of
# those threads wakes a few times a second when idle (each request handler and network thread polls every 300 ms),
# and a request is handed between more threads than there are cores. Measured on 2 cores, the same broker jars side by
# side (docs/PERFORMANCE.md, "A broker sized for two cores"): idle with no client 1.5-1.9% of a core against 1.7-2.4,
# and 10-20% less broker CPU a record through the ceiling's chain. A 1 GB heap collected by the serial collector
# pauses for milliseconds, well within every timeout the clients use.

kafka_cores() {
  nproc 2>/dev/null || echo 2
}

# server.properties lines: one network thread a listener per two cores, a request handler and a background thread a
# core, at least two of each.
kafka_thread_properties() {
  local cores
  cores=$(kafka_cores)
  echo "num.network.threads=$(((cores + 1) / 2))"
  echo "num.io.threads=$((cores > 2 ? cores : 2))"
  echo "background.threads=$((cores > 2 ? cores : 2))"
}

# JVM options: the serial collector on two cores or fewer (no concurrent GC threads competing for them), G1 above.
kafka_gc_options() {
  if (($(kafka_cores) <= 2)); then
    echo "-XX:+UseSerialGC"
  else
    echo "-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent"
  fi
}
