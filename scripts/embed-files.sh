#!/bin/sh
# Writes files into a Swift source as base64 string literals, keyed by file name.
# Run at build by the EmbedFiles plugin: embed-files.sh OUTPUT.swift ENUM FILE...
set -eu
out=$1
name=$2
shift 2
{
  echo "// Generated at build by scripts/embed-files.sh; do not edit."
  echo "enum $name {"
  echo "    static let base64: [String: String] = ["
  for file in "$@"; do
    if [ ! -r "$file" ]; then
      echo "embed-files: cannot read $file (chart.min.js comes from Debian's libjs-chart.js: run scripts/install-deps.sh)" >&2
      exit 1
    fi
    printf '        "%s": "' "$(basename "$file")"
    base64 -w0 < "$file"
    printf '",\n'
  done
  echo "    ]"
  echo "}"
} > "$out.tmp"
mv "$out.tmp" "$out"
