# Shared by the benchmark scripts (sourced, not run): a temporary folder, free loopback ports, a
# throwaway PostgreSQL run as the postgres user, and a cleanup that stops what was started.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   bench_init veil-bench               # $work, $pgbin, cleanup on exit
#   pg_port="$(free_port)"
#   start_pg "$pg_port" -c max_connections=50
#   some_daemon & pids+=($!)            # killed at exit
pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
pids=()

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$work"
}

bench_init() {  # name -> $work, removed (with everything started) on exit
  work="$(mktemp -d "/tmp/$1.XXXXXX")"
  trap bench_cleanup EXIT
  chown postgres "$work"
}

start_pg() {  # port [extra postgres options] -> a server on 127.0.0.1:port, data in $work/pg
  local port="$1"
  shift
  runuser -u postgres -- "$pgbin/initdb" -D "$work/pg" -A trust -U postgres >/dev/null
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
    -o "-p $port -k $work -c listen_addresses=127.0.0.1 $*" start >/dev/null
}

wait_port() {  # port... -> once each accepts connections (10 s at most each)
  for p in "$@"; do
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null && break; sleep 0.1; done
  done
}
