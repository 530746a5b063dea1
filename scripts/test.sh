#!/usr/bin/env bash
# Build and run every test: unit tests, and integration tests that start their own
# engines, namespaces and managers (root needed; in CI they must not skip).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/fetch-cloud-fixtures.sh"
# One formatter (.swift-format): code that `swift format` would change fails before the build.
swift format lint --strict --recursive --parallel Sources Tests Plugins Package.swift
swift build --build-tests
if [ $# -gt 0 ]; then
    swift test --skip-build "$@"
else
    # The one latency bound the tests keep (health within 100 ms under four parse bombs) runs
    # alone: beside the parallel suites on 2 cores it would measure their load, not the bomb's.
    swift test --skip-build --skip parseBombsDoNotDelayHealth
    swift test --skip-build --filter parseBombsDoNotDelayHealth
fi
# The API against its contract: Schemathesis on a live manager, over openapi.yaml (the whole
# run only: arguments pick tests).
if [ $# -eq 0 ]; then "$ROOT/scripts/fuzz-api.sh" --max-examples 50; fi
