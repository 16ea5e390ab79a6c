#!/usr/bin/env bash
# Local infrastructure for development and tests: Kafka and PostgreSQL.
#
#   deploy/local/infra.sh start  [kafka|postgres ...]   (default: both)
#   deploy/local/infra.sh stop   [kafka|postgres ...]
#   deploy/local/infra.sh status [kafka|postgres ...]
#
# A server given from outside is left alone entirely:
#   PARS_KAFKA_BOOTSTRAP_SERVERS set -> no local Kafka
#   PARS_DATABASE_URL set            -> no local PostgreSQL
# Otherwise the defaults the Python code uses are served locally:
#   Kafka 127.0.0.1:19092, PostgreSQL 127.0.0.1:55432 (the URL, with the project's
#   role and its password, in .local/pg/database.url: never printed)
#
# `start` ends with one line per server it started this time ("started: kafka",
# "started: postgres"; none for one that was already running), so a supervisor
# can later stop exactly those: `infra.sh stop kafka`. If one server fails to
# start, the ones this run started are stopped again and the exit code is 1.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
KAFKA_SH=$SCRIPT_DIR/kafka.sh
PG_SH=$SCRIPT_DIR/postgres.sh

usage() {
  echo "usage: $0 {start|stop|status} [kafka|postgres ...]" >&2
  exit 2
}

# Hide a password in a URL before printing it (user:secret@ -> user:***@).
redact() {
  sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#' <<<"$1"
}

# Which servers to act on: those named (default both), minus external ones.
want_kafka=0
want_pg=0
select_targets() {
  local t
  if (($# == 0)); then
    set -- kafka postgres
  fi
  for t in "$@"; do
    case $t in
      kafka) want_kafka=1 ;;
      postgres | pg) want_pg=1 ;;
      *) usage ;;
    esac
  done
  if ((want_kafka)) && [[ -n ${PARS_KAFKA_BOOTSTRAP_SERVERS:-} ]]; then
    echo "kafka: using $PARS_KAFKA_BOOTSTRAP_SERVERS (PARS_KAFKA_BOOTSTRAP_SERVERS is set; no local broker)"
    want_kafka=0
  fi
  if ((want_pg)) && [[ -n ${PARS_DATABASE_URL:-} ]]; then
    echo "postgres: using $(redact "$PARS_DATABASE_URL") (PARS_DATABASE_URL is set; no local cluster)"
    want_pg=0
  fi
}

start() {
  local tmp kafka_job="" kafka_rc=0 pg_rc=0 started=() s
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064 # expand $tmp now
  trap "rm -rf '$tmp'" EXIT

  # In parallel: Kafka (jar fetch + JVM start) is the slow one, PostgreSQL
  # (maybe apt-get install + initdb) runs meanwhile. Output is collected and
  # shown per server, so the two do not interleave.
  if ((want_kafka)); then
    "$KAFKA_SH" start >"$tmp/kafka" 2>&1 &
    kafka_job=$!
  fi
  if ((want_pg)); then
    "$PG_SH" start >"$tmp/pg" 2>&1 || pg_rc=$?
    cat "$tmp/pg"
    if grep -q '^postgres: started on' "$tmp/pg"; then
      started+=(postgres)
    fi
  fi
  if [[ -n $kafka_job ]]; then
    wait "$kafka_job" || kafka_rc=$?
    cat "$tmp/kafka"
    if grep -q '^kafka: started on' "$tmp/kafka"; then
      started+=(kafka)
    fi
  fi

  if ((kafka_rc != 0 || pg_rc != 0)); then
    ((kafka_rc == 0)) || echo "infra: kafka failed to start (exit $kafka_rc)" >&2
    ((pg_rc == 0)) || echo "infra: postgres failed to start (exit $pg_rc)" >&2
    # Leave nothing behind that this run started and nobody will know to stop.
    for s in "${started[@]}"; do
      echo "infra: stopping $s again (started by this run)" >&2
      if [[ $s == kafka ]]; then
        "$KAFKA_SH" stop >&2 || true
      else
        "$PG_SH" stop >&2 || true
      fi
    done
    exit 1
  fi
  for s in "${started[@]}"; do
    echo "started: $s"
  done
}

stop() {
  local rc=0
  if ((want_kafka)); then
    "$KAFKA_SH" stop || rc=1
  fi
  if ((want_pg)); then
    "$PG_SH" stop || rc=1
  fi
  return "$rc"
}

status() {
  if ((want_kafka)); then
    "$KAFKA_SH" status
  fi
  if ((want_pg)); then
    "$PG_SH" status
  fi
}

cmd=${1:-}
(($# > 0)) && shift
case $cmd in
  start | stop | status) ;;
  *) usage ;;
esac
select_targets "$@"
"$cmd"
