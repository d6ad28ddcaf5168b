#!/usr/bin/env bash
# Installs everything veil's build, tests, benchmarks and demo need on a fresh Debian 12.
# Idempotent: safe to run again. Needs root (or sudo).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

pkgs=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  # libraries
  libhyperscan-dev libphonenumber-dev libssl-dev libyaml-cpp-dev protobuf-compiler libprotobuf-dev
  libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev libasio-dev libsystemd-dev libsqlite3-dev
  prometheus-cpp-dev libpq-dev
  # PostgreSQL's own parser for statement lineage (agent/sql/analysis.cc)
  libpg-query-dev
  # grants.notify webhooks (http and https)
  libcurl4-openssl-dev
  # eBPF: libbpf for the loader and skeletons, bpftool for vmlinux.h and skeleton generation
  libbpf-dev bpftool linux-libc-dev
  # io_uring: the eBPF tests' connect probe dials with IORING_OP_CONNECT
  liburing-dev
  # ip: the eBPF coverage tests make network namespaces and veth pairs
  iproute2
  # capsh: the eBPF tests run veild as user veil with exactly the unit's capabilities
  libcap2-bin
  # packaging (cpack -G DEB) and the unit checks; a Debian 12 container booted under systemd
  # for the service test (tests/integration/test_nspawn_service.py)
  dpkg-dev systemd systemd-container debootstrap
  # tests and benchmarks (RE2 is the conventional-regex baseline in the masker benchmark)
  libgtest-dev libgmock-dev googletest libbenchmark-dev libre2-dev clang-format
  # the libFuzzer targets (tools/fuzz.sh)
  clang libclang-rt-14-dev
  # integration tests (tests/integration): a real PostgreSQL 15, pytest for Debian's python
  postgresql-15 postgresql-client-15 openssl python3-pytest python3-psycopg2 python3-yaml
  # a second outside generator of labeled test data, Python's Faker (tests/data/pyfaker_contacts.py)
  python3-fake-factory
  # ... and a third, Ruby's Faker (tests/data/rbfaker_contacts.rb), and a fifth, Ruby's ffaker
  # (tests/data/ffaker_contacts.rb)
  ruby ruby-faker ruby-ffaker
  # ... and a fourth, PHP's Faker (tests/data/phpfaker_contacts.php)
  php-cli php-faker
  # ... and their JDBC client (tests/integration/jdbc, compiled with javac at test time)
  default-jdk-headless libpostgresql-jdbc-java
  # the proxy benchmark (tools/bench/pg_bench.sh): pgbouncer and a socat relay as references, bc
  pgbouncer bc socat
  # a real MariaDB 10.11 for the MySQL codec's server test (agent/protocol/mysql), started by the
  # test itself on a temporary datadir and port; the mariadb CLI for the MySQL client tests
  mariadb-server mariadb-client
  # ... and the MySQL integration tests' other clients (tests/integration/mysql_clients.py):
  # PyMySQL for Debian's python, MariaDB Connector/J (compiled against with javac at test time)
  python3-pymysql libmariadb-java
  # the MySQL proxy benchmark (tools/bench/mysql_bench.sh)
  sysbench
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Test-data generator (Node, @faker-js/faker pinned by package-lock.json), the
# node-postgres and mysql2 clients of the integration tests (pinned the same way), and the MCP
# clients that drive `veilctl mcp` (the official TypeScript SDK and the MCP Inspector, pinned
# too). Installed again when package-lock.json is newer than what npm last installed (a
# dependency was added), not only when node_modules is missing.
for dir in "$here/tests/data" "$here/tests/integration/node" "$here/tests/integration/mcp"; do
  [ -f "$dir/package.json" ] || continue
  (cd "$dir" && { [ node_modules/.package-lock.json -nt package-lock.json ] ||
                  npm ci --no-audit --no-fund --loglevel=error; })
done
echo "setup: done"
