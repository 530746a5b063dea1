#!/bin/sh
# Writes the dashboard's files into a Swift source as base64 string literals.
# Run at build by the EmbedDashboard plugin: embed-dashboard.sh OUTPUT.swift FILE...
set -eu
out=$1
shift
{
  echo "// Generated at build by scripts/embed-dashboard.sh from Sources/MicadoManager/Dashboard; do not edit."
  echo "enum DashboardAssets {"
  echo "    static let base64: [String: String] = ["
  for file in "$@"; do
    if [ ! -r "$file" ]; then
      echo "embed-dashboard: cannot read $file (chart.min.js comes from Debian's libjs-chart.js: run scripts/install-deps.sh)" >&2
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
