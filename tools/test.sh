#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is missing (tools/setup.sh),
# builds, runs every CTest test (labels: unit, integration, bpf), then a bounded fuzz run of
# the protocol decoders. Run as root (or with sudo) so setup can install packages; under CI
# (CI=true) tests that need root must run, not skip.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
jobs="$(nproc)"

bash tools/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"
RUNS="${FUZZ_RUNS:-100000}" JOBS="$jobs" bash tools/fuzz.sh
