#!/usr/bin/env bash
# veil's main job on an embedded default, from a fresh Debian 12 machine: installs what is
# missing (tools/setup.sh), builds, starts a throwaway PostgreSQL with sample PII, starts veild
# protecting it, and shows the same psql command before veild (raw) and after (masked: the eBPF
# redirect sends the database's own address into veild), the flows, and the usage event.
# Everything it starts lives in a temporary folder (and its eBPF pins in their own folder) and
# is stopped and removed at the end.
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
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

chown "$pg_user" "$work"
runuser -u "$pg_user" -- "$pgbin/initdb" -D "$work/pg" -A trust -U postgres >/dev/null
runuser -u "$pg_user" -- "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
  -o "-p $pg_port -k $work -c listen_addresses=127.0.0.1" start >/dev/null
psql -q -h 127.0.0.1 -p "$pg_port" -U postgres -f tools/demo/seed.sql

pin_dir="/sys/fs/bpf/veil-demo-$$"
cleanup() {
  [ -n "$veild_pid" ] && kill "$veild_pid" 2>/dev/null && wait "$veild_pid" 2>/dev/null || true
  build/agent/veild --remove-bpf --bpf-pin-dir "$pin_dir" >/dev/null 2>&1 || true
  runuser -u "$pg_user" -- "$pgbin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

query="select id, name, contact, phone, notes, born from customers order by id"
echo "== before veil: psql to PostgreSQL's own address (127.0.0.1:$pg_port) sees the raw rows"
psql -h 127.0.0.1 -p "$pg_port" -U postgres -c "$query"

write_config() {  # $1: ebpf | off
  cat >"$work/veil.yaml" <<YAML
agent:
  state_dir: $work/state
  control_socket: $work/run/veil.sock
  metrics_listen: ""
  redirect: $1
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
events:
  sinks:
    - {type: file, path: $work/events.jsonl}
YAML
}
start_veild() {
  build/agent/veild --config "$work/veil.yaml" --bpf-pin-dir "$pin_dir" >"$work/veild.log" 2>&1 &
  veild_pid=$!
  for _ in $(seq 100); do
    [ -S "$work/run/.s.PGSQL.$veil_port" ] && return 0
    kill -0 "$veild_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
mkdir -p "$work/run"; chmod 755 "$work" "$work/run"
write_config ebpf
if start_veild; then
  # eBPF redirects every connect to 127.0.0.1:$pg_port on this host into veild: the client
  # keeps its connection string. An unprivileged user, as a developer or an AI agent would be.
  target_port="$pg_port"; as=(runuser -u nobody --)
  echo "== veild is on: the very same psql, run by user nobody, is redirected into veild (eBPF)"
else
  echo "(eBPF redirect unavailable here: $(tail -2 "$work/veild.log" | tr '\n' ' ')"
  echo " falling back to agent.redirect: off — clients use veil's listen port)"
  write_config off
  start_veild || { cat "$work/veild.log"; exit 1; }
  target_port="$veil_port"; as=()
  echo "== through veild (port $veil_port): what a developer, a notebook or an AI agent sees"
fi
(cd /tmp && "${as[@]}" psql -h 127.0.0.1 -p "$target_port" -U postgres -c "$query")
echo "== a failed cast does not echo the value"
(cd /tmp && "${as[@]}" psql -h 127.0.0.1 -p "$target_port" -U postgres \
  -c "select contact::int from customers limit 1" 2>&1) || true
if [ "$target_port" = "$pg_port" ]; then
  echo "== veilctl flows --all: who connected, from which process, where the kernel sent it"
  build/tools/veilctl/veilctl --socket "$work/run/veil.sock" flows --all
fi
sleep 0.5
echo "== the usage event of that query (OCSF 1.3, $work/events.jsonl; no raw value in it)"
/usr/bin/python3 - "$work/events.jsonl" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
q = [e for e in events if e.get("class_uid") == 6005 and e.get("activity_id") == 4][0]
keep = {k: q[k] for k in ("class_name", "activity_name", "type_uid", "time", "actor",
                          "dst_endpoint", "query_info") if k in q}
keep["unmapped"] = {k: q["unmapped"][k] for k in ("principal", "endpoint", "rows", "masked",
                                                    "chain") if k in q["unmapped"]}
print(json.dumps(keep, indent=2))
PY
build/tools/veilctl/veilctl audit verify "$work/events.jsonl"
