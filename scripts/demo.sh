#!/usr/bin/env bash
# The main job, on the embedded defaults: a Docker engine in its own network namespace,
# the micado manager on it, containers launched (one from an image built from a
# tarball), reached over the network, logged, executed in, quit. Tears down everything it
# started, by pid, even when a step fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
"$ROOT/scripts/install-deps.sh"
swift build --product micado 2>&1 | grep -v -e "unhandled; explicitly declare" -e "CMakeLists.txt" >&2
BIN=$(swift build --show-bin-path)/micado

ID=d$(printf '%04x' $((RANDOM % 65536)))
export MICADO_STATE=/tmp/micado-demo-$ID/engines MICADO_BRIDGE=mbdemo$ID
for third in $(seq 10 99); do ip -4 -o addr | grep -q " 10.213.$third\." || break; done
export MICADO_BRIDGE_CIDR=10.213.$third.1/24
ENGINE_IP=10.213.$third.2
export MICADO_HOME=/tmp/micado-demo-$ID/home
PORT=$((17400 + RANDOM % 1000))
MANAGER_PID=

cleanup() {
  set +e
  [ -n "$MANAGER_PID" ] && kill -TERM "$MANAGER_PID" 2>/dev/null && wait "$MANAGER_PID" 2>/dev/null
  "$ROOT/scripts/engine.sh" down "engine-$ID"
  "$ROOT/scripts/engine.sh" bridge-down
  rm -rf "/tmp/micado-demo-$ID"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

step "engine: dockerd in netns micado-engine-$ID at $ENGINE_IP"
HOST=$("$ROOT/scripts/engine.sh" up "engine-$ID" "$ENGINE_IP" 2048)
"$ROOT/scripts/busybox-image.sh" "$HOST" >/dev/null

step "micado init + manager"
run "$BIN" init --docker-host "$HOST" --advertise-address "$ENGINE_IP" --port "$PORT"
"$BIN" manager >"/tmp/micado-demo-$ID/manager.log" 2>&1 &
MANAGER_PID=$!
for _ in $(seq 100); do "$BIN" events --limit 1 >/dev/null 2>&1 && break; sleep 0.1; done
run "$BIN" list -i

step "launch a web server (MiCADO's form: script + dashed arguments)"
NAME=$(run "$BIN" launch -i busybox:local -n demo -p 8080 -m 32m -s /bin/httpd -a -f -p 8080 -h /www)
echo "$NAME"
run curl -sf "http://$ENGINE_IP:8080/"

step "build an image from a tarball and launch it"
mkdir -p "/tmp/micado-demo-$ID/site/app"
printf 'FROM busybox:local\nCOPY index.html /www/index.html\nCMD ["httpd", "-f", "-p", "80", "-h", "/www"]\n' >"/tmp/micado-demo-$ID/site/app/Dockerfile"
echo "built by micado build" >"/tmp/micado-demo-$ID/site/app/index.html"
tar -C "/tmp/micado-demo-$ID/site" -cf "/tmp/micado-demo-$ID/app.tar" app
run "$BIN" build -n container-site -f "/tmp/micado-demo-$ID/app.tar"
SITE=$(run "$BIN" launch -i container-site -n demo -p 8081:80)
run curl -sf "http://$ENGINE_IP:8081/"

step "a container that logs; execute; copy"
LOGGER=$(run "$BIN" launch -i busybox:local -n demo -e WHO=micado -s /bin/sh -a -c 'echo hello $WHO; exec sleep 3600')
sleep 1
run "$BIN" logs -n "$LOGGER"
run "$BIN" execute -n "$NAME" -c 'echo "page served from $(hostname)" > /www/host.html'
run curl -sf "http://$ENGINE_IP:8080/host.html"
run "$BIN" list -c
run "$BIN" info -s "$SITE"

step "quit"
run "$BIN" quit -n "$LOGGER" -rm
run "$BIN" quit -n "$SITE" -rm
run "$BIN" quit -n "$NAME"
run "$BIN" list -c -a
run "$BIN" remove -n "$NAME"
run "$BIN" events --limit 12
step "done: tearing down"
