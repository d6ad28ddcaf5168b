#!/usr/bin/env bash
# Masked copies, measured (issue 17): pg_dump of one generated database, direct to PostgreSQL
# and through veild with a `fake` profile (every PII column under a column rule, free text
# scanned), in one run on this machine. Prints the database size, seconds and MB/s of each
# dump, the ratio, veild's peak RSS, and checks the masked dump holds no seeded raw email.
# Everything runs on loopback in a temporary folder and is removed at the end.
#
#   sudo tools/bench/dump_bench.sh                 # after tools/setup.sh and a build
#   ROWS=4000000 FORMAT=c tools/bench/dump_bench.sh
#   CLONE=1 tools/bench/dump_bench.sh              # also pg_dump | psql vs `veilctl clone`
#
# ROWS (default 2,000,000: about 400 MB on disk) sets the size; FORMAT is pg_dump's -F (p, c
# or d; c and d run with -Z0 so client-side compression does not hide the proxy's cost, d with
# -j JOBS, default 2). PERF=FILE
# records veild's CPU profile (perf record -g) during its dump.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
rows="${ROWS:-2000000}"
format="${FORMAT:-p}"
veild_bin="${VEILD_BIN:-build/agent/veild}"
source tools/bench/lib.sh
bench_init veil-dump-bench
pg_port="$(free_port)"; veil_port="$(free_port)"
start_pg "$pg_port"
sql() { psql -h 127.0.0.1 -p "$pg_port" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
sql -d postgres -c "CREATE DATABASE bench"
echo "generating $rows customers ..." >&2
sql -d bench <<SQL
CREATE TABLE customers (
  id        bigint PRIMARY KEY,
  full_name varchar(40) NOT NULL,
  email     varchar(64) NOT NULL UNIQUE,
  phone     varchar(14),
  ssn       varchar(11),
  card      varchar(19),
  born      varchar(10),
  notes     text,
  amount    numeric(10,2)
);
INSERT INTO customers
SELECT n,
       (ARRAY['Margaret','Tobias','Aiko','Ingrid','Rafael','Priya','Dmitri','Lucia'])[1 + n % 8]
         || ' ' ||
       (ARRAY['Okonkwo','Lindqvist','Tanaka','Adeyemi','Quintero','Volkov','Mensah'])[1 + n % 7],
       'customer' || n || '@acme-mail.com',
       '(' || (201 + n % 700) || ') ' || (200 + n % 700) || '-' || lpad((n % 10000)::text, 4, '0'),
       lpad((1 + n % 665)::text, 3, '0') || '-' || lpad((1 + n % 99)::text, 2, '0') || '-'
         || lpad((1 + n % 9999)::text, 4, '0'),
       '4111 1111 1111 1111',
       (1940 + n % 60) || '-' || lpad((1 + n % 12)::text, 2, '0') || '-'
         || lpad((1 + n % 28)::text, 2, '0'),
       'order ' || n || ' shipped in two parcels; customer asked for a paper invoice',
       (n % 100000) / 100.0
FROM generate_series(1, $rows) n;
CREATE TABLE orders AS
SELECT n AS id, 'customer' || (1 + n % $rows) || '@acme-mail.com' AS customer_email,
       (n % 9999) / 100.0 AS amount
FROM generate_series(1, $rows) n;
VACUUM ANALYZE;
SQL
size_mb=$(sql -d bench -At -c "SELECT pg_database_size('bench') / 1048576")

head -c 32 /dev/urandom >"$work/mask.key"; chmod 600 "$work/mask.key"
mkdir -p "$work/state" "$work/run"
cat >"$work/veil.yaml" <<YAML
agent: {state_dir: $work/state, control_socket: $work/run/veil.sock, metrics_listen: "", redirect: "off"}
endpoints:
  - {name: bench-db, protocol: postgres, upstream: 127.0.0.1:$pg_port, listen: 127.0.0.1:$veil_port,
     access: open, tls: {client: disable, upstream: disable}, masking: sandbox}
masking:
  key_file: $work/mask.key
  profiles:
    sandbox:
      entities: all
      strategies: {default: fake}
      columns:
        - {match: "*.full_name", entity: PERSON_NAME}
        - {match: "*.email", entity: EMAIL}
        - {match: "*.customer_email", entity: EMAIL}
        - {match: "*.phone", entity: PHONE}
        - {match: "*.ssn", entity: US_SSN}
        - {match: "*.card", entity: CREDIT_CARD}
        - {match: "*.born", entity: DATE_OF_BIRTH}
events:   # on, as in production
  sinks: [{type: file, path: $work/events.jsonl}]
YAML
"$veild_bin" --config "$work/veil.yaml" >"$work/veild.log" 2>&1 &
veild_pid=$!
pids+=($veild_pid)
wait_port "$veil_port"

dump() {  # port out -> seconds
  local t0 t1 extra=()
  [ "$format" = c ] && extra=(-Z0)
  [ "$format" = d ] && extra=(-Z0 -j "${JOBS:-2}")
  t0=$(date +%s.%N)
  env -u PGHOST -u PGPORT pg_dump -h 127.0.0.1 -p "$1" -U postgres -d bench -F "$format" \
    "${extra[@]}" --no-owner -f "$2"
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
echo "dumping ..." >&2
direct_s=$(dump "$pg_port" "$work/direct.dump")
if [ -n "${PERF:-}" ]; then  # PERF=file.data: veild's CPU profile during its dump
  perf record -q --call-graph dwarf,16384 -F 499 -p "$veild_pid" -o "$PERF" >/dev/null 2>&1 &
  perf_pid=$!
  sleep 0.5
fi
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
veild_cpu0=$(cpu_ticks "$veild_pid")
veild_s=$(dump "$veil_port" "$work/veild.dump")
veild_cpu_s=$(echo "($(cpu_ticks "$veild_pid") - $veild_cpu0) / $(getconf CLK_TCK)" | bc -l)
if [ -n "${PERF:-}" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
direct_mb=$(( $(du -sb "$work/direct.dump" | cut -f1) / 1048576 ))
veild_mb=$(( $(du -sb "$work/veild.dump" | cut -f1) / 1048576 ))
raw=$( (grep -rc 'customer1234@acme-mail.com' "$work/veild.dump" || true) | awk -F: '{n += $NF} END {print n + 0}')
dups=n/a
if [ "$format" = p ]; then  # UNIQUE(email) over the surrogates: would the copy restore?
  dups=$(awk -F'\t' '/^COPY public.customers /{on=1; next} /^\\\.$/{on=0} on {print $3}' \
    "$work/veild.dump" | sort | uniq -d | wc -l)
fi

printf '\ndatabase: %d MB on disk (%d customers, %d orders), pg_dump -F%s\n' \
  "$size_mb" "$rows" "$rows" "$format"
printf '%-8s %10s %10s %10s\n' path seconds "dump MB" "MB/s"
printf '%-8s %10.1f %10d %10.1f\n' direct "$direct_s" "$direct_mb" "$(echo "$direct_mb / $direct_s" | bc -l)"
printf '%-8s %10.1f %10d %10.1f\n' veild "$veild_s" "$veild_mb" "$(echo "$veild_mb / $veild_s" | bc -l)"
printf 'throughput through veild: %.2fx direct (goal >= 0.70)\n' "$(echo "$direct_s / $veild_s" | bc -l)"
printf 'veild CPU during its dump: %.1f s (%.0f%% of one core)\n' "$veild_cpu_s" \
  "$(echo "100 * $veild_cpu_s / $veild_s" | bc -l)"
printf 'veild peak RSS: %d KiB\n' "$(awk '/VmHWM/ {print $2}' /proc/$veild_pid/status)"
printf 'seeded raw email in the masked dump: %d occurrence(s)\n' "$raw"
printf 'duplicate email surrogates (UNIQUE column): %s\n' "$dups"

if [ -n "${CLONE:-}" ]; then  # CLONE=1: into a second server, pg_dump | psql vs veilctl clone
  veilctl_bin="${VEILCTL_BIN:-build/tools/veilctl/veilctl}"
  sandbox_port="$(free_port)"
  PG_DIR=sandbox start_pg "$sandbox_port"
  tsql() { psql -h 127.0.0.1 -p "$sandbox_port" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
  tsql -d postgres -c "CREATE DATABASE direct" -c "CREATE DATABASE cloned"
  t0=$(date +%s.%N)
  env -u PGHOST -u PGPORT pg_dump -h 127.0.0.1 -p "$pg_port" -U postgres -d bench --no-owner \
    --no-privileges | tsql -d direct --single-transaction >/dev/null
  copy_s=$(echo "$(date +%s.%N) - $t0" | bc -l)
  t0=$(date +%s.%N)
  env -u PGHOST -u PGPORT "$veilctl_bin" clone --config "$work/veil.yaml" bench-db \
    "host=127.0.0.1 port=$sandbox_port user=postgres dbname=cloned" --database bench \
    --user postgres >"$work/clone.out" 2>"$work/clone.err" || { cat "$work/clone.err" >&2; exit 1; }
  clone_s=$(echo "$(date +%s.%N) - $t0" | bc -l)
  printf '\ninto a second server (%d rows in all):\n' "$((2 * rows))"
  printf '%-28s %8.1f s %10.0f rows/s\n' "pg_dump | psql, direct" "$copy_s" \
    "$(echo "2 * $rows / $copy_s" | bc -l)"
  printf '%-28s %8.1f s %10.0f rows/s (%.2fx direct)\n' "veilctl clone" "$clone_s" \
    "$(echo "2 * $rows / $clone_s" | bc -l)" "$(echo "$copy_s / $clone_s" | bc -l)"
fi
