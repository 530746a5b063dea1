#!/usr/bin/env bash
# Build and run every test: unit tests, and integration tests that start their own
# engines, namespaces and managers (root needed; in CI they must not skip).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
"$ROOT/scripts/install-deps.sh"
swift build --build-tests
swift test --skip-build "$@"
