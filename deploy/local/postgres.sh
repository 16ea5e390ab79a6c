#!/usr/bin/env bash
# Local PostgreSQL cluster for development and tests, without Docker and apart
# from Debian's own system cluster (which this script never starts or touches).
#
#   deploy/local/postgres.sh install   install Debian's postgresql if missing
#   deploy/local/postgres.sh start     initdb once, start, create role and database pars
#   deploy/local/postgres.sh stop      fast shutdown of our cluster
#   deploy/local/postgres.sh status    print whether it runs (always exits 0)
#
# State lives in $PARS_LOCAL_DIR/pg (default <repo>/.local/pg): data/, pg.log.
# Port: $PARS_LOCAL_PG_PORT (default 55432), on 127.0.0.1 only. The project's
# role `pars` owns database pars and logs in with a password made at the first
# start and kept in $PARS_LOCAL_DIR/pg/database.url (0600), the URL the Python
# settings read when PARS_DATABASE_URL is unset:
#   postgresql://pars:<password>@127.0.0.1:55432/pars
# The superuser postgres logs in only over the local socket, as the server's
# own OS user (peer), for this script's set-up. `start` on a running cluster,
# or one made before these rules, brings it up to them (role, ownership,
# pg_hba, settings) and reloads it.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO_DIR=$(cd "$SCRIPT_DIR/../.." && pwd -P)

LOCAL_DIR=${PARS_LOCAL_DIR:-$REPO_DIR/.local}
mkdir -p "$LOCAL_DIR"
LOCAL_DIR=$(cd "$LOCAL_DIR" && pwd -P)
PORT=${PARS_LOCAL_PG_PORT:-55432}
DB_NAME=pars
SUPERUSER=postgres
ROLE=pars
URL_FILE=$LOCAL_DIR/pg/database.url
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
  SOCKDIR=$PG_STATE
  # A unix socket path must fit in 107 bytes: if our folder is too deep, /tmp.
  if ((${#SOCKDIR} + 20 > 107)); then
    SOCKDIR=/tmp
  fi
}

# The OS user the server runs as: peer logins as the superuser are for it alone.
server_os_user() {
  if ((EUID == 0)); then
    echo "$RUN_USER"
  else
    id -un
  fi
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
  as_pg "$BIN/initdb" -D "$DATA" -U "$SUPERUSER" --auth-local=peer --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C >"$PG_STATE/initdb.log" 2>&1 || {
    cat "$PG_STATE/initdb.log" >&2
    die "initdb failed"
  }
  # Our settings live in their own file (rewritten on every start); initdb's
  # postgresql.conf only gets the include line, once.
  echo "include_if_exists = 'pars-local.conf'" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
}

write_config() {
  as_pg tee "$DATA/pars-local.conf" >/dev/null <<EOF
# Written by deploy/local/postgres.sh on every start; edits here are lost.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCKDIR'
max_connections = 200
shared_buffers = 128MB
password_encryption = 'scram-sha-256'
# A dev/test cluster: fsync stays on (no corruption after a crash), but commits
# need not wait for the WAL flush (a crash may lose the last few commits).
synchronous_commit = off
# Row values (names, dates of birth, licence IDs) stay out of this log: an
# error is logged without its statement (which carries the parameters) and
# without DETAIL/CONTEXT lines (a unique violation's DETAIL quotes the row);
# no statement, duration or parameter logging.
log_min_error_statement = panic
log_error_verbosity = terse
log_statement = 'none'
log_min_duration_statement = -1
log_min_duration_sample = -1
log_duration = off
log_parameter_max_length = 0
log_parameter_max_length_on_error = 0
EOF
  # Only the project's role, with its password, over TCP; the superuser only
  # over the socket and only as the server's OS user (map "pars").
  as_pg tee "$DATA/pg_hba.conf" >/dev/null <<'EOF'
# Written by deploy/local/postgres.sh on every start; edits here are lost.
# TYPE  DATABASE  USER      ADDRESS       METHOD
local   all       postgres                peer map=pars
local   all       all                     scram-sha-256
host    all       all       127.0.0.1/32  scram-sha-256
host    all       all       ::1/128       scram-sha-256
EOF
  printf '# Written by deploy/local/postgres.sh on every start.\npars  %s  postgres\n' "$(server_os_user)" |
    as_pg tee "$DATA/pg_ident.conf" >/dev/null
}

# psql as the superuser, over the socket, as the server's OS user.
psql_pars() {
  (cd / && PGCONNECT_TIMEOUT=10 as_pg "$BIN/psql" -X -q -v ON_ERROR_STOP=1 \
    -h "$SOCKDIR" -p "$PORT" -U "$SUPERUSER" "$@")
}

# The project's role and database, and the URL file with its password (made
# once, then kept). Also hands objects an older set-up made as postgres over to
# pars, so the services, connecting as pars, can still migrate and write them.
ensure_role() {
  local password="" old_umask
  if [[ -f $URL_FILE ]]; then
    password=$(sed -nE 's#^postgresql://[^:]+:([0-9a-f]+)@.*#\1#p' "$URL_FILE")
  fi
  if [[ -z $password ]]; then
    password=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
  fi
  # Through stdin, not argv: a password never shows in ps.
  psql_pars -d postgres <<EOF
\set password '$password'
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') AS missing \gset
\if :missing
CREATE ROLE $ROLE LOGIN;
\endif
ALTER ROLE $ROLE LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME') AS missing \gset
\if :missing
CREATE DATABASE $DB_NAME OWNER $ROLE;
\echo 'postgres: created database $DB_NAME'
\endif
ALTER DATABASE $DB_NAME OWNER TO $ROLE;
EOF
  psql_pars -d "$DB_NAME" <<EOF
DO \$\$
DECLARE
  r record;
  mine CONSTANT text := '$ROLE';
  ours CONSTANT text := 'n.nspname !~ ''^pg_'' AND n.nspname <> ''information_schema''';
BEGIN
  FOR r IN EXECUTE 'SELECT n.nspname FROM pg_namespace n WHERE n.nspowner = ''$SUPERUSER''::regrole AND ' || ours LOOP
    EXECUTE format('ALTER SCHEMA %I OWNER TO %I', r.nspname, mine);
  END LOOP;
  -- Tables take their indexes and column sequences along; then the sequences left.
  FOR r IN EXECUTE 'SELECT c.oid::regclass AS name, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = '
      || 'c.relnamespace WHERE c.relowner = ''$SUPERUSER''::regrole AND c.relkind IN (''r'', ''p'', ''v'', ''m'', '
      || '''f'') AND ' || ours LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I', CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                   WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, r.name, mine);
  END LOOP;
  FOR r IN EXECUTE 'SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace '
      || 'WHERE c.relowner = ''$SUPERUSER''::regrole AND c.relkind = ''S'' AND ' || ours LOOP
    EXECUTE format('ALTER SEQUENCE %s OWNER TO %I', r.name, mine);
  END LOOP;
  FOR r IN EXECUTE 'SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace '
      || 'WHERE p.proowner = ''$SUPERUSER''::regrole AND ' || ours LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO %I', r.name, mine);
  END LOOP;
  FOR r IN EXECUTE 'SELECT t.oid::regtype AS name FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace '
      || 'WHERE t.typowner = ''$SUPERUSER''::regrole AND t.typtype IN (''e'', ''d'', ''r'') AND ' || ours LOOP
    EXECUTE format('ALTER TYPE %s OWNER TO %I', r.name, mine);
  END LOOP;
END
\$\$;
EOF
  # Written once the role has this password, so no reader gets one it does not have yet.
  old_umask=$(umask)
  umask 077
  printf 'postgresql://%s:%s@127.0.0.1:%s/%s\n' "$ROLE" "$password" "$PORT" "$DB_NAME" >"$URL_FILE.tmp"
  umask "$old_umask"
  mv -f "$URL_FILE.tmp" "$URL_FILE"
}

start() {
  local started
  install
  setup
  choose_bindir
  if is_running; then
    # Bring a running cluster up to today's rules: settings, pg_hba, role, URL file.
    write_config
    as_pg "$BIN/pg_ctl" -D "$DATA" reload >/dev/null
    ensure_role
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
  ensure_role
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
