#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is missing (tools/setup.sh),
# builds, runs every CTest test (labels: unit, integration, bpf, systemd), then a bounded fuzz
# run of the protocol decoders. Run as root (or with sudo) so setup can install packages; under
# CI (CI=true) tests that need root must run, not skip.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
jobs="$(nproc)"

bash tools/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure --timeout 900 -j "$jobs" -LE bpf
# The root tests (label bpf) in both states a host's /sys/fs/bpf can be in: bpffs mounted mode
# 0700, as systemd mounts it at boot, and nothing mounted (veild mounts it). Each test sets the
# state up in a mount namespace of its own (VEIL_TEST_BPFFS), so the host's stays as it is. The
# booted-systemd test (label systemd) brings its own container and runs once.
VEIL_TEST_BPFFS=mounted ctest --test-dir build --output-on-failure --timeout 900 -j "$jobs" -L bpf
VEIL_TEST_BPFFS=unmounted ctest --test-dir build --output-on-failure --timeout 900 -j "$jobs" -L bpf -LE systemd
RUNS="${FUZZ_RUNS:-100000}" JOBS="$jobs" bash tools/fuzz.sh
