#!/usr/bin/env bash
# `micado bench VERB` on a throwaway engine and manager. Clouds: a local cloud (default),
# none (--no-clouds: launch, scale-out, exec, proxy measure the manager's own engine), or a
# local and an ec2 cloud (--ec2: moto's EC2 server on loopback, its subnet a part of the
# manager's bridge network, and `micado bench ec2-stand-in` booting what moto runs from the
# user data micado sent). Everything is stopped by pid at the end.
#
#   scripts/bench.sh [--no-clouds|--ec2] VERB [options…]
#   scripts/bench.sh --no-clouds dashboard [--containers N --instances N --trials N]   (the page in chromium)
#   BIN=path/to/micado picks a build; ENGINE_MEM_MIB sets the engine's generic memory (2048)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/network.sh"
. "$ROOT/scripts/ec2-cloud.sh"
BIN=${BIN:-$ROOT/.build/debug/micado}
EC2= CLOUDS=1
case "${1:-}" in
  --ec2) EC2=1; shift ;;
  --no-clouds) CLOUDS=; shift ;;
esac
[ $# -ge 1 ] || { echo "usage: scripts/bench.sh [--no-clouds|--ec2] VERB [options]" >&2; exit 2; }
ID=$(claim_id /tmp/micado-bench- b)
WORK=/tmp/micado-bench-$ID
trap 'rm -rf "$WORK"' EXIT  # until the full cleanup is set
export MICADO_STATE=$WORK/engines MICADO_BRIDGE=mbbench$ID
third=$(free_subnet 60 99)
export MICADO_BRIDGE_CIDR=10.213.$third.1/24
ENGINE_IP=10.213.$third.2
export MICADO_HOME=$WORK/home
PORT=$(free_port 18400 1000)
MANAGER_PID= MOTO_PID= STANDIN_PID=
cleanup() {
  set +e
  [ -n "$MANAGER_PID" ] && kill -TERM "$MANAGER_PID" 2>/dev/null && wait "$MANAGER_PID" 2>/dev/null
  ec2_cloud_down "$WORK"
  for t in "$MICADO_HOME"/instances/*/i*/teardown; do [ -f "$t" ] && bash "$t"; done
  rm -rf "/etc/docker/certs.d/10.213.$third.1:5000"
  "$ROOT/scripts/engine.sh" down "engine-$ID"
  "$ROOT/scripts/engine.sh" bridge-down
  rm -rf "$WORK"
  echo "bench teardown done" >&2
}
trap cleanup EXIT
mkdir -p "$WORK"
HOST=$("$ROOT/scripts/engine.sh" up "engine-$ID" "$ENGINE_IP" "${ENGINE_MEM_MIB:-2048}")
"$ROOT/scripts/busybox-image.sh" "$HOST" >/dev/null
"$BIN" init --docker-host "$HOST" --advertise-address "$ENGINE_IP" --port "$PORT" --no-proxy >/dev/null
[ -n "$CLOUDS" ] && cat >"$MICADO_HOME/clouds.yaml" <<YAML
clouds:
  local:
    driver: local
    network: {bridge: $MICADO_BRIDGE, bridgeCIDR: $MICADO_BRIDGE_CIDR, first: 10.213.$third.10, last: 10.213.$third.40, manager: $ENGINE_IP}
    locations:
      local: {min: 0, max: 4, headroomMiB: 0}
    flavours:
      - {name: medium, cpus: 2, memoryMiB: 512, pricePerHour: 0.018}
    applications: {node: default}
    timings: {gracePeriodSeconds: 5, bootTimeoutSeconds: 60, drainTimeoutSeconds: 20}
YAML
[ -n "$EC2" ] && ec2_cloud_up "$WORK" 4
"$BIN" manager >"$WORK/manager.log" 2>&1 &
MANAGER_PID=$!
for _ in $(seq 100); do "$BIN" events --limit 1 >/dev/null 2>&1 && break; sleep 0.1; done
if [ "$1" = dashboard ]; then
  # The page in Debian's chromium (Playwright): scripts/bench-dashboard.py; the token through its environment.
  shift
  MICADO_URL="http://127.0.0.1:$PORT" MICADO_TOKEN=$(cat "$MICADO_HOME/token") python3 "$ROOT/scripts/bench-dashboard.py" "$@"
  exit
fi
"$BIN" bench "$@" || { "$BIN" events --limit 30; [ -n "$EC2" ] && tail -20 "$WORK/stand-in.log"; exit 1; }
