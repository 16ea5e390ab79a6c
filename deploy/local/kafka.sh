#!/usr/bin/env bash
# Local single-node Kafka (KRaft: broker + controller in one JVM) without Docker.
#
#   deploy/local/kafka.sh fetch    resolve the broker jars with Maven (once)
#   deploy/local/kafka.sh start    start the broker if it is not running yet
#   deploy/local/kafka.sh stop     stop the broker started by this script
#   deploy/local/kafka.sh status   print whether it runs (always exits 0)
#
# State lives in $PARS_LOCAL_DIR/kafka (default <repo>/.local/kafka): libs/,
# data/, server.properties, log4j2.properties, cluster.id, kafka.log, kafka.pid.
# Port: $PARS_LOCAL_KAFKA_PORT (default 19092); the KRaft controller listens on
# $PARS_LOCAL_KAFKA_CONTROLLER_PORT (default port+1). Both on 127.0.0.1 only.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO_DIR=$(cd "$SCRIPT_DIR/../.." && pwd -P)
POM="$SCRIPT_DIR/kafka/pom.xml"

LOCAL_DIR=${PARS_LOCAL_DIR:-$REPO_DIR/.local}
mkdir -p "$LOCAL_DIR"
LOCAL_DIR=$(cd "$LOCAL_DIR" && pwd -P) # absolute: the broker must not depend on our cwd
STATE="$LOCAL_DIR/kafka"
LIBS="$STATE/libs"
DATA="$STATE/data"
PROPS="$STATE/server.properties"
LOG4J="$STATE/log4j2.properties"
TOOLS_LOG4J="$STATE/log4j2-tools.properties"
LOG="$STATE/kafka.log"
PIDFILE="$STATE/kafka.pid"
STAMP="$STATE/libs.stamp"
CLUSTER_ID_FILE="$STATE/cluster.id"

PORT=${PARS_LOCAL_KAFKA_PORT:-19092}
CPORT=${PARS_LOCAL_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}
START_TIMEOUT=${PARS_LOCAL_KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=30

JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
# shellcheck source=kafka-sizing.sh
source "$SCRIPT_DIR/kafka-sizing.sh"

die() {
  echo "kafka: $*" >&2
  exit 1
}

# One kafka.sh at a time per state folder (e.g. two terminals running `start`).
# Children that outlive us (the broker) must not inherit fd 9, or they would
# hold the lock forever: see the 9>&- on the launch below.
take_lock() {
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  flock -w 300 9 || die "another kafka.sh is busy with $STATE (lock held for 5 min)"
}

# Pid of the broker we started, if it is alive; empty otherwise. The command
# line must match, so a recycled pid of some other process is never "ours"
# (and a zombie, whose cmdline is empty, counts as dead).
our_pid() {
  local pid cmdline
  [[ -s $PIDFILE ]] || return 0
  pid=$(<"$PIDFILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 0
  if [[ $cmdline == *kafka.Kafka* && $cmdline == *"$PROPS"* ]]; then
    echo "$pid"
  fi
}

# True if something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

pom_hash() {
  sha256sum "$POM" | cut -d' ' -f1
}

fetch() {
  local hash tmp started
  hash=$(pom_hash)
  if [[ -d $LIBS && -s $STAMP && $(<"$STAMP") == "$hash" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (Debian: apt-get install -y maven)"
  echo "kafka: resolving broker jars with Maven (once; see $STATE/fetch.log)"
  started=$SECONDS
  # Resolve into a scratch folder and swap it in only on success, so an
  # interrupted fetch never leaves a half-filled libs/ that looks complete.
  tmp="$STATE/libs.tmp"
  rm -rf "$tmp"
  if ! mvn -B -q -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$STATE/fetch.log" 2>&1; then
    tail -n 40 "$STATE/fetch.log" >&2
    rm -rf "$tmp"
    die "Maven could not resolve the jars of $POM"
  fi
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  echo "$hash" >"$STAMP"
  echo "kafka: jars ready in $LIBS ($((SECONDS - started)) s)"
  if [[ -n $(our_pid) ]]; then
    echo "kafka: note: the running broker still uses the old jars until a restart"
  fi
}

write_config() {
  # Rewritten on every start so a change of port or of this script applies.
  cat >"$PROPS" <<EOF
# Written by deploy/local/kafka.sh on every start; edits here are lost.
# A single combined KRaft node for local development and tests.
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
# Static quorum of one voter (ourselves): voters come from this file, not from
# the formatted log, so changing the controller port later needs no reformat.
controller.quorum.voters=1@127.0.0.1:$CPORT
log.dirs=$DATA
# The project creates its topics explicitly; a typo must fail, not create one.
auto.create.topics.enable=false
num.partitions=6
# One broker: internal topics cannot have more than one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Consumers in tests should get partitions at once, not after 3 s.
group.initial.rebalance.delay.ms=0
# Idle cost: the active controller appends a no-op record to the metadata log every 500 ms by default (each one
# written, flushed and replayed by the broker); one node has no follower that needs them that often.
metadata.max.idle.interval.ms=5000
# Threads for this machine's cores (kafka-sizing.sh).
$(kafka_thread_properties)
EOF

  # Kafka 4 logs through log4j2. Everything goes to stdout, which start()
  # sends to kafka.log (also catching JVM errors printed before log4j is up).
  cat >"$LOG4J" <<'EOF'
# Written by deploy/local/kafka.sh on every start; edits here are lost.
status = warn
name = pars-local-kafka
# Without this, log4j's own JVM shutdown hook races Kafka's shutdown logging and
# prints "Unable to register Log4j shutdown hook because JVM is shutting down".
# The console appender flushes every line, so there is nothing to lose.
shutdownHook = disable
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
# one line per request at INFO would drown everything else
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF

  # For the one-shot tools (StorageTool): warnings only, to stderr, so their
  # stdout (e.g. the generated cluster id) is not mixed with INFO lines.
  cat >"$TOOLS_LOG4J" <<'EOF'
# Written by deploy/local/kafka.sh on every start; edits here are lost.
status = warn
name = pars-local-kafka-tools
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

format_storage() {
  local cid
  # meta.properties is written by the format step: its presence means formatted.
  [[ -f $DATA/meta.properties ]] && return 0
  if [[ ! -s $CLUSTER_ID_FILE ]]; then
    cid=$("$JAVA" -cp "$LIBS/*" -Dlog4j2.configurationFile="$TOOLS_LOG4J" \
      kafka.tools.StorageTool random-uuid | tail -n 1)
    # a cluster id is 16 random bytes in URL-safe base64: 22 characters
    [[ $cid =~ ^[A-Za-z0-9_-]{22}$ ]] || die "unexpected cluster id from StorageTool: $cid"
    echo "$cid" >"$CLUSTER_ID_FILE"
  fi
  cid=$(<"$CLUSTER_ID_FILE")
  echo "kafka: formatting $DATA (cluster id $cid)"
  "$JAVA" -cp "$LIBS/*" -Dlog4j2.configurationFile="$TOOLS_LOG4J" \
    kafka.tools.StorageTool format -t "$cid" -c "$PROPS" >"$STATE/format.log" 2>&1 || {
    cat "$STATE/format.log" >&2
    die "formatting $DATA failed"
  }
}

start() {
  local pid started i p
  take_lock
  pid=$(our_pid)
  if [[ -n $pid ]]; then
    echo "kafka: already running (pid $pid, 127.0.0.1:$PORT)"
    return 0
  fi
  rm -f "$PIDFILE"
  command -v "$JAVA" >/dev/null || die "java not found (Kafka 4 needs Java 17+)"
  fetch

  # Our broker is not running, so anything answering on these ports is not ours.
  for p in "$PORT" "$CPORT"; do
    if port_in_use "$p"; then
      die "port 127.0.0.1:$p is taken by another process (not started by kafka.sh); free it or set PARS_LOCAL_KAFKA_PORT / PARS_LOCAL_KAFKA_CONTROLLER_PORT"
    fi
  done

  mkdir -p "$DATA"
  write_config
  format_storage

  # A fresh kafka.log per start: readiness is detected by grepping it, so an
  # old "Kafka Server started" line must not count. Keep one previous log.
  [[ -f $LOG ]] && mv -f "$LOG" "$LOG.1"
  started=$SECONDS
  # setsid -f: the broker gets its own session and process group, so Ctrl-C
  # (SIGINT to the terminal's foreground group) and the terminal's SIGHUP never
  # reach it. The inner bash records its own pid, which `exec` hands on to java
  # (with -f, $! would be setsid's pid, not the broker's). 9>&- drops our lock.
  # A 1 GB heap: each partition the broker keeps costs heap, and a developer's data folder outlives every
  # run (test sessions drop their own topics, but a killed one cannot); 512 MB ran out at ~10,000 partitions.
  # shellcheck disable=SC2016,SC2046 # $$ and $1 are for the inner bash; the GC options are words
  setsid -f bash -c 'echo $$ >"$1"; shift; exec nohup "$@"' kafka-launch "$PIDFILE" \
    "$JAVA" -Xms256m -Xmx1g $(kafka_gc_options) \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$LOG4J" \
    -cp "$LIBS/*" kafka.Kafka "$PROPS" \
    </dev/null >>"$LOG" 2>&1 9>&-

  for ((i = 0; i < 50; i++)); do
    [[ -s $PIDFILE ]] && break
    sleep 0.1
  done
  [[ -s $PIDFILE ]] || die "the broker did not start (no pid file); see $LOG"
  pid=$(<"$PIDFILE")

  # An open port is not enough (the socket server binds before the broker has
  # caught up with the metadata log): wait for the line that KafkaRaftServer
  # logs once the broker and controller are fully up.
  while ((SECONDS - started < START_TIMEOUT)); do
    if grep -q 'Kafka Server started' "$LOG"; then
      echo "kafka: started on 127.0.0.1:$PORT (pid $pid, $((SECONDS - started)) s)"
      return 0
    fi
    if [[ -z $(our_pid) ]]; then
      echo "kafka: the broker exited during startup; last lines of $LOG:" >&2
      tail -n 40 "$LOG" >&2
      rm -f "$PIDFILE"
      exit 1
    fi
    sleep 0.5
  done
  echo "kafka: not up after $START_TIMEOUT s; last lines of $LOG:" >&2
  tail -n 40 "$LOG" >&2
  stop_locked >&2 # do not leave a half-started broker behind
  exit 1
}

stop_locked() {
  local pid i
  pid=$(our_pid)
  if [[ -z $pid ]]; then
    rm -f "$PIDFILE"
    echo "kafka: not running"
    return 0
  fi
  # SIGTERM = controlled shutdown (flushes logs, closes the metadata log cleanly).
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
    [[ -z $(our_pid) ]] && break
    sleep 0.1
  done
  if [[ -n $(our_pid) ]]; then
    echo "kafka: no exit $STOP_TIMEOUT s after SIGTERM, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      [[ -z $(our_pid) ]] && break
      sleep 0.1
    done
  fi
  rm -f "$PIDFILE"
  echo "kafka: stopped"
}

stop() {
  take_lock
  stop_locked
}

status() {
  local pid
  pid=$(our_pid)
  if [[ -n $pid ]]; then
    echo "kafka: running (pid $pid, 127.0.0.1:$PORT)"
  else
    echo "kafka: not running"
  fi
}

case ${1:-} in
  fetch)
    take_lock
    fetch
    ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 {fetch|start|stop|status}" >&2
    exit 2
    ;;
esac
