#!/usr/bin/env bash
# Local three-node Kafka cluster (KRaft) from the same jars as deploy/local/kafka.sh, without Docker.
#
#   deploy/local/kafka-cluster.sh start  [NODE ...]   start the nodes (default 1 2 3) that are not running yet
#   deploy/local/kafka-cluster.sh stop   [NODE ...]   SIGTERM: controlled shutdown (default every node)
#   deploy/local/kafka-cluster.sh kill   NODE ...     SIGKILL: no shutdown at all, the log recovers at the next start
#   deploy/local/kafka-cluster.sh status              one line per node (always exits 0)
#   deploy/local/kafka-cluster.sh bootstrap           the bootstrap servers, comma-separated
#
# Every node is a broker and a KRaft controller in one JVM: three JVMs rather than six on a small machine, and a
# quorum of three voters survives the loss of any one node, so killing a node takes a broker and a controller
# (maybe the active one) at once: the harder of the two faults. Production clusters keep controllers apart
# (docs/DESIGN-NOTES.md, "A local Kafka cluster").
#
# State lives in $PARS_LOCAL_CLUSTER_DIR (default <local dir>/cluster): node-N/{data,server.properties,kafka.log,
# kafka.pid}, cluster.id. Jars: <local dir>/kafka/libs, resolved by `kafka.sh fetch` (the single broker's).
# Ports: node N's broker on $PARS_LOCAL_CLUSTER_PORT + N - 1 (default 29092-29094), its controller on
# base + 3 + N - 1 (29095-29097); 127.0.0.1 only. Never the single broker's 19092.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO_DIR=$(cd "$SCRIPT_DIR/../.." && pwd -P)
LOCAL_DIR=${PARS_LOCAL_DIR:-$REPO_DIR/.local}
mkdir -p "$LOCAL_DIR"
LOCAL_DIR=$(cd "$LOCAL_DIR" && pwd -P)
STATE=${PARS_LOCAL_CLUSTER_DIR:-$LOCAL_DIR/cluster}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd -P) # absolute: the nodes must not depend on our cwd
LIBS="$LOCAL_DIR/kafka/libs"
CLUSTER_ID_FILE="$STATE/cluster.id"
LOG4J="$STATE/log4j2.properties"
TOOLS_LOG4J="$STATE/log4j2-tools.properties"
NODES=(1 2 3)

BASE=${PARS_LOCAL_CLUSTER_PORT:-29092}
# A node killed with SIGKILL recovers every partition's log at its next start: slow on a busy machine.
START_TIMEOUT=${PARS_LOCAL_KAFKA_START_TIMEOUT:-300}
STOP_TIMEOUT=30
HEAP=${PARS_LOCAL_CLUSTER_HEAP:-768m}

JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
# shellcheck source=kafka-sizing.sh
source "$SCRIPT_DIR/kafka-sizing.sh"

die() {
  echo "kafka-cluster: $*" >&2
  exit 1
}

broker_port() { echo $((BASE + $1 - 1)); }
controller_port() { echo $((BASE + 3 + $1 - 1)); }
node_dir() { echo "$STATE/node-$1"; }

bootstrap() {
  local n out=()
  for n in "${NODES[@]}"; do out+=("127.0.0.1:$(broker_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}

voters() {
  local n out=()
  for n in "${NODES[@]}"; do out+=("$n@127.0.0.1:$(controller_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}

take_lock() {
  exec 9>"$STATE/.lock"
  flock -w 300 9 || die "another kafka-cluster.sh is busy with $STATE (lock held for 5 min)"
}

# Pid of node $1 if it is alive and ours (same check as kafka.sh: the command line names its properties).
our_pid() {
  local pid cmdline pidfile props
  pidfile="$(node_dir "$1")/kafka.pid"
  props="$(node_dir "$1")/server.properties"
  [[ -s $pidfile ]] || return 0
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  cmdline=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null) || return 0
  if [[ $cmdline == *kafka.Kafka* && $cmdline == *"$props"* ]]; then
    echo "$pid"
  fi
}

port_in_use() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

check_node() {
  [[ " ${NODES[*]} " == *" $1 "* ]] || die "no node $1 (nodes: ${NODES[*]})"
}

write_config() {
  local n=$1 dir
  dir=$(node_dir "$n")
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
# Written by deploy/local/kafka-cluster.sh on every start; edits here are lost.
process.roles=broker,controller
node.id=$n
listeners=PLAINTEXT://127.0.0.1:$(broker_port "$n"),CONTROLLER://127.0.0.1:$(controller_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(broker_port "$n")
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
# A static quorum of the three nodes.
controller.quorum.voters=$(voters)
log.dirs=$dir/data
auto.create.topics.enable=false
num.partitions=12
# Three copies of everything, and a write is acknowledged (acks=all) once two have it: one node may die.
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0
# A node that stops heartbeating is fenced (its partitions get new leaders) after 6 s instead of 9 s; not less,
# so a busy 2-core machine does not fence a live node.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000
# Threads for this machine's cores (kafka-sizing.sh): three nodes share them.
$(kafka_thread_properties)
EOF
}

write_logging() {
  cat >"$LOG4J" <<'EOF'
# Written by deploy/local/kafka-cluster.sh on every start; edits here are lost.
status = warn
name = pars-local-kafka-cluster
shutdownHook = disable
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
  cat >"$TOOLS_LOG4J" <<'EOF'
# Written by deploy/local/kafka-cluster.sh on every start; edits here are lost.
status = warn
name = pars-local-kafka-cluster-tools
shutdownHook = disable
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
EOF
}

# What `kafka-storage random-uuid` prints (16 random bytes, URL-safe base64, no padding, not starting with '-'),
# without starting a JVM for it.
new_cluster_id() {
  local cid=-
  while [[ $cid == -* ]]; do
    cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  done
  [[ $cid =~ ^[A-Za-z0-9_-]{22}$ ]] || die "unexpected cluster id: $cid"
  echo "$cid" >"$CLUSTER_ID_FILE"
}

format_node() {
  local n=$1 dir cid
  dir=$(node_dir "$n")
  [[ -f $dir/data/meta.properties ]] && return 0
  cid=$(<"$CLUSTER_ID_FILE")
  "$JAVA" -cp "$LIBS/*" -Dlog4j2.configurationFile="$TOOLS_LOG4J" \
    kafka.tools.StorageTool format -t "$cid" -c "$dir/server.properties" >"$dir/format.log" 2>&1 || {
    cat "$dir/format.log" >&2
    die "formatting node $n failed"
  }
}

launch() {
  local n=$1 dir
  dir=$(node_dir "$n")
  [[ -f $dir/kafka.log ]] && mv -f "$dir/kafka.log" "$dir/kafka.log.1"
  rm -f "$dir/kafka.pid"
  # As kafka.sh: a session of its own (no Ctrl-C or SIGHUP of ours reaches it), the pid of the JVM itself, and
  # our lock's fd closed.
  # shellcheck disable=SC2016,SC2046 # $$ and $1 are for the inner bash; the GC options are words
  setsid -f bash -c 'echo $$ >"$1"; shift; exec nohup "$@"' kafka-launch "$dir/kafka.pid" \
    "$JAVA" -Xms256m -Xmx"$HEAP" $(kafka_gc_options) \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$LOG4J" \
    -cp "$LIBS/*" kafka.Kafka "$dir/server.properties" \
    </dev/null >>"$dir/kafka.log" 2>&1 9>&-
}

wait_started() {
  local n=$1 dir started=$2
  dir=$(node_dir "$n")
  while ((SECONDS - started < START_TIMEOUT)); do
    if [[ -f $dir/kafka.log ]] && grep -q 'Kafka Server started' "$dir/kafka.log"; then
      echo "kafka-cluster: node $n started on 127.0.0.1:$(broker_port "$n") (pid $(our_pid "$n"), $((SECONDS - started)) s)"
      return 0
    fi
    # Gone, not merely not yet java: between writing its pid and exec'ing java the launcher is still bash.
    if [[ -s $dir/kafka.pid ]] && ! kill -0 "$(<"$dir/kafka.pid")" 2>/dev/null; then
      echo "kafka-cluster: node $n exited during startup; last lines of $dir/kafka.log:" >&2
      tail -n 40 "$dir/kafka.log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "kafka-cluster: node $n not up after $START_TIMEOUT s; last lines of $dir/kafka.log:" >&2
  tail -n 40 "$dir/kafka.log" >&2
  return 1
}

start() {
  local n p started launched=() rc=0
  (($# > 0)) || set -- "${NODES[@]}"
  for n in "$@"; do check_node "$n"; done
  command -v "$JAVA" >/dev/null || die "java not found (Kafka 4 needs Java 17+)"
  PARS_LOCAL_DIR=$LOCAL_DIR "$SCRIPT_DIR/kafka.sh" fetch
  take_lock
  write_logging
  for n in "$@"; do
    if [[ -n $(our_pid "$n") ]]; then
      echo "kafka-cluster: node $n already running (pid $(our_pid "$n"), 127.0.0.1:$(broker_port "$n"))"
      continue
    fi
    for p in "$(broker_port "$n")" "$(controller_port "$n")"; do
      port_in_use "$p" && die "port 127.0.0.1:$p is taken by another process; free it or set PARS_LOCAL_CLUSTER_PORT"
    done
    write_config "$n"
    launched+=("$n")
  done
  # The cluster id first (one JVM), then every node's format at once (one JVM each, ~10 s apiece).
  [[ -s $CLUSTER_ID_FILE ]] || new_cluster_id
  local formats=()
  for n in "${launched[@]}"; do
    format_node "$n" &
    formats+=($!)
  done
  for p in "${formats[@]}"; do wait "$p" || die "formatting failed"; done
  started=$SECONDS
  # All at once: a node's broker is up only once the controllers have a leader, which needs two of three.
  for n in "${launched[@]}"; do launch "$n"; done
  for n in "${launched[@]}"; do wait_started "$n" "$started" || rc=1; done
  if ((rc != 0)); then
    stop_locked "${launched[@]}" >&2
    exit 1
  fi
}

stop_locked() {
  local n i sig=${SIGNAL:-TERM}
  local -A pids=()
  for n in "$@"; do
    pids[$n]=$(our_pid "$n")
    [[ -n ${pids[$n]} ]] && { kill -"$sig" "${pids[$n]}" 2>/dev/null || true; }
  done
  for n in "$@"; do
    if [[ -z ${pids[$n]} ]]; then
      rm -f "$(node_dir "$n")/kafka.pid"
      echo "kafka-cluster: node $n not running"
      continue
    fi
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
      [[ -z $(our_pid "$n") ]] && break
      sleep 0.1
    done
    if [[ -n $(our_pid "$n") ]]; then
      echo "kafka-cluster: node $n did not exit $STOP_TIMEOUT s after SIG$sig, sending SIGKILL" >&2
      kill -KILL "${pids[$n]}" 2>/dev/null || true
      while [[ -n $(our_pid "$n") ]]; do sleep 0.1; done
    fi
    rm -f "$(node_dir "$n")/kafka.pid"
    echo "kafka-cluster: node $n stopped (SIG$sig, pid ${pids[$n]})"
  done
}

stop() {
  (($# > 0)) || set -- "${NODES[@]}"
  for n in "$@"; do check_node "$n"; done
  take_lock
  stop_locked "$@"
}

status() {
  local n pid
  for n in "${NODES[@]}"; do
    pid=$(our_pid "$n")
    if [[ -n $pid ]]; then
      echo "kafka-cluster: node $n running (pid $pid, 127.0.0.1:$(broker_port "$n"))"
    else
      echo "kafka-cluster: node $n not running"
    fi
  done
}

cmd=${1:-}
(($# > 0)) && shift
case $cmd in
  start) start "$@" ;;
  stop) stop "$@" ;;
  kill)
    (($# > 0)) || die "kill needs the node(s) to kill"
    SIGNAL=KILL stop "$@"
    ;;
  status) status ;;
  bootstrap) bootstrap ;;
  *)
    echo "usage: $0 {start [NODE ...]|stop [NODE ...]|kill NODE ...|status|bootstrap}" >&2
    exit 2
    ;;
esac
