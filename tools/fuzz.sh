#!/usr/bin/env bash
# Builds the libFuzzer targets with Clang (ASan + UBSan) in build-fuzz/ and runs each for a
# bounded number of executions. Exits non-zero if a target crashes; the crashing input is left
# in build-fuzz/artifacts/.
#
#   tools/fuzz.sh                 # 200000 executions per target
#   RUNS=2000000 tools/fuzz.sh    # longer
#
# Needs the Debian packages clang and libclang-rt-14-dev.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="${SOURCE_DIR:-$repo}"  # override only to build the codec alone
build="${BUILD_DIR:-$repo/build-fuzz}"
runs="${RUNS:-200000}"
jobs="${JOBS:-2}"

CC=clang CXX=clang++ cmake -S "$src" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVEIL_FUZZ=ON >/dev/null
cmake --build "$build" -j "$jobs" --target pg_decoder_fuzz mysql_decoder_fuzz

mkdir -p "$build/artifacts" "$build/corpus/pg_decoder_fuzz" "$build/corpus/mysql_decoder_fuzz"
status=0
for target in pg_decoder_fuzz mysql_decoder_fuzz; do
  exe="$(find "$build" -type f -name "$target" -perm -u+x | head -n1)"
  echo "== $target: $runs runs"
  if ! "$exe" -runs="$runs" -max_len=4096 -seed=1 \
      -artifact_prefix="$build/artifacts/$target-" "$build/corpus/$target"; then
    echo "!! $target crashed; reproducer in $build/artifacts/" >&2
    status=1
  fi
done
exit "$status"
