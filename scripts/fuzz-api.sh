#!/usr/bin/env bash
# Schemathesis against a live manager (a throwaway engine in its own namespace, a real
# store, no clouds), over openapi.yaml, with the token: no 5xx, every answer as the document
# says, the stateful launch → get → quit → remove links followed. Bounded in examples and
# time. Tears down what it started, by pid. Extra arguments go to `schemathesis run`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/network.sh"
BIN=${BIN:-$ROOT/.build/debug/micado}
ID=$(claim_id /tmp/micado-fuzz- f)
WORK=/tmp/micado-fuzz-$ID
trap 'rm -rf "$WORK"' EXIT  # until the full cleanup is set
export MICADO_STATE=$WORK/engines MICADO_BRIDGE=mbfuzz$ID
third=$(free_subnet 100 140)
export MICADO_BRIDGE_CIDR=10.213.$third.1/24
ENGINE_IP=10.213.$third.2
export MICADO_HOME=$WORK/home
PORT=$(free_port 19600 300)
MANAGER_PID=
cleanup() {
  set +e
  [ -n "$MANAGER_PID" ] && kill -TERM "$MANAGER_PID" 2>/dev/null && wait "$MANAGER_PID" 2>/dev/null
  "$ROOT/scripts/engine.sh" down "engine-$ID"
  "$ROOT/scripts/engine.sh" bridge-down
  rm -rf "$WORK"
  echo "fuzz teardown done" >&2
}
trap cleanup EXIT
mkdir -p "$WORK"
HOST=$("$ROOT/scripts/engine.sh" up "engine-$ID" "$ENGINE_IP" 2048)
"$ROOT/scripts/busybox-image.sh" "$HOST" >/dev/null
"$BIN" init --docker-host "$HOST" --advertise-address "$ENGINE_IP" --port "$PORT" --no-proxy >/dev/null
# Launches that wait give up after 5 s: the fuzzer's containers mostly cannot run.
sed -i 's/launchTimeoutSeconds: 60/launchTimeoutSeconds: 5/' "$MICADO_HOME/config.yaml"
"$BIN" manager >"$WORK/manager.log" 2>&1 &
MANAGER_PID=$!
for _ in $(seq 100); do "$BIN" events --limit 1 >/dev/null 2>&1 && break; sleep 0.1; done
# The token reaches Schemathesis through its environment, never its command line.
MICADO_TOKEN=$(cat "$MICADO_HOME/token") export MICADO_TOKEN
status=0
schemathesis --config-file "$ROOT/scripts/schemathesis.toml" run "$ROOT/openapi.yaml" --url "http://127.0.0.1:$PORT" "$@" || status=$?
kill -0 "$MANAGER_PID" 2>/dev/null || { echo "the manager died during the fuzz run; its log:" >&2; tail -30 "$WORK/manager.log" >&2; exit 1; }
[ "$status" = 0 ] || { echo "schemathesis found failures (exit $status); the manager's log:" >&2; tail -30 "$WORK/manager.log" >&2; }
exit "$status"
