# Shared by the benchmark scripts (sourced, not run): a temporary folder, free loopback ports, a
# throwaway PostgreSQL run as the postgres user, and a cleanup that stops what was started.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   bench_init veil-bench               # $work, $pgbin, cleanup on exit
#   pg_port="$(free_port)"
#   start_pg "$pg_port" -c max_connections=50
#   start_pgbouncer "$pg_port" "$bouncer_port"   # $bouncer_pid
#   start_veild "$veild_bin" "$pg_port" "$veil_port"   # $veild_pid
#   start_mariadb "$my_port"            # MariaDB as the mysql user, data in $work/mariadb
#   start_veild "$veild_bin" "$my_port" "$veil_port" mysql   # a MySQL endpoint
#   some_daemon & pids+=($!)            # killed (and waited for) at exit
pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
pids=()
pg_dirs=()

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # Let them finish (mariadbd shuts down on SIGTERM) before their files go: 15 s at most.
  for p in "${pids[@]}"; do
    for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
  for d in "${pg_dirs[@]}"; do
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$d" -m fast stop >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}

bench_init() {  # name -> $work, removed (with everything started) on exit
  work="$(mktemp -d "/tmp/$1.XXXXXX")"
  trap bench_cleanup EXIT
  chown postgres "$work"
}

start_pg() {  # port [extra postgres options] -> a server on 127.0.0.1:port, data in $work/pg
  # (PG_DIR=name for a second server: data in $work/name, stopped at exit too)
  local port="$1" dir="$work/${PG_DIR:-pg}"
  shift
  runuser -u postgres -- "$pgbin/initdb" -D "$dir" -A trust -U postgres >/dev/null
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$dir" -l "$dir.log" -w \
    -o "-p $port -k $work -c listen_addresses=127.0.0.1 $*" start >/dev/null
  pg_dirs+=("$dir")
}

wait_port() {  # port... -> once each accepts connections (10 s at most each)
  for p in "$@"; do
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null && break; sleep 0.1; done
  done
}

start_pgbouncer() {  # pg_port port -> pgbouncer (session mode, trust) in front of it;
  # $bouncer_pid is the runuser that runs it (pgrep -P for pgbouncer itself)
  cat >"$work/pgbouncer.ini" <<INI
[databases]
postgres = host=127.0.0.1 port=$1
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $2
auth_type = trust
auth_file = $work/users.txt
pool_mode = session
max_client_conn = 1000
default_pool_size = 20
unix_socket_dir =
logfile = $work/pgbouncer.log
INI
  echo '"postgres" ""' >"$work/users.txt"
  chown -R postgres "$work"
  runuser -u postgres -- pgbouncer "$work/pgbouncer.ini" >/dev/null 2>&1 &
  bouncer_pid=$!
  pids+=($bouncer_pid)
}

start_mariadb() {  # port [extra mariadbd options] -> MariaDB on 127.0.0.1:port, data in
  # $work/mariadb (log: $work/mariadb-run/error.log), run as the mysql user; database sbtest and
  # user sbtest (password sbtest, mysql_native_password) for sysbench; $mariadb_pid
  local port="$1"
  shift
  # data, tmpdir, and socket/pid/log (in -run): the mysql user's
  mkdir -p "$work/mariadb" "$work/mariadb-tmp" "$work/mariadb-run"
  chown mysql:mysql "$work/mariadb" "$work/mariadb-tmp" "$work/mariadb-run"
  chmod 755 "$work"
  runuser -u mysql -- mariadb-install-db --no-defaults --datadir="$work/mariadb" \
    --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
    --innodb-log-file-size=64M >"$work/mariadb-install.log" 2>&1 ||
    { tail -20 "$work/mariadb-install.log" >&2; return 1; }
  # As the bench's other servers: durability off, data in memory (the buffer pool holds it).
  /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$work/mariadb" \
    --tmpdir="$work/mariadb-tmp" --bind-address=127.0.0.1 --port="$port" \
    --socket="$work/mariadb-run/mysqld.sock" --pid-file="$work/mariadb-run/mysqld.pid" \
    --log-error="$work/mariadb-run/error.log" --skip-name-resolve \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    --innodb-buffer-pool-size=512M --innodb-log-file-size=64M \
    --innodb-flush-log-at-trx-commit=0 --skip-innodb-doublewrite \
    --max-connections=500 "$@" >/dev/null 2>&1 &
  mariadb_pid=$!
  pids+=($mariadb_pid)
  wait_port "$port"
  mariadb --no-defaults --socket="$work/mariadb-run/mysqld.sock" --user=root <<SQL
CREATE DATABASE sbtest;
CREATE USER 'sbtest'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('sbtest');
GRANT ALL ON sbtest.* TO 'sbtest'@'%';
SQL
}

start_veild() {  # veild_bin upstream_port port [protocol, default postgres] -> veild (default
  # profile, open access, a chained usage event per statement to $work/events.jsonl, as in
  # production); $veild_pid
  cat >"$work/veil.yaml" <<YAML
agent: {state_dir: $work/state, control_socket: $work/run/veil.sock, metrics_listen: "", redirect: "off"}
endpoints:
  - {name: bench-db, protocol: ${4:-postgres}, upstream: 127.0.0.1:$2, listen: 127.0.0.1:$3,
     access: open, tls: {client: disable, upstream: disable}}
events:
  sinks: [{type: file, path: $work/events.jsonl}]
YAML
  "$1" --config "$work/veil.yaml" >"$work/veild.log" 2>&1 &
  veild_pid=$!
  pids+=($veild_pid)
}
