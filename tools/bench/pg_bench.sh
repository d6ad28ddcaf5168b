#!/usr/bin/env bash
# Proxy cost, measured: pgbench select-only (-S, 4 clients; simple protocol, where every
# statement has new literal text, and -M prepared), its median latency (1 client), the cost of a
# new connection (-C) and a 1,000,000-row SELECT, each run direct to PostgreSQL, through a plain
# socat TCP relay (the floor any proxy pays for two more sockets), through pgbouncer (session
# mode) and through veild (masking on, default profile, a chained usage event per statement to a
# file), in one run on this machine; then veild's peak memory over 1M and 10M rows. Prints a
# table. Everything runs on loopback in a temporary folder and is removed at the end.
#
#   sudo tools/bench/pg_bench.sh            # after tools/setup.sh and a build
#   SECONDS_PER_RUN=20 tools/bench/pg_bench.sh
#   ROUNDS=3 tools/bench/pg_bench.sh       # every path 3 times, alternating; medians
#   SESSIONS=200 tools/bench/pg_bench.sh    # then 200 concurrent sessions through veild:
#                                            # failed transactions, RSS, events lost
#   PATHS= SESSIONS=200 tools/bench/pg_bench.sh   # only that
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
secs="${SECONDS_PER_RUN:-10}"
veild_bin="${VEILD_BIN:-build/agent/veild}"
source tools/bench/lib.sh
bench_init veil-bench
pg_port="$(free_port)"; bouncer_port="$(free_port)"; veil_port="$(free_port)"
socat_port="$(free_port)"
sessions="${SESSIONS:-0}"  # >0: also run that many concurrent sessions through veild (below)
start_pg "$pg_port" -c max_connections=$((sessions > 30 ? sessions + 20 : 50))
pgbench -q -i -s 10 -h 127.0.0.1 -p "$pg_port" -U postgres postgres >/dev/null 2>&1

start_pgbouncer "$pg_port" "$bouncer_port"
socat "TCP-LISTEN:$socat_port,bind=127.0.0.1,fork,reuseaddr,nodelay" \
  "TCP:127.0.0.1:$pg_port,nodelay" >/dev/null 2>&1 &
pids+=($!)

start_veild "$veild_bin" "$pg_port" "$veil_port"
wait_port "$bouncer_port" "$veil_port" "$socat_port"

tps() {  # port mode -> TPS of pgbench -S, 4 clients
  pgbench -n -S -c 4 -j 2 -T "$secs" -M "$2" -h 127.0.0.1 -p "$1" -U postgres postgres 2>/dev/null |
    awk '/^tps/ {print $3; exit}'
}
new_connection_ms() {  # port -> ms per transaction of pgbench -S -C (a new connection per xact), per
  # client: the connection and its first statement. pgbench's own "average connection time"
  # stops at ReadyForQuery and misses what a proxy does before it runs the first statement.
  pgbench -n -S -C -c 2 -j 2 -T "$secs" -h 127.0.0.1 -p "$1" -U postgres postgres 2>/dev/null |
    awk '/^tps/ {printf "%.3f\n", 2 * 1000 / $3; exit}'
}
median_latency_us() {  # port -> median latency of pgbench -S, 1 client, from the per-xact log
  local dir; dir="$(mktemp -d "$work/lat.XXXX")"
  (cd "$dir" && pgbench -n -S -c 1 -T "$secs" -M prepared -l -h 127.0.0.1 -p "$1" -U postgres \
     postgres >/dev/null 2>&1)
  cat "$dir"/pgbench_log.* | awk '{print $3}' | sort -n |
    awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
big_select_s() {  # port -> seconds for a 1M-row SELECT read by psql
  local t0 t1
  t0=$(date +%s.%N)
  psql -h 127.0.0.1 -p "$1" -U postgres -At -X -o /dev/null \
    -c "SELECT n, 'user' || n || '@example.com', md5(n::text) FROM generate_series(1, 1000000) n"
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

paths="${PATHS-direct socat pgbouncer veild}"  # PATHS= (empty): only the many-sessions run
if [[ -n "$paths" ]]; then
# ROUNDS=N runs every path N times, the paths alternating within each round, and reports each
# measurement's median: on a shared VM one run of one path can be off by a third.
rounds="${ROUNDS:-1}"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A T P L C S all
for ((round = 1; round <= rounds; round++)); do
  for name in $paths; do
    case $name in
      direct) p=$pg_port;; socat) p=$socat_port;; pgbouncer) p=$bouncer_port;; veild) p=$veil_port;;
    esac
    all[T$name]+=" $(tps "$p" simple)"; all[P$name]+=" $(tps "$p" prepared)"
    all[L$name]+=" $(median_latency_us "$p")"; all[C$name]+=" $(new_connection_ms "$p")"
    all[S$name]+=" $(big_select_s "$p")"
  done
done
for name in $paths; do
  # shellcheck disable=SC2086  # the lists are space-separated numbers
  T[$name]=$(median ${all[T$name]}); P[$name]=$(median ${all[P$name]})
  # shellcheck disable=SC2086
  L[$name]=$(median ${all[L$name]}); C[$name]=$(median ${all[C$name]}); S[$name]=$(median ${all[S$name]})
done
((rounds > 1)) && printf '\nmedians of %d alternating rounds\n' "$rounds"

printf '\n%-10s %10s %8s %10s %8s %10s %12s %9s %8s\n' path "TPS -S" "x direct" \
  "prepared" "x direct" "median us" "-C ms/xact" "1M rows s" "x direct"
for name in $paths; do
  printf '%-10s %10.0f %8.2f %10.0f %8.2f %10.0f %12.2f %9.2f %8.2f\n' "$name" "${T[$name]}" \
    "$(echo "${T[$name]} / ${T[direct]}" | bc -l)" "${P[$name]}" \
    "$(echo "${P[$name]} / ${P[direct]}" | bc -l)" "${L[$name]}" "${C[$name]}" "${S[$name]}" \
    "$(echo "${S[$name]} / ${S[direct]}" | bc -l)"
done
printf 'veild added median latency: %.0f us (pgbouncer %.0f us, socat %.0f us)\n' \
  "$(echo "${L[veild]} - ${L[direct]}" | bc -l)" "$(echo "${L[pgbouncer]} - ${L[direct]}" | bc -l)" \
  "$(echo "${L[socat]} - ${L[direct]}" | bc -l)"
printf 'veild / socat: %.2f (simple), %.2f (prepared); veild / pgbouncer: %.2f, %.2f\n' \
  "$(echo "${T[veild]} / ${T[socat]}" | bc -l)" "$(echo "${P[veild]} / ${P[socat]}" | bc -l)" \
  "$(echo "${T[veild]} / ${T[pgbouncer]}" | bc -l)" "$(echo "${P[veild]} / ${P[pgbouncer]}" | bc -l)"
printf 'veild added per new connection (with its first statement): %.2f ms (pgbouncer %.2f, socat %.2f)\n' \
  "$(echo "${C[veild]} - ${C[direct]}" | bc -l)" "$(echo "${C[pgbouncer]} - ${C[direct]}" | bc -l)" \
  "$(echo "${C[socat]} - ${C[direct]}" | bc -l)"
printf 'usage events written: %d\n' "$(wc -l <"$work/events.jsonl")"

for rows in 1000000 10000000; do
  psql -h 127.0.0.1 -p "$veil_port" -U postgres -At -X -o /dev/null \
    -c "\\set FETCH_COUNT 100000" \
    -c "SELECT n, 'user' || n || '@example.com' FROM generate_series(1, $rows) n"
  printf 'veild peak RSS after %8d masked rows: %6d KiB\n' "$rows" \
    "$(awk '/VmHWM/ {print $2}' /proc/$veild_pid/status)"
done
fi

if ((sessions > 0)); then
  # Half of them keep their connection, half reconnect for every transaction (-C).
  half=$((sessions / 2))
  pgbench -n -S -c "$half" -j 2 -T "$secs" -h 127.0.0.1 -p "$veil_port" -U postgres postgres \
    >"$work/many-persistent.txt" 2>&1 &
  p1=$!
  pgbench -n -S -C -c "$((sessions - half))" -j 2 -T "$secs" -h 127.0.0.1 -p "$veil_port" \
    -U postgres postgres >"$work/many-reconnect.txt" 2>&1 &
  p2=$!
  wait "$p1" "$p2" || true
  sleep 1  # the writer's last batch
  done_xacts() { awk '/number of transactions actually processed/ {print $6}' "$1" | cut -d/ -f1; }
  failed() { awk '/number of failed transactions/ {print $5}' "$1"; }
  lost="$(cat "$work"/events.jsonl* | { grep -o '"lost":[0-9]*' || true; } | cut -d: -f2 | paste -sd+ | bc)"
  printf '\n%d sessions (%d persistent, %d reconnecting) for %s s through veild:\n' \
    "$sessions" "$half" "$((sessions - half))" "$secs"
  printf '  transactions: %s persistent, %s reconnecting; failed: %s, %s\n' \
    "$(done_xacts "$work/many-persistent.txt")" "$(done_xacts "$work/many-reconnect.txt")" \
    "$(failed "$work/many-persistent.txt")" "$(failed "$work/many-reconnect.txt")"
  printf '  veild peak RSS: %d KiB; usage events lost (gap records): %s\n' \
    "$(awk '/VmHWM/ {print $2}' /proc/$veild_pid/status)" "${lost:-0}"
fi
