#!/usr/bin/env bash
# The release build of micado: one executable with the Swift runtime and Foundation linked in
# (Package.swift adds lld, packed relocations and no exported symbols for release builds).
# Its only run-time libraries are Debian's: libc, libstdc++, SQLite, libxml2 (with its ICU and
# lzma), zlib.
#
#   scripts/release.sh   → .build-release/release/micado, and .build-release/micado stripped
#                          (SCRATCH=dir builds elsewhere); micado-bench beside it, for
#                          `micado bench …` and the clouds' stand-ins
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SCRATCH=${SCRATCH:-.build-release}
for product in micado micado-bench; do
  swift build -c release --product "$product" --static-swift-stdlib --scratch-path "$SCRATCH" "$@"
done
BIN=$SCRATCH/release/micado
strip -o "$SCRATCH/micado" "$BIN"
strip -o "$SCRATCH/micado-bench" "$SCRATCH/release/micado-bench"
echo "$BIN: $(du -m "$BIN" | cut -f1) MiB with debug information; $SCRATCH/micado: $(du -m "$SCRATCH/micado" | cut -f1) MiB stripped" >&2
