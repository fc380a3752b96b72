# A private, throwaway PostgreSQL on loopback for the tests (sourced by ./dev).
# Installs Debian's postgresql when missing (as root), runs a cluster in a
# temporary dir as the postgres user, exports VECINOS_TEST_POSTGRES_URL, and
# stops and removes it afterwards. Without root or the packages, the
# PostgreSQL tests are skipped and this says so.

PG_PORT=${VECINOS_PG_PORT:-55432}
PG_DIR=""

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

start_postgres() {
  if [ -z "$(pg_bin)" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing Debian's postgresql for the tests"
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    else
      echo "note: no PostgreSQL and no root to install it: PostgreSQL tests will be skipped"
      return 0
    fi
  fi
  local bin; bin=$(pg_bin)
  PG_DIR=$(mktemp -d /tmp/vecinos-pg.XXXXXX)
  local run=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$PG_DIR"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bin/initdb" -D "$PG_DIR/data" -U vecinos --auth=trust -E UTF8 >/dev/null
  "${run[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w start \
    -o "-h 127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off" >/dev/null
  export VECINOS_TEST_POSTGRES_URL="postgresql+psycopg://vecinos@127.0.0.1:$PG_PORT/postgres"
  trap stop_postgres EXIT
}

stop_postgres() {
  [ -n "$PG_DIR" ] || return 0
  local bin; bin=$(pg_bin)
  local run=()
  [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
  "${run[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=""
}
