# A PostgreSQL of its own, for the demo (and by hand): Debian's PostgreSQL 15 in a folder, run
# as the `postgres` user on a unix socket only (no TCP port), with user `micado` and a random
# password that goes through 0600 files, never an argument. Sourced; stopped by its pid.
#
#   postgres_up   DIR      initdb in DIR/pg and start it; socket folder DIR/pg/run,
#                          password in DIR/pg/password (0600), database `micado` made
#   postgres_down DIR      stop it (the pid of its pid file, if still postgres), remove DIR/pg

postgres_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

postgres_up() {
  local dir=$1/pg bin
  bin=$(postgres_bin)
  [ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed (scripts/install-deps.sh installs it)" >&2; return 1; }
  # The server runs as `postgres`: every folder above DIR/pg must let it pass.
  local up=$1
  while [ "$up" != / ] && [ "$up" != . ] && [ -n "$up" ]; do
    [ "$(( 0$(stat -c %a "$up") & 1 ))" = 1 ] || { echo "postgres_up: $up does not let the postgres user pass (chmod o+x)" >&2; return 1; }
    up=$(dirname "$up")
  done
  mkdir -p "$dir/run" && chmod 700 "$dir"
  (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$dir/password")
  chown -R postgres:postgres "$dir"
  setpriv --reuid=postgres --regid=postgres --clear-groups -- "$bin/initdb" -D "$dir/data" -U micado \
    --pwfile="$dir/password" --auth=scram-sha-256 -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; return 1; }
  setsid setpriv --reuid=postgres --regid=postgres --clear-groups -- "$bin/postgres" -D "$dir/data" -k "$dir/run" \
    -c listen_addresses= >"$dir/server.log" 2>&1 &
  disown  # stopped by its pid file at teardown
  for _ in $(seq 200); do
    [ "$(tail -1 "$dir/data/postmaster.pid" 2>/dev/null | tr -d ' ')" = ready ] && break
    sleep 0.1
  done
  [ "$(tail -1 "$dir/data/postmaster.pid" 2>/dev/null | tr -d ' ')" = ready ] || { tail -20 "$dir/server.log" >&2; return 1; }
  PGPASSWORD=$(cat "$dir/password") psql -X -q -h "$dir/run" -U micado -d postgres -c "CREATE DATABASE micado" >/dev/null
}

postgres_down() {
  local dir=$1/pg pid
  [ -f "$dir/data/postmaster.pid" ] || { rm -rf "$dir"; return 0; }
  pid=$(head -1 "$dir/data/postmaster.pid")
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ]; then
    kill -INT "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$dir"
}
