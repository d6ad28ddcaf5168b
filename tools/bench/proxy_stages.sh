#!/usr/bin/env bash
# Where veild's CPU goes per statement, measured on the real thing: pgbench select-only (simple
# protocol: every statement has new literal text) through veild with masking and a chained usage
# event per statement to a file, one client. Reports
#   - veild's CPU per statement (user + system, from /proc/<pid>/stat over the run);
#   - that CPU split by stage, from perf's sampled call graphs (cpu-clock, DWARF unwinding): each
#     stage is the inclusive share of the functions that implement it;
#   - syscalls per statement, veild's and pgbouncer's (strace -c -f, a separate run: strace slows
#     a process down, so its run is not the one timed).
#
#   sudo tools/bench/proxy_stages.sh          # after tools/setup.sh and a build
#   SECONDS_PER_RUN=20 tools/bench/proxy_stages.sh
#   MODE=prepared tools/bench/proxy_stages.sh    # pgbench -M prepared (default: simple)
#   REPORT=/tmp/report.txt tools/bench/proxy_stages.sh   # keep the whole perf report
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
secs="${SECONDS_PER_RUN:-10}"
veild_bin="$(realpath "${VEILD_BIN:-build/agent/veild}")"
source tools/bench/lib.sh
bench_init veil-stages
pg_port="$(free_port)"; veil_port="$(free_port)"; bouncer_port="$(free_port)"
start_pg "$pg_port"
pgbench -q -i -s 10 -h 127.0.0.1 -p "$pg_port" -U postgres postgres >/dev/null 2>&1

start_veild "$veild_bin" "$pg_port" "$veil_port"
start_pgbouncer "$pg_port" "$bouncer_port"
wait_port "$veil_port" "$bouncer_port"
bouncer_pid="$(pgrep -P "$bouncer_pid" -x pgbouncer)"  # runuser's child, the one to trace

run_pgbench() {  # port seconds -> transactions
  pgbench -n -S -c 1 -T "$2" -M "${MODE:-simple}" -h 127.0.0.1 -p "$1" -U postgres postgres 2>/dev/null |
    awk '/number of transactions actually processed/ {print $NF; exit}'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# 1. CPU per statement, and the call graph of the same run.
hz="$(getconf CLK_TCK)"
t0="$(cpu_ticks "$veild_pid")"
perf record -q -e cpu-clock -F 2000 --call-graph dwarf,16384 -p "$veild_pid" \
  -o "$work/perf.data" -- sleep "$secs" >/dev/null 2>&1 &
perf_pid=$!
n="$(run_pgbench "$veil_port" "$secs")"
wait "$perf_pid" || true
t1="$(cpu_ticks "$veild_pid")"
cpu_us="$(echo "($t1 - $t0) * 1000000 / $hz / $n" | bc -l)"

# 2. Stages: inclusive share of the functions that implement each one.
perf report -i "$work/perf.data" --children --no-demangle --sort symbol --stdio 2>/dev/null |
  c++filt >"$work/report.txt" || true
[[ -n "${REPORT:-}" ]] && cp "$work/report.txt" "$REPORT"  # the whole perf report, to dig in
share() {  # regex -> the largest inclusive % among matching symbols
  grep -E '^ +[0-9.]+%' "$work/report.txt" | grep -E "$1" |
    awk '{gsub("%","",$1); if ($1 + 0 > m) m = $1 + 0} END {printf "%.1f", m}'
}
printf '\nveild, pgbench -S %s, 1 client, %s s: %d statements, %.1f us CPU per statement\n' \
  "${MODE:-simple}" "$secs" "$n" "$cpu_us"
printf '%-44s %8s %12s\n' stage "% CPU" "us/statement"
stage() {
  local pct; pct="$(share "$2")"
  printf '%-44s %8s %12.1f\n' "$1" "$pct" "$(echo "$pct * $cpu_us / 100" | bc -l)"
}
stage "client read + decode + guardrails (session)" 'ClientToUpstream'
stage "  statement analysis (libpg_query, lineage)" 'SessionAnalysis::Analyze'
stage "  guardrail classifier" 'Guardrails::Check\b|sql::Classify'
stage "upstream read + transcode + client write" 'UpstreamToClient'
stage "  row transcode and masking" 'PgTranscoder::OnBackend'
stage "  usage event build (session thread)" 'UsageReporter::Statement'
stage "event chain + write (writer thread)" 'Pipeline::Writer::Run'
stage "kernel: syscalls (all threads)" 'entry_SYSCALL_64|do_syscall_64'

# 3. Syscalls per statement, veild and pgbouncer, each over its own run.
count_syscalls() {  # pid port -> syscalls per statement
  strace -c -f -q -p "$1" -o "$work/strace.txt" &
  local sp=$!
  sleep 0.5
  local m; m="$(run_pgbench "$2" 3)"
  kill -INT "$sp"; wait "$sp" 2>/dev/null || true
  local total; total="$(awk '/^100.00/ {print $4}' "$work/strace.txt")"
  echo "$(echo "$total / $m" | bc -l) $(grep -E '^ +[0-9]' "$work/strace.txt" |
    sort -k4 -nr | awk -v m="$m" 'NR<=6 {printf "%s %.1f, ", $NF, $4/m}')"
}
read -r v_per v_top <<<"$(count_syscalls "$veild_pid" "$veil_port")"
read -r b_per b_top <<<"$(count_syscalls "$bouncer_pid" "$bouncer_port")"
printf '\nsyscalls per statement: veild %.1f (%s)\n' "$v_per" "$v_top"
printf '                        pgbouncer %.1f (%s)\n' "$b_per" "$b_top"

# 4. User and system CPU per statement, veild against pgbouncer, in alternating runs (/proc
# utime and stime of the process and its threads): on a shared VM the absolute numbers move
# by a third between runs, the difference between the two much less.
writer_ticks() {  # pid -> utime + stime of its event writer threads (named veil-ev-<sink>)
  local t=0 d
  for d in /proc/"$1"/task/*; do
    [[ "$(cat "$d/comm" 2>/dev/null)" == veil-ev-* ]] && t=$((t + $(awk '{print $14 + $15}' "$d/stat")))
  done
  echo "$t"
}
cpu_split() {  # pid port -> "user_us sys_us writer_us" per statement
  local u0 s0 u1 s1 w0 w1 m
  read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$1/stat")
  w0="$(writer_ticks "$1")"
  m="$(run_pgbench "$2" "$secs")"
  read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$1/stat")
  w1="$(writer_ticks "$1")"
  echo "$(echo "($u1 - $u0) * 1000000 / $hz / $m" | bc -l) $(echo "($s1 - $s0) * 1000000 / $hz / $m" | bc -l) $(echo "($w1 - $w0) * 1000000 / $hz / $m" | bc -l)"
}
printf '\nCPU per statement (us), alternating runs of %s s (writer: the event writer thread,\n' "$secs"
printf 'user + system, measured by itself; part of the total):\n'
printf '%-10s %8s %8s %8s %8s\n' run user system total writer
for r in 1 2; do
  for who in "veild $veild_pid $veil_port" "pgbouncer $bouncer_pid $bouncer_port"; do
    read -r name pid port <<<"$who"
    read -r u s w <<<"$(cpu_split "$pid" "$port")"
    printf '%-10s %8.1f %8.1f %8.1f %8.1f\n' "$name" "$u" "$s" "$(echo "$u + $s" | bc -l)" "$w"
  done
done
