#!/usr/bin/env bash
# veil's masking engine on a shipped sample, from a fresh Debian 12 machine: installs what is
# missing (tools/setup.sh), builds, then shows the sample, what `veilctl scan` finds in it, and
# what `veilctl mask` prints with the example profile (hash for emails, partial for cards).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

bash tools/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target veilctl

sample=tools/demo/customers.txt
cfg="$(mktemp -d)/veil.yaml"
cat >"$cfg" <<YAML
masking:
  key_file: $(dirname "$cfg")/mask.key
  profiles:
    default:
      strategies: {EMAIL: hash, CREDIT_CARD: partial, US_SSN: partial, default: redact}
YAML
# hash needs the key; the agent creates it on first start, here we make a throwaway one.
head -c 32 /dev/urandom >"$(dirname "$cfg")/mask.key" && chmod 600 "$(dirname "$cfg")/mask.key"

echo "== the sample ($sample)"
cat "$sample"
echo
echo "== veilctl scan (one JSON object per finding: line, byte offsets, entity, score)"
build/tools/veilctl/veilctl scan --config "$cfg" "$sample"
echo
echo "== veilctl mask"
build/tools/veilctl/veilctl mask --config "$cfg" "$sample"
