#!/usr/bin/env bash
# Local PostgreSQL cluster for development and tests, without Docker and apart
# from Debian's own system cluster (which this script never starts or touches).
#
#   deploy/local/postgres.sh install   install Debian's postgresql if missing
#   deploy/local/postgres.sh start     initdb once, start, create database pars
#   deploy/local/postgres.sh stop      fast shutdown of our cluster
#   deploy/local/postgres.sh status    print whether it runs (always exits 0)
#
# State lives in $PARS_LOCAL_DIR/pg (default <repo>/.local/pg): data/, pg.log.
# Port: $PARS_LOCAL_PG_PORT (default 55432), on 127.0.0.1 only, trust auth:
#   postgresql://postgres@127.0.0.1:55432/pars
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO_DIR=$(cd "$SCRIPT_DIR/../.." && pwd -P)

LOCAL_DIR=${PARS_LOCAL_DIR:-$REPO_DIR/.local}
mkdir -p "$LOCAL_DIR"
LOCAL_DIR=$(cd "$LOCAL_DIR" && pwd -P)
PORT=${PARS_LOCAL_PG_PORT:-55432}
DB_NAME=pars
SUPERUSER=postgres
# PostgreSQL refuses to run as root: as root, the server and initdb run as
# this unprivileged system user (the Debian package creates it).
RUN_USER=postgres

die() {
  echo "postgres: $*" >&2
  exit 1
}

# --- installation -----------------------------------------------------------

# Newest installed server bin dir, or empty.
newest_bindir() {
  local f
  f=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null |
    sort -V | tail -n 1)
  [[ -n $f ]] && dirname "$f"
  return 0
}

install() {
  local sudo=()
  if [[ -n $(newest_bindir) ]]; then
    return 0
  fi
  ((EUID == 0)) || sudo=(sudo)
  echo "postgres: installing Debian's postgresql package"
  # Keep the package from creating (and, where services start, starting) its
  # own "main" cluster on 5432: we run our own cluster, nothing needs that one.
  # postgresql-common reads this drop-in; delete it to get the default back.
  "${sudo[@]}" mkdir -p /etc/postgresql-common/createcluster.d
  echo 'create_main_cluster = false # by pars deploy/local/postgres.sh' |
    "${sudo[@]}" tee /etc/postgresql-common/createcluster.d/50-pars-no-main-cluster.conf >/dev/null
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
  [[ -n $(newest_bindir) ]] || die "postgresql installed, but no /usr/lib/postgresql/*/bin/initdb"
}

# --- where the cluster lives --------------------------------------------------

# True if $RUN_USER can reach and write $1 (every parent must be traversable).
user_can_use() {
  if ((EUID == 0)); then
    runuser -u "$RUN_USER" -- test -x "$1" -a -w "$1" 2>/dev/null
  else
    test -x "$1" -a -w "$1"
  fi
}

ensure_run_user() {
  ((EUID == 0)) || return 0
  if ! id -u "$RUN_USER" >/dev/null 2>&1; then
    echo "postgres: creating system user $RUN_USER"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash "$RUN_USER"
  fi
}

# Sets PG_STATE (pg.log, socket, lock) and DATA. Prefers $LOCAL_DIR/pg; if the
# server user cannot reach it (e.g. the repo sits under a 0700 home of root),
# uses a folder under /var/tmp named after a hash of the repo's state path.
choose_state_dir() {
  local preferred=$LOCAL_DIR/pg hash
  hash=$(printf '%s' "$LOCAL_DIR" | sha256sum | cut -c1-12)
  local fallback=/var/tmp/pars-pg-$hash
  mkdir -p "$preferred"
  if ((EUID == 0)); then
    chown "$RUN_USER:" "$preferred"
  fi
  chmod 0700 "$preferred"
  if user_can_use "$preferred" && [[ ! -f $fallback/data/PG_VERSION ]]; then
    PG_STATE=$preferred
  else
    if [[ ! -d $fallback ]]; then
      echo "postgres: user $RUN_USER cannot reach $preferred (a parent folder is not traversable);" \
        "keeping the cluster in $fallback instead" >&2
    fi
    mkdir -p "$fallback"
    if ((EUID == 0)); then
      chown "$RUN_USER:" "$fallback"
    fi
    chmod 0700 "$fallback"
    user_can_use "$fallback" || die "user $RUN_USER cannot use $fallback either"
    PG_STATE=$fallback
  fi
  DATA=$PG_STATE/data
  LOG=$PG_STATE/pg.log
}

# Bin dir matching an existing cluster's major version (data is not portable
# across majors), else the newest installed.
choose_bindir() {
  local v
  if [[ -f $DATA/PG_VERSION ]]; then
    v=$(<"$DATA/PG_VERSION")
    BIN=/usr/lib/postgresql/$v/bin
    [[ -x $BIN/pg_ctl ]] || die "$DATA was made by PostgreSQL $v, whose server ($BIN) is not installed; install postgresql-$v or remove $DATA"
  else
    BIN=$(newest_bindir)
    [[ -n $BIN ]] || die "PostgreSQL server not installed (run: $0 install)"
  fi
}

# Run a server program as the server user (as ourselves when not root).
as_pg() {
  if ((EUID == 0)); then
    runuser -u "$RUN_USER" -- "$@"
  else
    "$@"
  fi
}

take_lock() {
  # One postgres.sh at a time; the server must not inherit fd 9 (see 9>&-).
  exec 9>"$PG_STATE/.lock"
  flock -w 300 9 || die "another postgres.sh is busy with $PG_STATE"
}

setup() {
  ensure_run_user
  choose_state_dir
  take_lock
}

is_running() {
  [[ -f $DATA/PG_VERSION ]] || return 1
  choose_bindir
  # exit 0: running; 3: not running (a stale postmaster.pid is handled too)
  as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

server_pid() {
  head -n 1 "$DATA/postmaster.pid" 2>/dev/null || true
}

port_in_use() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# --- commands ---------------------------------------------------------------

init_cluster() {
  [[ -f $DATA/PG_VERSION ]] && return 0
  echo "postgres: initdb $DATA"
  rm -rf "$DATA" # a half-made data dir from an interrupted initdb
  as_pg "$BIN/initdb" -D "$DATA" -U "$SUPERUSER" --auth=trust \
    --encoding=UTF8 --locale=C >"$PG_STATE/initdb.log" 2>&1 || {
    cat "$PG_STATE/initdb.log" >&2
    die "initdb failed"
  }
  # Trust, but only over loopback and the local socket: nothing else.
  as_pg tee "$DATA/pg_hba.conf" >/dev/null <<'EOF'
# Written by deploy/local/postgres.sh: a dev/test cluster, loopback only.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  trust
host    all       all   ::1/128       trust
EOF
  # Our settings live in their own file (rewritten on every start); initdb's
  # postgresql.conf only gets the include line, once.
  echo "include_if_exists = 'pars-local.conf'" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
}

write_config() {
  local sockdir=$PG_STATE
  # A unix socket path must fit in 107 bytes: if our folder is too deep, /tmp.
  if ((${#sockdir} + 20 > 107)); then
    sockdir=/tmp
  fi
  as_pg tee "$DATA/pars-local.conf" >/dev/null <<EOF
# Written by deploy/local/postgres.sh on every start; edits here are lost.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$sockdir'
max_connections = 200
shared_buffers = 128MB
# A dev/test cluster: fsync stays on (no corruption after a crash), but commits
# need not wait for the WAL flush (a crash may lose the last few commits).
synchronous_commit = off
EOF
}

psql_pars() {
  PGCONNECT_TIMEOUT=10 "$BIN/psql" -X -q -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" "$@"
}

start() {
  local started
  install
  setup
  choose_bindir
  if is_running; then
    echo "postgres: already running (pid $(server_pid), 127.0.0.1:$PORT)"
    return 0
  fi
  if port_in_use "$PORT"; then
    die "port 127.0.0.1:$PORT is taken by another process (not our cluster in $DATA); free it or set PARS_LOCAL_PG_PORT"
  fi
  init_cluster
  write_config
  started=$SECONDS
  # pg_ctl daemonizes the server into its own session (setsid), so Ctrl-C in
  # the terminal that ran this never reaches it. 9>&- keeps our lock private.
  as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >"$PG_STATE/pg_ctl.log" 2>&1 9>&- || {
    cat "$PG_STATE/pg_ctl.log" >&2
    echo "postgres: last lines of $LOG:" >&2
    tail -n 40 "$LOG" >&2 || true
    die "start failed"
  }
  if [[ -z $(psql_pars -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'") ]]; then
    psql_pars -d postgres -c "CREATE DATABASE $DB_NAME"
    echo "postgres: created database $DB_NAME"
  fi
  echo "postgres: started on 127.0.0.1:$PORT (pid $(server_pid), $((SECONDS - started)) s)"
}

stop() {
  setup
  if ! is_running; then
    echo "postgres: not running"
    return 0
  fi
  # fast: roll back open transactions and disconnect clients, then a clean
  # shutdown checkpoint (no recovery needed at the next start).
  as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
  echo "postgres: stopped"
}

status() {
  ensure_run_user
  choose_state_dir
  if is_running; then
    echo "postgres: running (pid $(server_pid), 127.0.0.1:$PORT, data $DATA)"
  else
    echo "postgres: not running"
  fi
}

case ${1:-} in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 {install|start|stop|status}" >&2
    exit 2
    ;;
esac
