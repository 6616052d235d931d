#!/usr/bin/env bash
# Packs a stripped release `voicebridge` with the shared libraries it needs beyond glibc and the
# espeak-ng data, for a load machine that has no Swift toolchain:
#   Benchmarks/bundle.sh [OUT.tar.xz]          (default .build-device/vb-bundle.tar.xz)
# On that machine:
#   tar xJf vb-bundle.tar.xz -C /tmp && export LD_LIBRARY_PATH=/tmp/bundle/lib ESPEAK_DATA_PATH=/tmp/bundle
#   python3 Benchmarks/call-load.py --binary /tmp/bundle/voicebridge --counts 1,1000,2000,3000
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.build-device/vb-bundle.tar.xz}
swift build -c release --product voicebridge
stage=$(mktemp -d)
mkdir -p "$stage/bundle/lib" "$(dirname "$out")"
cp .build/release/voicebridge "$stage/bundle/"
strip "$stage/bundle/voicebridge"
ldd .build/release/voicebridge | awk '$3 ~ /^\// {print $3}' \
  | grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' \
  | xargs -I{} cp -L {} "$stage/bundle/lib/"
data=$(dirname "$(ldconfig -p | awk '/libespeak-ng.so.1 /{print $NF; exit}')")/espeak-ng-data
cp -r "$data" "$stage/bundle/espeak-ng-data"
tar cJf "$out" -C "$stage" bundle
rm -rf "$stage"
ls -la "$out"
