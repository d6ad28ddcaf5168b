#!/usr/bin/env bash
# veil's main job on an embedded default, from a fresh Debian 12 machine: installs what is
# missing (tools/setup.sh), builds, starts a throwaway PostgreSQL with sample PII, starts veild
# protecting it, and shows the same query direct (raw) and through veild (masked). Everything
# it starts lives in a temporary folder and is stopped and removed at the end.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

bash tools/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target veild veilctl

work="$(mktemp -d /tmp/veil-demo.XXXXXX)"
pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
pg_user=postgres   # PostgreSQL refuses to run as root
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pg_port="$(free_port)"; veil_port="$(free_port)"
veild_pid=""
cleanup() {
  [ -n "$veild_pid" ] && kill "$veild_pid" 2>/dev/null || true
  runuser -u "$pg_user" -- "$pgbin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

chown "$pg_user" "$work"
runuser -u "$pg_user" -- "$pgbin/initdb" -D "$work/pg" -A trust -U postgres >/dev/null
runuser -u "$pg_user" -- "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
  -o "-p $pg_port -k $work -c listen_addresses=127.0.0.1" start >/dev/null
psql -q -h 127.0.0.1 -p "$pg_port" -U postgres -f tools/demo/seed.sql

cat >"$work/veil.yaml" <<YAML
agent:
  state_dir: $work/state
  control_socket: $work/run/veil.sock
  metrics_listen: ""
  redirect: "off"
endpoints:
  - name: demo-db
    protocol: postgres
    upstream: 127.0.0.1:$pg_port
    listen: 127.0.0.1:$veil_port
    access: open
    tls: {client: disable, upstream: disable}
masking:
  key_file: $work/state/keys/mask.key
  profiles:
    default:
      strategies: {EMAIL: hash, CREDIT_CARD: partial, US_SSN: partial, default: redact}
YAML
build/agent/veild --config "$work/veil.yaml" >"$work/veild.log" 2>&1 &
veild_pid=$!
for _ in $(seq 50); do
  [ -S "$work/run/.s.PGSQL.$veil_port" ] && break
  sleep 0.1
done

query="select id, name, contact, phone, notes, born from customers order by id"
echo "== direct to PostgreSQL (port $pg_port): what veil protects"
psql -h 127.0.0.1 -p "$pg_port" -U postgres -c "$query"
echo "== through veild (port $veil_port): what a developer, a notebook or an AI agent sees"
psql -h 127.0.0.1 -p "$veil_port" -U postgres -c "$query"
echo "== a failed cast does not echo the value"
psql -h 127.0.0.1 -p "$veil_port" -U postgres -c "select contact::int from customers limit 1" 2>&1 || true
