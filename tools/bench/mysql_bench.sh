#!/usr/bin/env bash
# MySQL proxy cost, measured: sysbench oltp_read_only (10 point selects and 4 range selects per
# transaction, 4 threads) with server-side prepared statements (binary protocol, sysbench's
# default) and with plain text queries (--db-ps-mode=disable), its median latency (1 thread), and
# a 1,000,000-row SELECT read by the mariadb CLI, each run direct to MariaDB, through a plain
# socat TCP relay (the floor any proxy pays for two more sockets) and through veild (a `mysql`
# endpoint: masking on, default profile, a chained usage event per statement to a file), in one
# run on this machine; then veild's peak memory over 1M and 10M rows. Prints a table.
# Everything runs on loopback in a temporary folder and is removed at the end.
#
#   sudo tools/bench/mysql_bench.sh            # after tools/setup.sh and a build
#   SECONDS_PER_RUN=20 tools/bench/mysql_bench.sh
#   PATHS="direct socat" tools/bench/mysql_bench.sh   # without veild
#   TABLES=4 TABLE_SIZE=100000 tools/bench/mysql_bench.sh  # sysbench's data (default 4 x 50000)
#
# If veild does not come up (a build without the MySQL session refuses a `mysql` endpoint), its
# log is shown and the other paths are still measured.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
secs="${SECONDS_PER_RUN:-10}"
tables="${TABLES:-4}"
table_size="${TABLE_SIZE:-50000}"
veild_bin="${VEILD_BIN:-build/agent/veild}"
paths="${PATHS-direct socat veild}"
source tools/bench/lib.sh
bench_init veil-mysql-bench
my_port="$(free_port)"; socat_port="$(free_port)"; veil_port="$(free_port)"

start_mariadb "$my_port"
sb=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-user=sbtest --mysql-password=sbtest
    --mysql-db=sbtest --mysql-ssl=off --tables="$tables" --table-size="$table_size")
sysbench oltp_read_only "${sb[@]}" --mysql-port="$my_port" --threads=2 prepare >/dev/null

socat "TCP-LISTEN:$socat_port,bind=127.0.0.1,fork,reuseaddr,nodelay" \
  "TCP:127.0.0.1:$my_port,nodelay" >/dev/null 2>&1 &
pids+=($!)
wait_port "$socat_port"

if [[ " $paths " == *" veild "* ]]; then
  start_veild "$veild_bin" "$my_port" "$veil_port" mysql
  wait_port "$veil_port"
  if ! kill -0 "$veild_pid" 2>/dev/null || ! (exec 3<>/dev/tcp/127.0.0.1/"$veil_port") 2>/dev/null
  then
    echo "veild did not come up with a mysql endpoint; measuring without it. Its log:" >&2
    tail -5 "$work/veild.log" >&2
    paths="${paths//veild/}"
  fi
fi

sysbench_run() {  # port threads ps-mode [extra] -> sysbench's report in a file; prints its path
  local out; out="$(mktemp "$work/sb.XXXX")"
  sysbench oltp_read_only "${sb[@]}" --mysql-port="$1" --threads="$2" --db-ps-mode="$3" \
    --time="$secs" --report-interval=0 "${@:4}" run >"$out" 2>&1 || true
  echo "$out"
}
field() {  # file awk-pattern field-number -> that number, "(" and ")" stripped; "" if absent
  awk -v pat="$2" -v n="$3" '$0 ~ pat {gsub(/[()]/, "", $n); print $n; exit}' "$1"
}
big_select_s() {  # port -> seconds for a 1M-row SELECT read (streamed) by the mariadb CLI
  local t0 t1
  t0=$(date +%s.%N)
  mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$1" -u sbtest -psbtest --skip-ssl \
    --quick -B -N sbtest \
    -e "SELECT seq, CONCAT('user', seq, '@example.com'), MD5(seq) FROM seq_1_to_1000000" \
    >/dev/null || { echo nan; return; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
num() {  # value -> itself, or "nan" when a run failed (printf prints nan)
  [[ -n "$1" ]] && echo "$1" || echo nan
}
ratio() {  # a b -> a / b, or nan
  [[ "$1" != nan && "$2" != nan && -n "$1" && -n "$2" ]] && echo "$1 / $2" | bc -l || echo nan
}

declare -A T A P95 X M S ERR
for name in $paths; do
  case $name in
    direct) p=$my_port;; socat) p=$socat_port;; veild) p=$veil_port;;
    *) echo "unknown path $name" >&2; exit 2;;
  esac
  f="$(sysbench_run "$p" 4 auto)"
  T[$name]=$(num "$(field "$f" "transactions:" 3)")
  A[$name]=$(num "$(field "$f" "avg:" 2)")
  P95[$name]=$(num "$(field "$f" "95th percentile:" 3)")
  ERR[$name]=$(awk '/ignored errors:/ {print $3; exit}' "$f")
  grep -q "FATAL" "$f" && { echo "sysbench through $name failed:" >&2; grep -m3 FATAL "$f" >&2; }
  f="$(sysbench_run "$p" 4 disable)"
  X[$name]=$(num "$(field "$f" "transactions:" 3)")
  f="$(sysbench_run "$p" 1 auto --percentile=50)"
  M[$name]=$(num "$(field "$f" "50th percentile:" 3)")
  S[$name]=$(big_select_s "$p")
done

printf '\nsysbench oltp_read_only, %d tables x %d rows, %s s per run, MariaDB %s\n' "$tables" \
  "$table_size" "$secs" "$(mariadb --version | grep -o 'Distrib [^,]*' | cut -d' ' -f2)"
printf '%-8s %10s %8s %8s %8s %10s %8s %10s %10s %8s\n' path "TPS ps" "x direct" "avg ms" \
  "p95 ms" "TPS text" "x direct" "median ms" "1M rows s" "x direct"
for name in $paths; do
  printf '%-8s %10.0f %8.2f %8.2f %8.2f %10.0f %8.2f %10.2f %10.2f %8.2f\n' "$name" \
    "${T[$name]}" "$(ratio "${T[$name]}" "${T[direct]:-nan}")" "${A[$name]}" "${P95[$name]}" \
    "${X[$name]}" "$(ratio "${X[$name]}" "${X[direct]:-nan}")" "${M[$name]}" "${S[$name]}" \
    "$(ratio "${S[$name]}" "${S[direct]:-nan}")"
done
for name in $paths; do
  [[ "${ERR[$name]:-0}" == 0 ]] || printf '%s: %s ignored errors in the prepared run\n' \
    "$name" "${ERR[$name]}"
done

if [[ " $paths " == *" veild "* ]]; then
  printf 'usage events written: %d\n' "$(wc -l <"$work/events.jsonl" 2>/dev/null || echo 0)"
  for rows in 1000000 10000000; do
    mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$veil_port" -u sbtest -psbtest \
      --skip-ssl --quick -B -N sbtest \
      -e "SELECT seq, CONCAT('user', seq, '@example.com') FROM seq_1_to_$rows" >/dev/null ||
      echo "the $rows-row SELECT through veild failed" >&2
    printf 'veild peak RSS after %8d masked rows: %6d KiB\n' "$rows" \
      "$(awk '/VmHWM/ {print $2}' /proc/$veild_pid/status)"
  done
fi
